import SealDropClient
import SealDropCrypto
import SealDropKeys
import Testing

@Suite("Routes and proxy addresses")
struct RouteTests {
    static let signingKey = SigningSecretKey.generate().publicKey

    @Test("socks5h:// with an IP address is taken; the Tor candidates are 9050, then 9150")
    func socks5h() throws {
        #expect(try SOCKSProxy(url: "socks5h://127.0.0.1:9050") == SOCKSProxy(host: "127.0.0.1", port: 9050))
        #expect(try SOCKSProxy(url: "SOCKS5H://[::1]:9150/") == SOCKSProxy(host: "::1", port: 9150))
        #expect(try SOCKSProxy(url: "socks5h://[::1]:9150").description == "socks5h://[::1]:9150")
        #expect(SOCKSProxy.torCandidates.map(\.port) == [9050, 9150])
    }

    @Test("socks5:// and SOCKS4 are refused: they would resolve the drop's name here", arguments: [
        "socks5://127.0.0.1:9050", "socks://127.0.0.1:9050", "socks4a://127.0.0.1:9050",
    ])
    func localResolution(url: String) {
        #expect(throws: RouteError.resolvesLocally(url)) { try SOCKSProxy(url: url) }
    }

    @Test("malformed proxy addresses, names and credentials are refused")
    func malformed() {
        for url in ["127.0.0.1:9050", "http://127.0.0.1:9050", "socks5h://127.0.0.1", "socks5h://127.0.0.1:0",
                    "socks5h://127.0.0.1:65536", "socks5h://127.0.0.1:９０５０", "socks5h://[::1:9050"] {
            #expect(throws: RouteError.notAProxyURL(url)) { try SOCKSProxy(url: url) }
        }
        #expect(throws: RouteError.proxyNameNotAddress("localhost")) { try SOCKSProxy(url: "socks5h://localhost:9050") }
        #expect(throws: RouteError.credentialsInURL) { try SOCKSProxy(url: "socks5h://me:pw@127.0.0.1:9050") }
    }

    @Test("without a proxy only a loopback drop is reached; an onion drop needs Tor")
    func needsTor() throws {
        let loopback = try DropAddress(host: .loopback([127, 0, 0, 1]), port: 7700, signingKey: Self.signingKey)
        guard case .direct = try Route.to(loopback, proxies: []) else { Issue.record("not direct"); return }
        let onion = try DropAddress(host: .init(name: String(repeating: "a", count: 55) + "d.onion"), port: 80, signingKey: Self.signingKey)
        #expect(throws: RouteError.needsTor(onion.host.name)) { try Route.to(onion, proxies: []) }
        guard case .socks(let proxies, _) = try Route.to(onion, proxies: SOCKSProxy.torCandidates) else { Issue.record("not socks"); return }
        #expect(proxies == SOCKSProxy.torCandidates)
    }

    @Test("each run's credentials are fresh: 32 hex digits each, never the same twice")
    func freshCredentials() {
        let all = (0..<50).map { _ in SOCKSCredentials.random() }
        #expect(Set(all.map(\.username)).count == 50)
        #expect(Set(all.map(\.password)).count == 50)
        #expect(all.allSatisfy { $0.username.count == 32 && $0.username.allSatisfy { "0123456789abcdef".utf8.contains($0) } })
        #expect(all.allSatisfy { $0.username != $0.password })
    }
}
