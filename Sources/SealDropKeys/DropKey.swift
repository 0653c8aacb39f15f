public import SealDropCrypto

/// The drop's own public key: the Ed25519 key with which `sealdropd` signs a provenance record
/// for every submission it receives. It vouches for what the drop received and opens nothing.
/// Text form: Bech32 with the prefix `sealdropdrop`.
public struct DropPublicKey: Hashable, Sendable {
    /// The prefix of the text form.
    public static let textPrefix = "sealdropdrop"

    /// The Ed25519 public key.
    public let key: SigningPublicKey

    /// Wraps an Ed25519 public key.
    public init(_ key: SigningPublicKey) { self.key = key }

    /// The text form, `sealdropdrop1…`.
    public var text: String { Bech32.encode(prefix: Self.textPrefix, data: key.rawBytes) }

    /// Parses the text form; surrounding white space is ignored, case must not be mixed.
    public init(text: String) throws(PublicKeyParseError) {
        let raw = try decodeKeyText(text, prefix: Self.textPrefix)
        do { key = try SigningPublicKey(rawBytes: raw) } catch { throw .badKey }
    }

    /// Eight groups of four hex digits of BLAKE2b-256(key, key = "SealDrop drop key v1"), for
    /// people comparing the key a keyholder pins with the one a drop prints.
    public var fingerprint: String {
        groupedHex(BLAKE2b.hash(key.rawBytes, outputLength: 32, key: Array("SealDrop drop key v1".utf8)).prefix(16))
    }
}

/// Why a drop key file was refused.
public enum DropKeyFileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No `SEALDROP-DROP-KEY-1:` line followed by 64 hex digits.
    case notADropKeyFile
    /// The file names a public key that is not the one its seed makes.
    case inconsistent

    public var description: String {
        switch self {
        case .notADropKeyFile: "not a SealDrop drop key file (no SEALDROP-DROP-KEY-1: line with 64 hex digits)"
        case .inconsistent: "the public key in the file's comment does not match its secret seed: the file was edited"
        }
    }
}

/// The drop key's file, read by the daemon at start-up. The daemon starts unattended, so the
/// seed is not passphrase-protected: the file is mode 0600, owned by the daemon's user, and the
/// key signs provenance records only (it opens nothing). Text, three lines:
///
///     # SealDrop drop key: signs a record of what this drop received. It opens nothing.
///     # drop public key: sealdropdrop1…
///     SEALDROP-DROP-KEY-1:<64 lowercase hex digits: the Ed25519 seed>
///
/// A `# drop public key:` line, when present, must name the key the seed makes. The seed is
/// read and decoded only in guarded memory.
public enum DropKeyFile {
    /// The tag that starts the key line; also how a drop key handed over as a public key is
    /// recognised and refused.
    public static let magic = "SEALDROP-DROP-KEY"
    static let versionTag = "SEALDROP-DROP-KEY-1:"
    static let publicKeyComment = "# drop public key: "

    /// The file's text for `key`, in guarded memory.
    public static func text(for key: SigningSecretKey) -> SecureBytes {
        let seedDigits = key.withSeed { SecureBytes(copying: $0) }.hexDigits()
        let head = Array("# SealDrop drop key: signs a record of what this drop received. It opens nothing.\n\(publicKeyComment)\(DropPublicKey(key.publicKey).text)\n\(versionTag)".utf8)
        let text = SecureBytes(count: head.count + seedDigits.count + 1)
        text.withUnsafeMutableBytes { out in
            out.copyBytes(from: head)
            seedDigits.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: out[head.count...]).copyMemory(from: $0) }
            out[out.count - 1] = UInt8(ascii: "\n")
        }
        return text
    }

    /// Reads the key from the file's bytes (in guarded memory).
    public static func parse(_ contents: SecureBytes) throws(DropKeyFileError) -> SigningSecretKey {
        try contents.withUnsafeBytes { (bytes) throws(DropKeyFileError) -> SigningSecretKey in
            var named: String?
            var key: SigningSecretKey?
            for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
                let line = UnsafeRawBufferPointer(rebasing: line)
                if line.starts(with: versionTag.utf8) {
                    var digits = UnsafeRawBufferPointer(rebasing: line[(line.startIndex + versionTag.utf8.count)...])
                    if digits.last == UInt8(ascii: "\r") { digits = UnsafeRawBufferPointer(rebasing: digits.dropLast()) }
                    guard key == nil, let seed = SecureBytes.fromHexDigits(digits, byteCount: SigningSecretKey.seedByteCount),
                          let parsed = try? SigningSecretKey(seed: seed) else { throw .notADropKeyFile }
                    key = parsed
                } else if line.starts(with: publicKeyComment.utf8) {
                    named = String(decoding: line.dropFirst(publicKeyComment.utf8.count), as: UTF8.self)
                }
            }
            guard let key else { throw .notADropKeyFile }
            if let named, (try? DropPublicKey(text: named)) != DropPublicKey(key.publicKey) { throw .inconsistent }
            return key
        }
    }
}
