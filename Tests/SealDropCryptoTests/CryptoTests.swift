import SealDropCrypto
import Testing

@Suite("libsodium wrappers")
struct CryptoTests {
    @Test("a sealed box opens only with its recipient's secret key")
    func sealedBox() throws {
        let alice = SecretKey.generate(), mallory = SecretKey.generate()
        let message = SecureBytes.random(count: 32)
        let sealed = try SealedBox.seal(message, to: alice.publicKey)
        #expect(sealed.count == 32 + SealedBox.overhead)
        #expect(try SealedBox.open(sealed, with: alice).constantTimeEquals(message))
        #expect(throws: CryptoError.sealedBoxOpenFailed) { try SealedBox.open(sealed, with: mallory) }
        var tampered = sealed
        tampered[40] ^= 1
        #expect(throws: CryptoError.sealedBoxOpenFailed) { try SealedBox.open(tampered, with: alice) }
    }

    @Test("a public key of the wrong length is refused")
    func publicKeyLength() {
        #expect(throws: CryptoError.invalidLength(what: "public key", expected: 32, actual: 31)) { try PublicKey(rawBytes: [UInt8](repeating: 1, count: 31)) }
    }

    @Test("a low-order public key cannot be sealed to")
    func lowOrderKey() throws {
        let zero = try PublicKey(rawBytes: [UInt8](repeating: 0, count: 32))
        #expect(throws: CryptoError.unusablePublicKey) { try SealedBox.seal(SecureBytes(count: 32), to: zero) }
    }

    @Test("the secret key derives the same public key")
    func derivePublicKey() throws {
        let key = SecretKey.generate()
        let copy = try SecretKey(secretBytes: key.withSecretBytes { SecureBytes(copying: $0) })
        #expect(copy.publicKey == key.publicKey)
    }

    @Test("secretstream: chunks come back in order with their tags; tampering, reordering and the wrong key fail")
    func secretStream() throws {
        let key = SymmetricKey.random()
        let pusher = SecretStreamPusher(key: key)
        var chunks: [[UInt8]] = []
        for (text, tag) in [("one", SecretStreamTag.message), ("two", .message), ("three", .final)] {
            var out = [UInt8](repeating: 0, count: text.utf8.count + SecretStream.chunkOverhead)
            let n = Array(text.utf8).withUnsafeBytes { m in out.withUnsafeMutableBytes { pusher.push(m, tag: tag, into: $0) } }
            #expect(n == out.count)
            chunks.append(out)
        }
        func pullAll(_ chunks: [[UInt8]], key: SymmetricKey) throws -> [(String, SecretStreamTag)] {
            let puller = try SecretStreamPuller(key: key, header: pusher.header)
            return try chunks.map { chunk in
                var out = [UInt8](repeating: 0, count: chunk.count)
                let (n, tag) = try chunk.withUnsafeBytes { c in try out.withUnsafeMutableBytes { try puller.pull(c, into: $0) } }
                return (String(decoding: out[..<n], as: UTF8.self), tag)
            }
        }
        let plain = try pullAll(chunks, key: key)
        #expect(plain.map { $0.0 } == ["one", "two", "three"])
        #expect(plain.map { $0.1 } == [SecretStreamTag.message, .message, .final])
        #expect(throws: CryptoError.authenticationFailed) { try pullAll([chunks[1], chunks[0]], key: key) }
        var flipped = chunks
        flipped[2][0] ^= 1
        #expect(throws: CryptoError.authenticationFailed) { try pullAll(flipped, key: key) }
        #expect(throws: CryptoError.authenticationFailed) { try pullAll(chunks, key: SymmetricKey.random()) }
    }

    @Test("XChaCha20-Poly1305 authenticates the associated data")
    func aead() throws {
        let key = SymmetricKey.random(), nonce = XChaCha20Poly1305.Nonce.random()
        let sealed = XChaCha20Poly1305.seal(SecureBytes.random(count: 32), key: key, nonce: nonce, associatedData: [1, 2, 3])
        #expect(try XChaCha20Poly1305.open(sealed, key: key, nonce: nonce, associatedData: [1, 2, 3]).count == 32)
        #expect(throws: CryptoError.authenticationFailed) { try XChaCha20Poly1305.open(sealed, key: key, nonce: nonce, associatedData: [1, 2, 4]) }
    }

    @Test("BLAKE2b matches the RFC 7693 test vector")
    func blake2b() {
        // BLAKE2b-512("abc"), RFC 7693 appendix A.
        let digest = BLAKE2b.hash(Array("abc".utf8), outputLength: 64)
        #expect(digest.prefix(8) == [0xBA, 0x80, 0xA5, 0x3F, 0x98, 0x1C, 0x4D, 0x0D])
        #expect(BLAKE2b.hash([1], key: Array("0123456789abcdef".utf8)) != BLAKE2b.hash([1]))
    }

    @Test("Argon2id derives the same key from the same passphrase and salt, another from another")
    func argon2id() throws {
        let salt = Argon2id.Salt.random()
        let pass = secret("pass")
        // Interactive limits keep this test quick; key files use MODERATE or more.
        let a = try Argon2id.deriveKey(passphrase: pass, salt: salt, opsLimit: 2, memLimit: 64 << 20)
        let b = try Argon2id.deriveKey(passphrase: pass, salt: salt, opsLimit: 2, memLimit: 64 << 20)
        let c = try Argon2id.deriveKey(passphrase: pass, salt: Argon2id.Salt.random(), opsLimit: 2, memLimit: 64 << 20)
        #expect(a.constantTimeEquals(b))
        #expect(!a.constantTimeEquals(c))
        #expect(throws: CryptoError.invalidLength(what: "Argon2id salt", expected: 16, actual: 3)) {
            try Argon2id.Salt(bytes: [1, 2, 3])
        }
    }

    @Test("crypto_kdf subkeys differ by id and are stable")
    func kdf() {
        let master = SymmetricKey.random()
        let one = KeyDerivation.derive(from: master, id: 1, context: "SEALDROP")
        #expect(one.constantTimeEquals(KeyDerivation.derive(from: master, id: 1, context: "SEALDROP")))
        #expect(!one.constantTimeEquals(KeyDerivation.derive(from: master, id: 2, context: "SEALDROP")))
    }

    @Test("typed keys, nonces, salts and stream headers refuse a wrong length where they are made")
    func typedLengths() {
        #expect(throws: CryptoError.invalidLength(what: "symmetric key", expected: 32, actual: 31)) { try SymmetricKey(bytes: SecureBytes(count: 31)) }
        #expect(throws: CryptoError.invalidLength(what: "symmetric key", expected: 32, actual: 33)) { try SymmetricKey(bytes: SecureBytes(count: 33)) }
        #expect(throws: CryptoError.invalidLength(what: "AEAD nonce", expected: 24, actual: 12)) { try XChaCha20Poly1305.Nonce(bytes: [UInt8](repeating: 0, count: 12)) }
        #expect(throws: CryptoError.invalidLength(what: "stream header", expected: 24, actual: 0)) { try SecretStreamHeader(bytes: []) }
        #expect((try? SymmetricKey(bytes: SecureBytes(count: 32))) != nil)
        #expect(XChaCha20Poly1305.Nonce.random() != XChaCha20Poly1305.Nonce.random())
    }

    @Test("streaming BLAKE2b equals the one-shot hash, however the input is cut")
    func streamingHash() {
        let data = randomBytes(count: 10_000)
        for cut in [0, 1, 63, 64, 65, 4096, 9_999, 10_000] {
            let hasher = BLAKE2b.Hasher()
            data.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<cut])); hasher.update(UnsafeRawBufferPointer(rebasing: $0[cut...])) }
            #expect(hasher.finalize() == BLAKE2b.hash(data))
        }
    }

    @Test("randomUniform stays below its bound and reaches every value")
    func uniform() {
        var seen = Set<UInt32>()
        for _ in 0..<2000 {
            let value = randomUniform(below: 7)
            #expect(value < 7)
            seen.insert(value)
        }
        #expect(seen.count == 7)
    }

    @Test("guarded memory zeroes on request and compares in constant time")
    func secureBytes() {
        let secret = SecureBytes.random(count: 64)
        let copy = secret.withUnsafeBytes { SecureBytes(copying: $0) }
        #expect(secret.constantTimeEquals(copy))
        secret.zero()
        #expect(secret.withUnsafeBytes { $0.allSatisfy { $0 == 0 } })
        #expect(!secret.constantTimeEquals(copy))
    }
}

/// A test passphrase in guarded memory.
func secret(_ text: String) -> SecureBytes {
    Array(text.utf8).withUnsafeBytes { SecureBytes(copying: $0) }
}
