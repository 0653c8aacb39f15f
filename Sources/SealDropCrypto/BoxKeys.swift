import CSodium

/// An X25519 public key: what sources and the daemon seal file keys to.
public struct PublicKey: Hashable, Sendable {
    /// The 32 raw bytes (`crypto_box_PUBLICKEYBYTES`).
    public let rawBytes: [UInt8]

    /// The length of a raw public key.
    public static var byteCount: Int { Int(crypto_box_publickeybytes()) }

    /// Wraps 32 raw bytes; throws on any other length.
    public init(rawBytes: [UInt8]) throws(CryptoError) {
        ensureSodium()
        guard rawBytes.count == Self.byteCount else {
            throw .invalidLength(what: "public key", expected: Self.byteCount, actual: rawBytes.count)
        }
        self.rawBytes = rawBytes
    }
}

/// An X25519 secret key in guarded memory, with its public key.
public final class SecretKey {
    /// The 32 secret bytes; never printed, never copied out of guarded memory by this module.
    let secret: SecureBytes
    /// The matching public key.
    public let publicKey: PublicKey

    /// The length of a raw secret key.
    public static var byteCount: Int { Int(crypto_box_secretkeybytes()) }

    /// Makes a fresh key pair (`crypto_box_keypair`).
    public static func generate() -> SecretKey {
        ensureSodium()
        let secret = SecureBytes(count: byteCount)
        var publicBytes = [UInt8](repeating: 0, count: PublicKey.byteCount)
        _ = publicBytes.withUnsafeMutableBytes { pk in
            crypto_box_keypair(pk.baseAddress!.assumingMemoryBound(to: UInt8.self), secret.typedPointer(UInt8.self))
        }
        return SecretKey(secret: secret, publicKey: try! PublicKey(rawBytes: publicBytes))
    }

    /// Takes ownership of 32 secret bytes and derives the public key (`crypto_scalarmult_base`).
    public convenience init(secretBytes: SecureBytes) throws(CryptoError) {
        ensureSodium()
        guard secretBytes.count == Self.byteCount else {
            throw .invalidLength(what: "secret key", expected: Self.byteCount, actual: secretBytes.count)
        }
        var publicBytes = [UInt8](repeating: 0, count: PublicKey.byteCount)
        let status = publicBytes.withUnsafeMutableBytes { pk in
            crypto_scalarmult_base(pk.baseAddress!.assumingMemoryBound(to: UInt8.self), secretBytes.typedPointer(UInt8.self))
        }
        guard status == 0 else { throw .unusablePublicKey }
        self.init(secret: secretBytes, publicKey: try PublicKey(rawBytes: publicBytes))
    }

    private init(secret: SecureBytes, publicKey: PublicKey) {
        self.secret = secret
        self.publicKey = publicKey
    }

    /// Read access to the raw secret bytes, for writing them encrypted into a key file.
    public func withSecretBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try secret.withUnsafeBytes(body)
    }
}

/// Anonymous public-key encryption of short messages (`crypto_box_seal`): X25519 with an
/// ephemeral key, XSalsa20-Poly1305. SealDrop uses it only to wrap a 32-byte file key.
public enum SealedBox {
    /// Bytes a sealed box adds to its message (`crypto_box_SEALBYTES`, 48).
    public static var overhead: Int { Int(crypto_box_sealbytes()) }

    /// Seals `message` so that only the holder of `recipient`'s secret key can open it.
    public static func seal(_ message: SecureBytes, to recipient: PublicKey) throws(CryptoError) -> [UInt8] {
        ensureSodium()
        var out = [UInt8](repeating: 0, count: message.count + overhead)
        let status = out.withUnsafeMutableBytes { c in
            recipient.rawBytes.withUnsafeBytes { pk in
                crypto_box_seal(
                    c.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    message.typedPointer(UInt8.self), UInt64(message.count),
                    pk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        guard status == 0 else { throw .unusablePublicKey }
        return out
    }

    /// Seals a symmetric key (a submission's file key) to `recipient`.
    public static func seal(_ key: SymmetricKey, to recipient: PublicKey) throws(CryptoError) -> [UInt8] {
        try seal(key.storage, to: recipient)
    }

    /// Opens a sealed box into guarded memory; throws `sealedBoxOpenFailed` for a wrong key or
    /// an altered box.
    public static func open(_ ciphertext: [UInt8], with key: SecretKey) throws(CryptoError) -> SecureBytes {
        ensureSodium()
        guard ciphertext.count >= overhead else {
            throw .invalidLength(what: "sealed box", expected: overhead, actual: ciphertext.count)
        }
        let message = SecureBytes(count: ciphertext.count - overhead)
        let status = ciphertext.withUnsafeBytes { c in
            key.publicKey.rawBytes.withUnsafeBytes { pk in
                crypto_box_seal_open(
                    message.typedPointer(UInt8.self),
                    c.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(ciphertext.count),
                    pk.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    key.secret.typedPointer(UInt8.self))
            }
        }
        guard status == 0 else { throw .sealedBoxOpenFailed }
        return message
    }
}
