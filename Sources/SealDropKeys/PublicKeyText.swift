public import SealDropCrypto

/// Why a piece of text is not a SealDrop public key. Each case reads as a sentence a person can
/// act on.
public enum PublicKeyParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The text is (part of) a secret key file: the caller was handed the wrong file.
    case secretKeyGiven
    /// Not of the form `sealdrop1…`.
    case notAPublicKey
    /// The checksum does not match: a typo or a truncated copy.
    case typo
    /// Well-formed Bech32, but the wrong length or a key libsodium cannot use.
    case badKey

    public var description: String {
        switch self {
        case .secretKeyGiven: "this is a secret key, not a public key: never give a secret key to a server or a source"
        case .notAPublicKey: "not a SealDrop public key (expected text starting with \"sealdrop1\")"
        case .typo: "public key checksum mismatch: the key was mistyped or cut short"
        case .badKey: "public key has the wrong length or is not a usable X25519 key"
        }
    }
}

extension PublicKey {
    /// The prefix of every public key's text form.
    public static let textPrefix = "sealdrop"

    /// The key's text form: Bech32 with the prefix `sealdrop`, e.g. `sealdrop1qq…`.
    public var text: String { Bech32.encode(prefix: Self.textPrefix, data: rawBytes) }

    /// Parses the text form; surrounding white space is ignored, case must not be mixed.
    public init(text: String) throws(PublicKeyParseError) {
        let raw = try decodeKeyText(text, prefix: Self.textPrefix)
        do { try self.init(rawBytes: raw) } catch { throw .badKey }
        // Refuse keys libsodium would refuse at seal time (low-order points), now rather than later.
        do { _ = try SealedBox.seal(SecureBytes(count: 1), to: self) } catch { throw .badKey }
    }

    /// The key's identifier: 8 bytes of ``fingerprintHash``, written as 16 hex digits. Every
    /// submission names its recipients by key ID, so the right secret key is found without trial
    /// decryption.
    public var keyID: KeyID { KeyID(bytes: Array(fingerprintHash.prefix(KeyID.byteCount))) }

    /// A fingerprint for people to compare aloud: 16 bytes of ``fingerprintHash`` in eight
    /// groups of four hex digits. It starts with the key ID.
    public var fingerprint: String { groupedHex(fingerprintHash.prefix(16)) }

    /// BLAKE2b-256 of the raw public key, keyed with the ASCII string `SealDrop key ID v1`.
    public var fingerprintHash: [UInt8] {
        BLAKE2b.hash(rawBytes, outputLength: 32, key: Array("SealDrop key ID v1".utf8))
    }
}

/// The 8-byte identifier of a public key (see ``SealDropCrypto/PublicKey/keyID``).
public struct KeyID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Bytes of a key ID in a submission header.
    public static let byteCount = 8
    /// The raw bytes.
    public let bytes: [UInt8]

    /// Wraps raw bytes; callers guarantee the length (the format reader checks it).
    public init(bytes: [UInt8]) {
        precondition(bytes.count == Self.byteCount, "a key ID has 8 bytes")
        self.bytes = bytes
    }

    /// Parses 16 hex digits.
    public init?(hex: String) {
        guard let bytes = [UInt8](hexString: hex), bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    /// 16 lowercase hex digits.
    public var description: String { bytes.hexString }

    public static func < (lhs: KeyID, rhs: KeyID) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
}

/// The raw bytes of a key's Bech32 text form with the given prefix (`sealdrop`, `sealdropsign`).
/// Secret key material is recognised and refused with its own error.
func decodeKeyText(_ text: String, prefix: String) throws(PublicKeyParseError) -> [UInt8] {
    let trimmed = text.trimmingASCIIWhitespace()
    if trimmed.contains(KeyFile.magic) || trimmed.contains(SigningKeyFile.magic) || trimmed.contains(DropKeyFile.magic) { throw .secretKeyGiven }
    guard trimmed.lowercased().hasPrefix(prefix + "1") else { throw .notAPublicKey }
    let decoded: (prefix: String, data: [UInt8])
    do { decoded = try Bech32.decode(trimmed) } catch { throw error == .badChecksum ? .typo : .notAPublicKey }
    guard decoded.prefix == prefix else { throw .notAPublicKey }
    return decoded.data
}

/// Bytes as hex in groups of four digits, for fingerprints read aloud.
func groupedHex(_ bytes: some Sequence<UInt8>) -> String {
    let hex = Array(bytes.hexString)
    return stride(from: 0, to: hex.count, by: 4).map { String(hex[$0..<min($0 + 4, hex.count)]) }.joined(separator: " ")
}

extension Sequence where Element == UInt8 {
    /// Lowercase hexadecimal.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in self { out.append(digits[Int(byte >> 4)]); out.append(digits[Int(byte & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Array where Element == UInt8 {
    /// Parses an even number of hex digits (either case); nil for anything else.
    public init?(hexString: String) {
        let utf8 = Array(hexString.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            case 0x41...0x46: c - 0x41 + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        for i in stride(from: 0, to: utf8.count, by: 2) {
            guard let high = nibble(utf8[i]), let low = nibble(utf8[i + 1]) else { return nil }
            out.append(high << 4 | low)
        }
        self = out
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs, CR and LF.
    func trimmingASCIIWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
