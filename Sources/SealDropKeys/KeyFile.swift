public import SealDropCrypto
import Foundation

/// Why a secret key file could not be used.
public enum KeyFileError: Error, Equatable, Sendable {
    /// Not a SealDrop secret key file, or damaged beyond parsing.
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

/// A passphrase-protected secret key file, format 1. It is text, three lines:
///
///     # SealDrop secret key. Protected by a passphrase; keep it offline and never share it.
///     # public key: sealdrop1…
///     SEALDROP-SECRET-KEY-1:<base64 of 136 bytes>
///
/// The 136 bytes are: Argon2id ops limit (u64 big-endian), memory limit in bytes (u64 BE),
/// salt (16), XChaCha20-Poly1305 nonce (24), public key (32), encrypted secret key (32 + 16 tag).
/// The AEAD key is Argon2id(passphrase, salt, limits); its associated data is the ASCII tag
/// `SEALDROP-SECRET-KEY-1` followed by the first 88 bytes, so no limit, salt or public key can be
/// changed without the passphrase failing. Only the base64 line is read; the comments are for
/// people.
public struct KeyFile: Sendable {
    /// The marker that starts the key line; also how a secret key handed over as a recipient
    /// is recognised and refused.
    public static let magic = "SEALDROP-SECRET-KEY"
    static let versionTag = "SEALDROP-SECRET-KEY-1"
    static let encodedByteCount = 136

    /// Argon2id passes used to protect the key.
    public let opsLimit: UInt64
    /// Argon2id memory in bytes used to protect the key.
    public let memLimit: UInt64
    /// The public key, readable without the passphrase.
    public let publicKey: PublicKey
    let salt: [UInt8]
    let nonce: [UInt8]
    let encryptedSecret: [UInt8]

    /// Encrypts `key` under `passphrase` with fresh salt and nonce (Argon2id MODERATE by default).
    public static func protect(_ key: SecretKey, passphrase: SecureBytes,
                               opsLimit: UInt64 = Argon2id.moderateOpsLimit,
                               memLimit: UInt64 = Argon2id.moderateMemLimit) throws(CryptoError) -> KeyFile {
        let salt = randomBytes(count: Argon2id.saltByteCount)
        let nonce = randomBytes(count: XChaCha20Poly1305.nonceByteCount)
        let wrapping = try Argon2id.deriveKey(passphrase: passphrase, salt: salt, opsLimit: opsLimit, memLimit: memLimit)
        let associated = associatedData(opsLimit: opsLimit, memLimit: memLimit, salt: salt, nonce: nonce, publicKey: key.publicKey)
        let secret = key.withSecretBytes { SecureBytes(copying: $0) }
        let sealed = try XChaCha20Poly1305.seal(secret, key: wrapping, nonce: nonce, associatedData: associated)
        return KeyFile(opsLimit: opsLimit, memLimit: memLimit, publicKey: key.publicKey, salt: salt, nonce: nonce, encryptedSecret: sealed)
    }

    /// Derives the wrapping key with Argon2id and decrypts the secret key into guarded memory.
    public func unlock(passphrase: SecureBytes) throws(KeyFileError) -> SecretKey {
        let associated = Self.associatedData(opsLimit: opsLimit, memLimit: memLimit, salt: salt, nonce: nonce, publicKey: publicKey)
        do {
            let wrapping = try Argon2id.deriveKey(passphrase: passphrase, salt: salt, opsLimit: opsLimit, memLimit: memLimit)
            let secret = try XChaCha20Poly1305.open(encryptedSecret, key: wrapping, nonce: nonce, associatedData: associated)
            let key = try SecretKey(secretBytes: secret)
            guard key.publicKey == publicKey else { throw KeyFileError.inconsistent }
            return key
        } catch let error as KeyFileError {
            throw error
        } catch {
            throw .wrongPassphrase
        }
    }

    /// The file's text.
    public var text: String {
        var blob: [UInt8] = []
        blob += Self.bigEndian(opsLimit) + Self.bigEndian(memLimit) + salt + nonce + publicKey.rawBytes + encryptedSecret
        return """
        # SealDrop secret key. Protected by a passphrase; keep it offline and never share it.
        # public key: \(publicKey.text)
        \(Self.versionTag):\(Data(blob).base64EncodedString())

        """
    }

    /// Parses a key file's text; does not need the passphrase.
    public init(text: String) throws(KeyFileError) {
        guard let line = text.split(separator: "\n").map({ String($0).trimmingASCIIWhitespace() })
            .first(where: { $0.hasPrefix(Self.magic) }) else { throw .notAKeyFile }
        guard let colon = line.firstIndex(of: ":") else { throw .notAKeyFile }
        let tag = String(line[..<colon])
        guard tag == Self.versionTag else { throw .unsupportedVersion(tag) }
        guard let data = Data(base64Encoded: String(line[line.index(after: colon)...])),
              data.count == Self.encodedByteCount else { throw .notAKeyFile }
        let blob = [UInt8](data)
        let ops = Self.readBigEndian(blob[0..<8]), mem = Self.readBigEndian(blob[8..<16])
        guard ops >= Argon2id.minimumOpsLimit, ops <= Argon2id.maximumOpsLimit,
              mem >= Argon2id.minimumMemLimit, mem <= Argon2id.maximumMemLimit else { throw .unacceptableLimits }
        guard let publicKey = try? PublicKey(rawBytes: Array(blob[56..<88])) else { throw .notAKeyFile }
        self.init(opsLimit: ops, memLimit: mem, publicKey: publicKey,
                  salt: Array(blob[16..<32]), nonce: Array(blob[32..<56]), encryptedSecret: Array(blob[88..<136]))
    }

    private init(opsLimit: UInt64, memLimit: UInt64, publicKey: PublicKey, salt: [UInt8], nonce: [UInt8], encryptedSecret: [UInt8]) {
        self.opsLimit = opsLimit
        self.memLimit = memLimit
        self.publicKey = publicKey
        self.salt = salt
        self.nonce = nonce
        self.encryptedSecret = encryptedSecret
    }

    private static func associatedData(opsLimit: UInt64, memLimit: UInt64, salt: [UInt8], nonce: [UInt8], publicKey: PublicKey) -> [UInt8] {
        Array(versionTag.utf8) + bigEndian(opsLimit) + bigEndian(memLimit) + salt + nonce + publicKey.rawBytes
    }

    private static func bigEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
    }

    private static func readBigEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }
}
