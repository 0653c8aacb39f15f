import SealDropCrypto
import SealDropKeys
import Testing

@Suite("Public key text, key IDs and key files")
struct KeysTests {
    @Test("a public key's text form round-trips and starts with sealdrop1")
    func textRoundTrip() throws {
        let key = SecretKey.generate().publicKey
        #expect(key.text.hasPrefix("sealdrop1"))
        #expect(try PublicKey(text: key.text) == key)
        #expect(try PublicKey(text: "  \(key.text.uppercased())\n") == key)
    }

    @Test("every single-character typo is caught by the checksum")
    func typosDetected() throws {
        let text = SecretKey.generate().publicKey.text
        let alphabet = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l")
        var characters = Array(text)
        for index in 9..<characters.count {
            let original = characters[index]
            let replacement = alphabet.first { $0 != original }!
            characters[index] = replacement
            #expect(throws: PublicKeyParseError.typo) { try PublicKey(text: String(characters)) }
            characters[index] = original
        }
        #expect(throws: PublicKeyParseError.self) { try PublicKey(text: String(text.dropLast())) }
    }

    @Test("other text is refused with the right reason")
    func refusals() {
        #expect(throws: PublicKeyParseError.notAPublicKey) { try PublicKey(text: "age1qqqq") }
        #expect(throws: PublicKeyParseError.notAPublicKey) { try PublicKey(text: "") }
        #expect(throws: PublicKeyParseError.secretKeyGiven) { try PublicKey(text: "SEALDROP-SECRET-KEY-1:AAAA") }
    }

    @Test("the fingerprint starts with the key ID and has eight groups")
    func fingerprint() {
        let key = SecretKey.generate().publicKey
        let groups = key.fingerprint.split(separator: " ")
        #expect(groups.count == 8 && groups.allSatisfy { $0.count == 4 })
        #expect(key.fingerprint.replacingOccurrences(of: " ", with: "").hasPrefix(key.keyID.description))
        #expect(KeyID(hex: key.keyID.description) == key.keyID)
    }

    @Test("recipients files: comments, blanks, duplicates, and the failing line number")
    func recipientsFile() throws {
        let a = SecretKey.generate().publicKey, b = SecretKey.generate().publicKey
        let text = "# newsroom\n\n\(a.text)\n  \(b.text)  \n\(a.text)\n"
        #expect(throws: RecipientsParseError(line: 5, .repeatedKey(firstLine: 3))) { try Recipients.parse(text) }
        #expect(try Recipients.parse(String(text.dropLast(a.text.count + 1))) == [a, b])
        #expect(try Recipients.parse(Recipients.format([a, b])) == [a, b])
        #expect(throws: RecipientsParseError(line: 3, problem: .notAPublicKey)) { try Recipients.parse("\(a.text)\n#\nnonsense\n") }
        #expect(throws: RecipientsParseError(line: 1, problem: .secretKeyGiven)) { try Recipients.parse("SEALDROP-SECRET-KEY-1:xyz\n") }
    }

    @Test("a key file opens with its passphrase only, and any edit is detected")
    func keyFile() throws {
        let key = SecretKey.generate()
        let pass = secret("right")
        let file = try KeyFile.protect(key, passphrase: pass)
        #expect(file.opsLimit >= Argon2id.moderateOpsLimit && file.memLimit >= Argon2id.moderateMemLimit)
        let parsed = try KeyFile(text: file.text)
        #expect(parsed.publicKey == key.publicKey)
        #expect(try parsed.unlock(passphrase: pass).publicKey == key.publicKey)
        let wrong = secret("wrong")
        #expect(throws: KeyFileError.wrongPassphrase) { try parsed.unlock(passphrase: wrong) }
        #expect(throws: KeyFileError.notAKeyFile) { try KeyFile(text: "hello") }
        #expect(throws: KeyFileError.unsupportedVersion("SEALDROP-SECRET-KEY-9")) { try KeyFile(text: "SEALDROP-SECRET-KEY-9:AAAA") }
    }

    @Test("a passphrase file's first line is the passphrase; an empty one is refused")
    func passphraseFile() throws {
        func parse(_ text: String) throws -> [UInt8] {
            try Array(text.utf8).withUnsafeBytes { try Passphrase.fromFileContents($0) }.withUnsafeBytes { Array($0) }
        }
        #expect(try parse("secret\nignored") == Array("secret".utf8))
        #expect(try parse("secret\r\n") == Array("secret".utf8))
        #expect(try parse("no newline") == Array("no newline".utf8))
        #expect(throws: PassphraseError.empty) { try parse("\nsecond") }
        #expect(throws: PassphraseError.empty) { try parse("") }
    }
}

/// A test passphrase in guarded memory.
func secret(_ text: String) -> SecureBytes {
    Array(text.utf8).withUnsafeBytes { SecureBytes(copying: $0) }
}
