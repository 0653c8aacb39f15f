import Foundation
import SealDropCrypto
@testable import SealDropKeys
import Testing

@Suite("Drop addresses")
struct DropAddressTests {
    let signing = SigningSecretKey.generate().publicKey
    /// A well-formed v3 onion name: 32 key bytes, 2 checksum bytes, version 3.
    let onionName = Base32.encode([UInt8](repeating: 0x5a, count: 32) + [0x12, 0x34, 3]) + ".onion"

    @Test("an onion address round-trips: host, port and the pinned signing key; upper case (a QR code's) reads the same")
    func roundTrip() throws {
        let address = try DropAddress(host: try .init(name: onionName), port: 80, signingKey: signing)
        #expect(address.text.hasPrefix("sealdropaddr1"))
        #expect(address.text.count == 133)
        let parsed = try DropAddress(text: address.text)
        #expect(parsed == address)
        #expect(parsed.host.name == onionName)
        #expect(parsed.port == 80)
        #expect(parsed.signingKey == signing)
        #expect(try DropAddress(text: address.text.uppercased()) == address)
        #expect(try DropAddress(text: "  \(address.text)\n") == address)
    }

    @Test("a loopback address, for tests and the demo")
    func loopback() throws {
        let address = try DropAddress(host: try .init(name: "127.0.0.1"), port: 7700, signingKey: signing)
        let parsed = try DropAddress(text: address.text)
        #expect(parsed.host.name == "127.0.0.1")
        #expect(parsed.port == 7700)
    }

    @Test("every mistyped character is refused as a typo", arguments: [14, 40, 80, 127])
    func mistyped(position: Int) throws {
        let text = Array(try DropAddress(host: try .init(name: onionName), port: 80, signingKey: signing).text)
        var typo = text
        typo[position] = typo[position] == "q" ? "p" : "q"
        #expect(throws: DropAddressError.typo) { try DropAddress(text: String(typo)) }
        var swapped = text
        swapped.swapAt(position, position + 1)
        if swapped != text { #expect(throws: DropAddressError.typo) { try DropAddress(text: String(swapped)) } }
    }

    @Test("a truncated address is refused, wherever it was cut")
    func truncated() throws {
        let text = try DropAddress(host: try .init(name: onionName), port: 80, signingKey: signing).text
        for cut in [1, 2, 6, 7, 30, text.count - 14] {
            #expect(throws: DropAddressError.self, "cut by \(cut)") { try DropAddress(text: String(text.dropLast(cut))) }
        }
    }

    @Test("a clearnet host is refused, as a name and inside a well-checksummed address")
    func clearnet() throws {
        for name in ["example.com", "drop.example.org", "10.0.0.1", "192.168.1.2", "localhost", "::1", "127.0.0", "abc.onion"] {
            #expect(throws: DropAddressError.notOnionOrLoopback(name)) { try DropAddress.Host(name: name) }
        }
        // Kind 3 with a DNS name, properly checksummed: still refused.
        let data: [UInt8] = [1, 3] + Array("example.com".utf8) + [0, 80] + signing.rawBytes
        #expect(throws: DropAddressError.notOnionOrLoopback("a host of kind 3")) {
            try DropAddress(text: Bech32.encode(prefix: DropAddress.textPrefix, data: data))
        }
        // A non-loopback IPv4 address in the loopback slot.
        let outside: [UInt8] = [1, 2, 10, 0, 0, 1, 0, 80] + signing.rawBytes
        #expect(throws: DropAddressError.notOnionOrLoopback("10.0.0.1")) {
            try DropAddress(text: Bech32.encode(prefix: DropAddress.textPrefix, data: outside))
        }
    }

    @Test("an unknown version is refused by its number; wrong lengths, port 0 and other prefixes too")
    func unknownVersionAndShape() throws {
        let version2: [UInt8] = [2, 2, 127, 0, 0, 1, 0, 80] + signing.rawBytes
        #expect(throws: DropAddressError.unknownVersion(2)) {
            try DropAddress(text: Bech32.encode(prefix: DropAddress.textPrefix, data: version2))
        }
        let short: [UInt8] = [1, 2, 127, 0, 0, 1, 0, 80] + signing.rawBytes.dropLast()
        #expect(throws: DropAddressError.wrongLength) { try DropAddress(text: Bech32.encode(prefix: DropAddress.textPrefix, data: short)) }
        let portZero: [UInt8] = [1, 2, 127, 0, 0, 1, 0, 0] + signing.rawBytes
        #expect(throws: DropAddressError.badPort) { try DropAddress(text: Bech32.encode(prefix: DropAddress.textPrefix, data: portZero)) }
        #expect(throws: DropAddressError.notAnAddress) { try DropAddress(text: signing.text) }
        #expect(throws: DropAddressError.notAnAddress) { try DropAddress(text: "http://\(onionName)") }
        let text = try DropAddress(host: try .init(name: "127.0.0.1"), port: 1, signingKey: signing).text
        let mixed = String(text.prefix(20)) + text.dropFirst(20).uppercased()
        #expect(throws: DropAddressError.mixedCase) { try DropAddress(text: mixed) }
    }

    @Test("an onion name whose version byte is not 3 is refused")
    func onionVersion() throws {
        let v2ish = Base32.encode([UInt8](repeating: 0x5a, count: 32) + [0x12, 0x34, 2]) + ".onion"
        #expect(throws: DropAddressError.notOnionOrLoopback(v2ish)) { try DropAddress.Host(name: v2ish) }
    }
}

@Suite("Drop keys and list expiry")
struct DropKeyAndExpiryTests {
    @Test("a drop key file reads back to the same key; an edited public key line or a damaged seed is refused")
    func dropKeyFile() throws {
        let key = SigningSecretKey.generate()
        let text = DropKeyFile.text(for: key)
        #expect(try DropKeyFile.parse(text).publicKey == key.publicKey)
        let plain = text.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
        #expect(plain.contains("# drop public key: \(DropPublicKey(key.publicKey).text)"))
        let other = DropPublicKey(SigningSecretKey.generate().publicKey).text
        let edited = plain.replacingOccurrences(of: DropPublicKey(key.publicKey).text, with: other)
        #expect(throws: DropKeyFileError.inconsistent) { try DropKeyFile.parse(secure(edited)) }
        let damaged = plain.replacingOccurrences(of: "SEALDROP-DROP-KEY-1:", with: "SEALDROP-DROP-KEY-1:zz")
        #expect(throws: DropKeyFileError.notADropKeyFile) { try DropKeyFile.parse(secure(damaged)) }
        // Handed over where a public key belongs, it is recognised as a secret.
        #expect(throws: PublicKeyParseError.secretKeyGiven) { try DropPublicKey(text: plain) }
        #expect(throws: PublicKeyParseError.secretKeyGiven) { try PublicKey(text: plain) }
        #expect(try DropPublicKey(text: DropPublicKey(key.publicKey).text).key == key.publicKey)
    }

    private func secure(_ text: String) -> SecureBytes {
        Array(text.utf8).withUnsafeBytes { SecureBytes(copying: $0) }
    }

    @Test("a list carries its expiry, signed; clients refuse it once expired, against the key the address pins")
    func expiry() throws {
        let signer = SigningSecretKey.generate()
        let a = SecretKey.generate().publicKey
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let list = try SignedRecipients.sign(recipients: [a], serial: 1, date: now, with: signer)
        #expect(list.expires == now.addingTimeInterval(90 * 86_400))
        #expect(list.text.contains("expires: "))
        let address = try DropAddress(host: try .init(name: "127.0.0.1"), port: 7700, signingKey: signer.publicKey)
        #expect(try SignedRecipients.verifiedForUpload(list.text, address: address, now: now.addingTimeInterval(89 * 86_400)).recipients == [a])
        #expect(throws: SignedRecipientsError.self) {
            try SignedRecipients.verifiedForUpload(list.text, address: address, now: now.addingTimeInterval(90 * 86_400))
        }
        #expect(!list.expiresSoon(at: now.addingTimeInterval(75 * 86_400)))
        #expect(list.expiresSoon(at: now.addingTimeInterval(77 * 86_400)))
        // Another newsroom's address pins another key.
        let elsewhere = try DropAddress(host: try .init(name: "127.0.0.1"), port: 7700, signingKey: SigningSecretKey.generate().publicKey)
        #expect(throws: SignedRecipientsError.self) { try SignedRecipients.verifiedForUpload(list.text, address: elsewhere, now: now) }
        // The expiry is signed: moving it is a bad signature; dropping it is malformed.
        let moved = list.text.replacingOccurrences(of: "expires: 2027", with: "expires: 2037")
        #expect(moved != list.text)
        #expect(throws: SignedRecipientsError.badSignature) { try SignedRecipients.parse(moved, pinnedKey: signer.publicKey) }
        let without = list.text.split(separator: "\n").filter { !$0.hasPrefix("expires:") }.joined(separator: "\n") + "\n"
        #expect(throws: SignedRecipientsError.malformed("serial, date, expires and signing-key are required")) {
            try SignedRecipients.parse(without, pinnedKey: signer.publicKey)
        }
    }
}
