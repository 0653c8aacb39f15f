public import SealDropCrypto
import Foundation

/// Why a secret key file could not be used.
public enum KeyFileError: Error, Equatable, Sendable {
    /// Not a SealDrop secret key file of the expected kind, or damaged beyond parsing.
    case notAKeyFile
    /// A key file of a version this build does not know.
    case unsupportedVersion(String)
    /// Argon2id limits below the minimum or above the maximum SealDrop accepts.
    case unacceptableLimits
    /// The passphrase does not open the key (or the file was altered).
    case wrongPassphrase
    /// The decrypted secret key does not match the public key stored beside it.
    case inconsistent
}

/// A 32-byte secret encrypted under a passphrase, with its 32-byte public key beside it in the
/// clear: the body of both kinds of key file. Encoded as one line, `TAG:<base64 of 136 bytes>`:
/// Argon2id ops limit (u64 big-endian), memory limit in bytes (u64 BE), salt (16),
/// XChaCha20-Poly1305 nonce (24), public key (32), encrypted secret (32 + 16 tag). The AEAD key
/// is Argon2id(passphrase, salt, limits); the associated data is the ASCII tag followed by the
/// first 88 bytes, so no limit, salt or public key can be changed without the unlock failing.
struct ProtectedSecret: Sendable {
    static let encodedByteCount = 136
    let tag: String
    let opsLimit: UInt64
    let memLimit: UInt64
    let salt: Argon2id.Salt
    let nonce: XChaCha20Poly1305.Nonce
    let publicBytes: [UInt8]
    let encryptedSecret: [UInt8]

    static func protect(_ secret: SecureBytes, publicBytes: [UInt8], tag: String, passphrase: SecureBytes,
                        opsLimit: UInt64, memLimit: UInt64) throws(CryptoError) -> ProtectedSecret {
        let salt = Argon2id.Salt.random()
        let nonce = XChaCha20Poly1305.Nonce.random()
        let wrapping = try Argon2id.deriveKey(passphrase: passphrase, salt: salt, opsLimit: opsLimit, memLimit: memLimit)
        let unsealed = ProtectedSecret(tag: tag, opsLimit: opsLimit, memLimit: memLimit, salt: salt, nonce: nonce, publicBytes: publicBytes, encryptedSecret: [])
        let sealed = XChaCha20Poly1305.seal(secret, key: wrapping, nonce: nonce, associatedData: unsealed.associatedData)
        return ProtectedSecret(tag: tag, opsLimit: opsLimit, memLimit: memLimit, salt: salt, nonce: nonce, publicBytes: publicBytes, encryptedSecret: sealed)
    }

    /// Finds the line starting with `family` in `text` and insists on exactly `tag`.
    static func parse(_ text: String, family: String, tag: String) throws(KeyFileError) -> ProtectedSecret {
        guard let line = text.split(separator: "\n").map({ String($0).trimmingASCIIWhitespace() })
            .first(where: { $0.hasPrefix(family) }), let colon = line.firstIndex(of: ":") else { throw .notAKeyFile }
        let found = String(line[..<colon])
        guard found == tag else { throw .unsupportedVersion(found) }
        guard let data = Data(base64Encoded: String(line[line.index(after: colon)...])), data.count == encodedByteCount else { throw .notAKeyFile }
        let blob = [UInt8](data)
        let ops = readBigEndian(blob[0..<8]), mem = readBigEndian(blob[8..<16])
        guard ops >= Argon2id.minimumOpsLimit, ops <= Argon2id.maximumOpsLimit,
              mem >= Argon2id.minimumMemLimit, mem <= Argon2id.maximumMemLimit else { throw .unacceptableLimits }
        guard let salt = try? Argon2id.Salt(bytes: Array(blob[16..<32])),
              let nonce = try? XChaCha20Poly1305.Nonce(bytes: Array(blob[32..<56])) else { throw .notAKeyFile }
        return ProtectedSecret(tag: tag, opsLimit: ops, memLimit: mem, salt: salt, nonce: nonce,
                               publicBytes: Array(blob[56..<88]), encryptedSecret: Array(blob[88..<136]))
    }

    func open(passphrase: SecureBytes) throws(KeyFileError) -> SecureBytes {
        do {
            let wrapping = try Argon2id.deriveKey(passphrase: passphrase, salt: salt, opsLimit: opsLimit, memLimit: memLimit)
            return try XChaCha20Poly1305.open(encryptedSecret, key: wrapping, nonce: nonce, associatedData: associatedData)
        } catch {
            throw .wrongPassphrase
        }
    }

    var line: String {
        let blob = Self.bigEndian(opsLimit) + Self.bigEndian(memLimit) + salt.bytes + nonce.bytes + publicBytes + encryptedSecret
        return "\(tag):\(Data(blob).base64EncodedString())"
    }

    private var associatedData: [UInt8] {
        Array(tag.utf8) + Self.bigEndian(opsLimit) + Self.bigEndian(memLimit) + salt.bytes + nonce.bytes + publicBytes
    }

    private static func bigEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
    }

    private static func readBigEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }
}

/// A passphrase-protected X25519 secret key file, format 1. It is text, three lines:
///
///     # SealDrop secret key. Protected by a passphrase; keep it offline and never share it.
///     # public key: sealdrop1…
///     SEALDROP-SECRET-KEY-1:<base64 of 136 bytes>
///
/// Only the `SEALDROP-SECRET-KEY-1` line is read (see ``ProtectedSecret`` for its bytes); the
/// comments are for people.
public struct KeyFile: Sendable {
    /// The marker that starts the key line; also how a secret key handed over as a recipient
    /// is recognised and refused.
    public static let magic = "SEALDROP-SECRET-KEY"
    static let versionTag = "SEALDROP-SECRET-KEY-1"

    private let body: ProtectedSecret
    /// The public key, readable without the passphrase.
    public let publicKey: PublicKey
    /// Argon2id passes used to protect the key.
    public var opsLimit: UInt64 { body.opsLimit }
    /// Argon2id memory in bytes used to protect the key.
    public var memLimit: UInt64 { body.memLimit }

    /// Encrypts `key` under `passphrase` with fresh salt and nonce (Argon2id MODERATE by default).
    public static func protect(_ key: SecretKey, passphrase: SecureBytes,
                               opsLimit: UInt64 = Argon2id.moderateOpsLimit,
                               memLimit: UInt64 = Argon2id.moderateMemLimit) throws(CryptoError) -> KeyFile {
        let secret = key.withSecretBytes { SecureBytes(copying: $0) }
        let body = try ProtectedSecret.protect(secret, publicBytes: key.publicKey.rawBytes, tag: versionTag,
                                               passphrase: passphrase, opsLimit: opsLimit, memLimit: memLimit)
        return KeyFile(body: body, publicKey: key.publicKey)
    }

    /// Parses a key file's text; does not need the passphrase.
    public init(text: String) throws(KeyFileError) {
        let body = try ProtectedSecret.parse(text, family: Self.magic, tag: Self.versionTag)
        guard let publicKey = try? PublicKey(rawBytes: body.publicBytes) else { throw .notAKeyFile }
        self.init(body: body, publicKey: publicKey)
    }

    private init(body: ProtectedSecret, publicKey: PublicKey) {
        self.body = body
        self.publicKey = publicKey
    }

    /// Derives the wrapping key with Argon2id and decrypts the secret key into guarded memory.
    public func unlock(passphrase: SecureBytes) throws(KeyFileError) -> SecretKey {
        let secret = try body.open(passphrase: passphrase)
        guard let key = try? SecretKey(secretBytes: secret), key.publicKey == publicKey else { throw .inconsistent }
        return key
    }

    /// The file's text.
    public var text: String {
        """
        # SealDrop secret key. Protected by a passphrase; keep it offline and never share it.
        # public key: \(publicKey.text)
        \(body.line)

        """
    }
}

/// A passphrase-protected Ed25519 signing key file: the newsroom's offline key that signs the
/// recipients list. Same shape as ``KeyFile``, with the tag `SEALDROP-SIGNING-KEY-1` and the
/// Ed25519 seed as the secret.
public struct SigningKeyFile: Sendable {
    /// The marker that starts the key line.
    public static let magic = "SEALDROP-SIGNING-KEY"
    static let versionTag = "SEALDROP-SIGNING-KEY-1"

    private let body: ProtectedSecret
    /// The public key, readable without the passphrase.
    public let publicKey: SigningPublicKey

    /// Encrypts `key`'s seed under `passphrase` (Argon2id MODERATE by default).
    public static func protect(_ key: SigningSecretKey, passphrase: SecureBytes,
                               opsLimit: UInt64 = Argon2id.moderateOpsLimit,
                               memLimit: UInt64 = Argon2id.moderateMemLimit) throws(CryptoError) -> SigningKeyFile {
        let seed = key.withSeed { SecureBytes(copying: $0) }
        let body = try ProtectedSecret.protect(seed, publicBytes: key.publicKey.rawBytes, tag: versionTag,
                                               passphrase: passphrase, opsLimit: opsLimit, memLimit: memLimit)
        return SigningKeyFile(body: body, publicKey: key.publicKey)
    }

    /// Parses a signing key file's text; does not need the passphrase.
    public init(text: String) throws(KeyFileError) {
        let body = try ProtectedSecret.parse(text, family: Self.magic, tag: Self.versionTag)
        guard let publicKey = try? SigningPublicKey(rawBytes: body.publicBytes) else { throw .notAKeyFile }
        self.init(body: body, publicKey: publicKey)
    }

    private init(body: ProtectedSecret, publicKey: SigningPublicKey) {
        self.body = body
        self.publicKey = publicKey
    }

    /// Decrypts the signing key into guarded memory.
    public func unlock(passphrase: SecureBytes) throws(KeyFileError) -> SigningSecretKey {
        let seed = try body.open(passphrase: passphrase)
        guard let key = try? SigningSecretKey(seed: seed), key.publicKey == publicKey else { throw .inconsistent }
        return key
    }

    /// The file's text.
    public var text: String {
        """
        # SealDrop signing key: signs the newsroom's recipients list. Keep it offline.
        # signing public key: \(publicKey.text)
        \(body.line)

        """
    }
}
