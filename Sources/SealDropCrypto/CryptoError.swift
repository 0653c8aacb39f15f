/// Every way a libsodium operation in SealDrop can fail. The cases are specific, so callers can
/// turn them into messages a person can act on.
public enum CryptoError: Error, Equatable, Sendable {
    /// A key, nonce, salt or buffer had the wrong length for the primitive.
    case invalidLength(what: String, expected: Int, actual: Int)
    /// A public key libsodium refuses to use (for example a low-order point).
    case unusablePublicKey
    /// A sealed box did not open with this secret key (wrong key, or the box was altered).
    case sealedBoxOpenFailed
    /// Authenticated decryption failed: the ciphertext, its tag or its associated data changed,
    /// or the key is wrong.
    case authenticationFailed
    /// A secretstream header could not be used to start a stream.
    case invalidStreamHeader
    /// Argon2id could not run with these limits (usually: not enough memory).
    case passwordHashFailed
    /// A signature did not verify against the public key.
    case badSignature
}
