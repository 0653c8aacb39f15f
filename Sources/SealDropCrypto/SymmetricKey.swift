import CSodium

/// A 32-byte symmetric key in guarded memory, as swift-crypto's `SymmetricKey`: the only kind of
/// key the AEAD, the secretstream, the KDF and the keyed BLAKE2b of this module accept, so a key
/// of the wrong length is refused where it is made and can never reach libsodium. Its bytes are
/// reachable only inside ``withUnsafeBytes(_:)``; it has no `description` and is not `Codable`.
public final class SymmetricKey {
    /// The length of every SealDrop symmetric key: `crypto_aead_xchacha20poly1305_ietf_KEYBYTES`,
    /// `crypto_secretstream_xchacha20poly1305_KEYBYTES` and `crypto_kdf_KEYBYTES` are all 32.
    public static let byteCount = 32

    let storage: SecureBytes

    /// Takes ownership of `bytes`; throws unless there are exactly ``byteCount`` of them.
    public init(bytes: SecureBytes) throws(CryptoError) {
        guard bytes.count == Self.byteCount else {
            throw .invalidLength(what: "symmetric key", expected: Self.byteCount, actual: bytes.count)
        }
        storage = bytes
    }

    /// A fresh random key.
    public static func random() -> SymmetricKey {
        SymmetricKey(unchecked: SecureBytes.random(count: byteCount))
    }

    init(unchecked bytes: SecureBytes) {
        precondition(bytes.count == Self.byteCount, "a symmetric key is 32 bytes")
        storage = bytes
    }

    /// Read access to the key bytes; the pointer must not escape the closure.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try storage.withUnsafeBytes(body)
    }

    /// Compares with another key in constant time.
    public func constantTimeEquals(_ other: SymmetricKey) -> Bool {
        storage.constantTimeEquals(other.storage)
    }

    /// Zeroes the key now, before it is released (it is zeroed on release in any case).
    public func zero() { storage.zero() }

    func pointer() -> UnsafeMutablePointer<UInt8> { storage.typedPointer(UInt8.self) }
}

/// Checks a fixed-length public value (nonce, salt, stream header) once, when it is made, so
/// every function that takes one can hand it to libsodium as it is.
func checkedLength(_ bytes: [UInt8], _ expected: Int, _ what: String) throws(CryptoError) -> [UInt8] {
    guard bytes.count == expected else { throw .invalidLength(what: what, expected: expected, actual: bytes.count) }
    return bytes
}

extension XChaCha20Poly1305 {
    /// A 24-byte XChaCha20-Poly1305 nonce (`NPUBBYTES`): large enough to be chosen at random.
    public struct Nonce: Equatable, Sendable {
        /// The nonce's length.
        public static var byteCount: Int { Int(crypto_aead_xchacha20poly1305_ietf_npubbytes()) }
        /// The nonce's bytes.
        public let bytes: [UInt8]
        /// Wraps `bytes`; throws unless there are exactly ``byteCount``.
        public init(bytes: [UInt8]) throws(CryptoError) { self.bytes = try checkedLength(bytes, Self.byteCount, "AEAD nonce") }
        /// A fresh random nonce.
        public static func random() -> Nonce { try! Nonce(bytes: randomBytes(count: byteCount)) }
    }
}

extension Argon2id {
    /// A 16-byte Argon2id salt (`crypto_pwhash_SALTBYTES`).
    public struct Salt: Equatable, Sendable {
        /// The salt's length.
        public static var byteCount: Int { Int(crypto_pwhash_saltbytes()) }
        /// The salt's bytes.
        public let bytes: [UInt8]
        /// Wraps `bytes`; throws unless there are exactly ``byteCount``.
        public init(bytes: [UInt8]) throws(CryptoError) { self.bytes = try checkedLength(bytes, Self.byteCount, "Argon2id salt") }
        /// A fresh random salt.
        public static func random() -> Salt { try! Salt(bytes: randomBytes(count: byteCount)) }
    }
}

/// The 24-byte header that starts a secretstream (`crypto_secretstream_xchacha20poly1305_HEADERBYTES`).
public struct SecretStreamHeader: Equatable, Sendable {
    /// The header's length.
    public static var byteCount: Int { Int(crypto_secretstream_xchacha20poly1305_headerbytes()) }
    /// The header's bytes.
    public let bytes: [UInt8]
    /// Wraps `bytes`; throws unless there are exactly ``byteCount``.
    public init(bytes: [UInt8]) throws(CryptoError) { self.bytes = try checkedLength(bytes, Self.byteCount, "stream header") }
}
