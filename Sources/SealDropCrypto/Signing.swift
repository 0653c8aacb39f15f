import CSodium

/// An Ed25519 public key (`crypto_sign`): verifies what the newsroom's offline signing key signed.
public struct SigningPublicKey: Hashable, Sendable {
    /// The 32 raw bytes.
    public let rawBytes: [UInt8]

    /// The length of a raw signing public key.
    public static var byteCount: Int { Int(crypto_sign_publickeybytes()) }
    /// The length of a detached signature (64).
    public static var signatureByteCount: Int { Int(crypto_sign_bytes()) }

    /// Wraps 32 raw bytes; throws on any other length.
    public init(rawBytes: [UInt8]) throws(CryptoError) {
        ensureSodium()
        guard rawBytes.count == Self.byteCount else {
            throw .invalidLength(what: "signing public key", expected: Self.byteCount, actual: rawBytes.count)
        }
        self.rawBytes = rawBytes
    }

    /// Checks a detached signature over `message` (`crypto_sign_verify_detached`).
    public func verify(_ signature: [UInt8], of message: [UInt8]) throws(CryptoError) {
        guard signature.count == Self.signatureByteCount else { throw .badSignature }
        let status = signature.withUnsafeBytes { s in
            message.withUnsafeBytes { m in
                rawBytes.withUnsafeBytes { pk in
                    crypto_sign_verify_detached(
                        s.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        m.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count),
                        pk.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        guard status == 0 else { throw .badSignature }
    }
}

/// An Ed25519 secret key in guarded memory, with its public key.
public final class SigningSecretKey {
    private let secret: SecureBytes
    /// The matching public key.
    public let publicKey: SigningPublicKey

    /// The length of the seed a signing key is stored as (32).
    public static var seedByteCount: Int { Int(crypto_sign_seedbytes()) }

    /// Makes a fresh signing key.
    public static func generate() -> SigningSecretKey {
        try! SigningSecretKey(seed: SecureBytes.random(count: seedByteCount))
    }

    /// Rebuilds the key from its 32-byte seed (`crypto_sign_seed_keypair`).
    public init(seed: SecureBytes) throws(CryptoError) {
        ensureSodium()
        guard seed.count == Self.seedByteCount else {
            throw .invalidLength(what: "signing key seed", expected: Self.seedByteCount, actual: seed.count)
        }
        let secret = SecureBytes(count: Int(crypto_sign_secretkeybytes()))
        var publicBytes = [UInt8](repeating: 0, count: SigningPublicKey.byteCount)
        _ = publicBytes.withUnsafeMutableBytes { pk in
            crypto_sign_seed_keypair(pk.baseAddress!.assumingMemoryBound(to: UInt8.self), secret.typedPointer(UInt8.self), seed.typedPointer(UInt8.self))
        }
        self.secret = secret
        publicKey = try SigningPublicKey(rawBytes: publicBytes)
    }

    /// The 32-byte seed, for writing it encrypted into a key file.
    public func withSeed<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        // libsodium's Ed25519 secret key is the seed followed by the public key.
        try secret.withUnsafeBytes { all throws(E) in try body(UnsafeRawBufferPointer(rebasing: all[0..<Self.seedByteCount])) }
    }

    /// A detached signature over `message` (`crypto_sign_detached`).
    public func sign(_ message: [UInt8]) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: SigningPublicKey.signatureByteCount)
        signature.withUnsafeMutableBytes { s in
            message.withUnsafeBytes { m in
                _ = crypto_sign_detached(
                    s.baseAddress!.assumingMemoryBound(to: UInt8.self), nil,
                    m.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count),
                    secret.typedPointer(UInt8.self))
            }
        }
        return signature
    }
}
