import Foundation
import SealDropCrypto
import SealDropKeys
import Testing

@Suite("Signed recipients lists")
struct SignedRecipientsTests {
    let signer = SigningSecretKey.generate()
    let a = SecretKey.generate().publicKey, b = SecretKey.generate().publicKey

    @Test("a signed list parses back with its recipients, serial and signer")
    func roundTrip() throws {
        let list = try SignedRecipients.sign(recipients: [a, b], serial: 3, with: signer)
        let parsed = try SignedRecipients.parse(list.text, pinnedKey: signer.publicKey)
        #expect(parsed.recipients == [a, b])
        #expect(parsed.serial == 3)
        #expect(parsed.signingKey == signer.publicKey)
        #expect(try SigningPublicKey(text: signer.publicKey.text) == signer.publicKey)
    }

    @Test("a list signed by another key is refused")
    func wrongSigner() throws {
        let list = try SignedRecipients.sign(recipients: [a], serial: 1, with: SigningSecretKey.generate())
        #expect(throws: SignedRecipientsError.self) { try SignedRecipients.parse(list.text, pinnedKey: signer.publicKey) }
    }

    @Test("any edit after signing is refused", arguments: ["serial: 3", "recipient: "])
    func edited(field: String) throws {
        let list = try SignedRecipients.sign(recipients: [a, b], serial: 3, with: signer)
        let edited = field == "serial: 3"
            ? list.text.replacingOccurrences(of: "serial: 3", with: "serial: 4")
            : list.text.replacingOccurrences(of: "recipient: \(b.text)", with: "recipient: \(SecretKey.generate().publicKey.text)")
        #expect(edited != list.text)
        #expect(throws: SignedRecipientsError.badSignature) { try SignedRecipients.parse(edited, pinnedKey: signer.publicKey) }
    }

    @Test("the signer line cannot be swapped for the attacker's key, and an older serial is refused")
    func swappedSignerAndOldSerial() throws {
        let mallory = SigningSecretKey.generate()
        let forged = try SignedRecipients.sign(recipients: [a], serial: 9, with: mallory)
        #expect(throws: SignedRecipientsError.wrongSigner(expected: signer.publicKey.fingerprint, found: mallory.publicKey.fingerprint)) {
            try SignedRecipients.parse(forged.text, pinnedKey: signer.publicKey)
        }
        let old = try SignedRecipients.sign(recipients: [a], serial: 2, with: signer)
        #expect(throws: SignedRecipientsError.serialWentBackwards(accepted: 5, offered: 2)) { try old.checkNotOlder(than: 5) }
        try old.checkNotOlder(than: 2)
    }

    @Test("a signing key file unlocks to the same key; a signing key is refused as a recipient")
    func signingKeyFile() throws {
        let pass = Array("pw".utf8).withUnsafeBytes { SecureBytes(copying: $0) }
        let file = try SigningKeyFile.protect(signer, passphrase: pass)
        let unlocked = try SigningKeyFile(text: file.text).unlock(passphrase: pass)
        #expect(unlocked.publicKey == signer.publicKey)
        #expect(unlocked.sign([1, 2, 3]) == signer.sign([1, 2, 3]))
        #expect(throws: PublicKeyParseError.secretKeyGiven) { try PublicKey(text: file.text) }
        #expect(throws: KeyFileError.self) { try KeyFile(text: file.text) }
    }
}
