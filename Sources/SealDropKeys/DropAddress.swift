public import SealDropCrypto

/// Why a drop address was refused. Each case reads as a sentence a source can act on; an
/// address that is refused is never used, not even in part.
public enum DropAddressError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not of the form `sealdropaddr1…`.
    case notAnAddress
    /// The checksum does not match: a character was mistyped, or the address was cut short.
    case typo
    /// Letters of both cases: an address is all lowercase or all uppercase (as in a QR code).
    case mixedCase
    /// A version this client does not know.
    case unknownVersion(UInt8)
    /// The right checksum but the wrong number of bytes for its version and host kind.
    case wrongLength
    /// A host that is neither a Tor onion service nor loopback.
    case notOnionOrLoopback(String)
    /// A port of 0.
    case badPort
    /// The pinned signing key is not a usable Ed25519 public key.
    case badKey

    public var description: String {
        switch self {
        case .notAnAddress: "not a SealDrop drop address (expected text starting with \"sealdropaddr1\")"
        case .typo: "the drop address's checksum does not match: a character was mistyped or the address was cut short"
        case .mixedCase: "the drop address mixes upper and lower case letters: copy it again exactly"
        case .unknownVersion(let version): "the drop address has version \(version), which this program does not know: use a newer version, or check the address"
        case .wrongLength: "the drop address has the right checksum but the wrong length for its version: it was not made by sealdropd address"
        case .notOnionOrLoopback(let host): "\(host) is not a Tor onion service or loopback: a drop is reached only through Tor"
        case .badPort: "the drop address names port 0"
        case .badKey: "the drop address's signing key is not a usable Ed25519 key"
        }
    }
}

/// Where a drop is and whose it is, in one string for websites, paper and QR codes: the drop's
/// onion host and port, and the newsroom's signing key, which the client pins (every recipients
/// list the drop serves must be signed by it). <doc:KeysAndLists> specifies it. Example: `sealdropaddr1qy…` (133 characters for an onion address).
public struct DropAddress: Hashable, Sendable, CustomStringConvertible {
    /// The prefix (Bech32's human-readable part).
    public static let textPrefix = "sealdropaddr"
    /// The only version this build writes and reads.
    public static let version: UInt8 = 1

    /// Where the drop listens.
    public enum Host: Hashable, Sendable {
        /// A Tor v3 onion service: the 35 bytes whose base32 form is the 56 characters before
        /// `.onion` (the service's public key, a checksum and the version byte 3).
        case onion([UInt8])
        /// An IPv4 loopback address (127.0.0.0/8), for tests and the demo.
        case loopback([UInt8])

        /// `<56 characters>.onion` or `127.x.y.z`.
        public var name: String {
            switch self {
            case .onion(let bytes): Base32.encode(bytes) + ".onion"
            case .loopback(let bytes): bytes.map(String.init).joined(separator: ".")
            }
        }

        /// Parses a host name: a v3 onion name (either case) or an IPv4 loopback address.
        public init(name: String) throws(DropAddressError) {
            let lower = name.lowercased()
            if lower.hasSuffix(".onion") {
                let label = String(lower.dropLast(".onion".count))
                guard label.utf8.count == 56, let bytes = Base32.decode(label), bytes.count == 35, bytes[34] == 3 else {
                    throw .notOnionOrLoopback(name)
                }
                self = .onion(bytes)
                return
            }
            let parts = name.split(separator: ".", omittingEmptySubsequences: false)
            let octets = parts.compactMap { part in part.count <= 3 && part.allSatisfy(\.isASCII) ? UInt8(part) : nil }
            guard parts.count == 4, octets.count == 4, octets[0] == 127 else { throw .notOnionOrLoopback(name) }
            self = .loopback(octets)
        }
    }

    /// Where the drop listens.
    public let host: Host
    /// Its port (the onion service's virtual port).
    public let port: UInt16
    /// The newsroom's signing key: the only key a recipients list from this drop may be signed by.
    public let signingKey: SigningPublicKey

    /// An address for `host` and `port`, pinning `signingKey`.
    public init(host: Host, port: UInt16, signingKey: SigningPublicKey) throws(DropAddressError) {
        guard port != 0 else { throw .badPort }
        self.host = host
        self.port = port
        self.signingKey = signingKey
    }

    /// The text form.
    public var text: String {
        var data: [UInt8] = [Self.version]
        switch host {
        case .onion(let bytes): data += [1] + bytes
        case .loopback(let bytes): data += [2] + bytes
        }
        data += [UInt8(port >> 8), UInt8(port & 0xff)] + signingKey.rawBytes
        return Bech32.encode(prefix: Self.textPrefix, data: data)
    }

    public var description: String { text }

    /// Parses and checks an address: the checksum over the whole string first (a mistyped or
    /// truncated address is refused before anything in it is looked at), then the version,
    /// the host kind, the exact length, the port and the key.
    public init(text: String) throws(DropAddressError) {
        let trimmed = text.trimmingASCIIWhitespace()
        guard trimmed.lowercased().hasPrefix(Self.textPrefix + "1") else { throw .notAnAddress }
        let decoded: (prefix: String, data: [UInt8])
        do { decoded = try Bech32.decode(trimmed, maxLength: 200) } catch {
            // Any other failure is a character mistyped, added or lost on the way.
            throw error == .mixedCase ? .mixedCase : .typo
        }
        guard decoded.prefix == Self.textPrefix else { throw .notAnAddress }
        let data = decoded.data
        guard let version = data.first else { throw .wrongLength }
        guard version == Self.version else { throw .unknownVersion(version) }
        guard data.count >= 2 else { throw .wrongLength }
        let hostLength: Int
        switch data[1] {
        case 1: hostLength = 35
        case 2: hostLength = 4
        default: throw .notOnionOrLoopback("a host of kind \(data[1])")
        }
        guard data.count == 2 + hostLength + 2 + SigningPublicKey.byteCount else { throw .wrongLength }
        let hostBytes = Array(data[2..<2 + hostLength])
        let host: Host
        if data[1] == 1 {
            guard hostBytes[34] == 3 else { throw .notOnionOrLoopback(Base32.encode(hostBytes) + ".onion") }
            host = .onion(hostBytes)
        } else {
            guard hostBytes[0] == 127 else { throw .notOnionOrLoopback(hostBytes.map(String.init).joined(separator: ".")) }
            host = .loopback(hostBytes)
        }
        let portIndex = 2 + hostLength
        let port = UInt16(data[portIndex]) << 8 | UInt16(data[portIndex + 1])
        let key: SigningPublicKey
        do { key = try SigningPublicKey(rawBytes: Array(data[(portIndex + 2)...])) } catch { throw .badKey }
        try self.init(host: host, port: port, signingKey: key)
    }
}

/// RFC 4648 base32, lowercase, without padding: the alphabet of onion host names.
enum Base32 {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var buffer = 0, bits = 0
        for byte in bytes {
            buffer = buffer << 8 | Int(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(alphabet[(buffer >> bits) & 31])
            }
        }
        if bits > 0 { out.append(alphabet[(buffer << (5 - bits)) & 31]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes lowercase base32 without padding; nil for another character or non-zero spare bits.
    static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer = 0, bits = 0
        for character in text.utf8 {
            guard let value = alphabet.firstIndex(of: character) else { return nil }
            buffer = (buffer << 5 | value) & 0xffff
            bits += 5
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((buffer >> bits) & 0xff))
            }
        }
        guard buffer & ((1 << bits) - 1) == 0 else { return nil }
        return out
    }
}
