#if canImport(Glibc)
import Glibc
#endif
import Foundation
public import SealDropKeys
import SealDropCrypto

/// A SOCKS5 proxy that resolves names itself (`socks5h://`), such as Tor's: the only way the
/// client reaches a drop that is not on this machine.
public struct SOCKSProxy: Hashable, Sendable, CustomStringConvertible {
    /// The proxy's IP address, as written (`127.0.0.1`, `::1`).
    public let host: String
    /// Its port.
    public let port: Int

    /// Tor's own SOCKS port (the `tor` service), then Tor Browser's: what `--tor` tries, in order.
    public static let torCandidates = [SOCKSProxy(host: "127.0.0.1", port: 9050), SOCKSProxy(host: "127.0.0.1", port: 9150)]

    /// A proxy at `host`, an IP address, and `port`.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Reads `socks5h://HOST:PORT`, HOST an IP address (IPv6 in brackets). `socks5://` is refused:
    /// a client that asks for it would look up the drop's name itself, telling its DNS server
    /// which drop it visits. A host name for the proxy is refused too: the client resolves no
    /// name at all.
    public init(url: String) throws(RouteError) {
        let text = url.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let schemeEnd = text.range(of: "://") else { throw .notAProxyURL(text) }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "socks5h" else {
            throw scheme == "socks5" || scheme == "socks" || scheme == "socks4" || scheme == "socks4a" ? .resolvesLocally(text) : .notAProxyURL(text)
        }
        var rest = Substring(text[schemeEnd.upperBound...])
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("@") else { throw .credentialsInURL }
        let host: Substring, portText: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]"), rest[rest.index(after: close)...].hasPrefix(":") else { throw .notAProxyURL(text) }
            host = rest[rest.index(after: rest.startIndex)..<close]
            portText = rest[rest.index(close, offsetBy: 2)...]
        } else {
            guard let colon = rest.lastIndex(of: ":") else { throw .notAProxyURL(text) }
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        }
        guard let port = Int(portText), (1...65535).contains(port), portText.allSatisfy(\.isASCII) else { throw .notAProxyURL(text) }
        guard Self.isIPAddress(String(host)) else { throw .proxyNameNotAddress(String(host)) }
        self.init(host: String(host), port: port)
    }

    /// `socks5h://HOST:PORT`.
    public var description: String { host.contains(":") ? "socks5h://[\(host)]:\(port)" : "socks5h://\(host):\(port)" }

    private static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}

/// How the client reaches a drop: straight to a loopback address (tests, the demo), or through
/// a SOCKS5 proxy, with fresh credentials for each run so that Tor gives this run's connections
/// circuits of their own (Tor isolates streams by SOCKS username and password).
public enum Route: Sendable {
    /// A TCP connection to the drop's loopback address; nothing else is ever connected to directly.
    case direct
    /// Through the first of `proxies` that accepts a connection, authenticating with
    /// `credentials` (RFC 1929).
    case socks(proxies: [SOCKSProxy], credentials: SOCKSCredentials)

    /// The route to `address`: through `proxies` when any are given, else direct, which only a
    /// loopback address allows. Refused before any connection is made.
    public static func to(_ address: DropAddress, proxies: [SOCKSProxy]) throws(RouteError) -> Route {
        if !proxies.isEmpty { return .socks(proxies: proxies, credentials: .random()) }
        guard case .loopback = address.host else { throw .needsTor(address.host.name) }
        return .direct
    }
}

/// A SOCKS5 username and password (RFC 1929), random for each run: Tor accepts any and keeps
/// streams with different ones on different circuits.
public struct SOCKSCredentials: Sendable, Equatable {
    /// 1 to 255 bytes.
    public let username: [UInt8]
    /// 1 to 255 bytes.
    public let password: [UInt8]

    /// Credentials as given (tests).
    public init(username: [UInt8], password: [UInt8]) {
        precondition((1...255).contains(username.count) && (1...255).contains(password.count))
        self.username = username
        self.password = password
    }

    /// 128 random bits each, as 32 hexadecimal digits.
    public static func random() -> SOCKSCredentials {
        func hex() -> [UInt8] { Array(Hex.encode(randomBytes(count: 16)).utf8) }
        return SOCKSCredentials(username: hex(), password: hex())
    }
}

/// Why the client will not connect: each refused before any connection is attempted.
public enum RouteError: Error, Equatable, Sendable {
    /// `socks5://` (or SOCKS4): the client would have to resolve the name itself.
    case resolvesLocally(String)
    /// Not `socks5h://HOST:PORT`.
    case notAProxyURL(String)
    /// The proxy given by name rather than by IP address.
    case proxyNameNotAddress(String)
    /// `user:pass@` in the URL: the client makes fresh credentials itself.
    case credentialsInURL
    /// A drop that is not on this machine, and no proxy.
    case needsTor(String)
}
