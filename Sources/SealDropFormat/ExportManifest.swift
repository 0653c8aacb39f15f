import Foundation
public import SealDropCrypto
public import SealDropKeys
public import SealDropStore

/// Why an export manifest was refused.
public enum ExportManifestError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Larger than any manifest may be (``ExportManifest/maximumFileBytes``); nothing was parsed.
    case tooLarge(Int)
    /// The text breaks the grammar: a missing, repeated, reordered or malformed line.
    case malformed(String)
    /// The signature does not verify under the drop key the manifest names.
    case badSignature

    public var description: String {
        switch self {
        case .tooLarge(let bytes): "the export manifest is too large (\(bytes) bytes; at most \(ExportManifest.maximumFileBytes))"
        case .malformed(let why): "the export manifest is malformed: \(why)"
        case .badSignature: "the export manifest's signature does not verify: it was altered or forged"
        }
    }
}

/// What one `sealdropd export` wrote to a medium, signed with the drop key: each submission's ID,
/// size and BLAKE2b-256 hash and its provenance record's size and hash, the export's sequence
/// number and the hash of the manifest before it. No times and no names: only what the keyholder
/// needs to prove the medium complete and unaltered, and the chain of exports unbroken.
/// <doc:ExportManifest> specifies it.
///
/// The file (`sealdrop-export.manifest` in the export's folder), ASCII with LF line ends:
///
///     SEALDROP-EXPORT-1
///     drop-key: sealdropdrop1…
///     sequence: 2
///     previous-manifest-blake2b-256: <64 hex digits, or "none" for sequence 1>
///     submissions: 2
///     submission: <id> <bytes> <blake2b-256> <record bytes> <record blake2b-256>
///     submission: …                                       (sorted by ID, each once)
///     signature: <base64 of the Ed25519 signature of the context and every line above>
///
/// The signed message is ``signatureContext`` (which ends in a NUL byte, so it is never the
/// start of a provenance record's text or any other text SealDrop signs) followed by every line
/// before `signature:`, each with its LF.
public struct ExportManifest: Equatable, Sendable {
    /// One submission of the export.
    public struct Entry: Equatable, Sendable {
        /// The submission's ID: `<id>.sealdrop` and `<id>.record` in the export's folder.
        public let id: SubmissionID
        /// The size of `<id>.sealdrop`.
        public let bytes: UInt64
        /// BLAKE2b-256 (unkeyed) of `<id>.sealdrop`.
        public let hash: [UInt8]
        /// The size of `<id>.record`.
        public let recordBytes: UInt64
        /// BLAKE2b-256 (unkeyed) of `<id>.record`.
        public let recordHash: [UInt8]

        /// An entry; both hashes must be 32 bytes.
        public init(id: SubmissionID, bytes: UInt64, hash: [UInt8], recordBytes: UInt64, recordHash: [UInt8]) {
            precondition(hash.count == 32 && recordHash.count == 32, "an entry's hashes are BLAKE2b-256")
            self.id = id
            self.bytes = bytes
            self.hash = hash
            self.recordBytes = recordBytes
            self.recordHash = recordHash
        }
    }

    /// The first line: the format and its version.
    public static let magic = "SEALDROP-EXPORT-1"
    /// What is signed before the manifest's lines: a context no other SealDrop signature uses.
    public static let signatureContext = Array("SealDrop export manifest v1\0".utf8)
    /// The manifest's file name in an export's folder.
    public static let fileName = "sealdrop-export.manifest"
    /// The most submissions one manifest lists; an export leaves the rest for the next one.
    public static let maximumEntries = 65_536
    /// The largest manifest file read (the longest possible is about 13 MiB).
    public static let maximumFileBytes = 16 << 20

    /// The drop key that signed the manifest.
    public let dropKey: DropPublicKey
    /// The export's number: 1 for a drop's first export, then one more each time.
    public let sequence: UInt64
    /// The full BLAKE2b-256 of the previous export's manifest file; nil exactly for sequence 1.
    public let previousHash: [UInt8]?
    /// The submissions, sorted by ID, each once.
    public let entries: [Entry]

    /// A manifest; `entries` are sorted by ID here and must not repeat one.
    public init(dropKey: DropPublicKey, sequence: UInt64, previousHash: [UInt8]?, entries: [Entry]) {
        precondition(sequence >= 1 && (sequence == 1) == (previousHash == nil), "sequence 1, and only it, has no previous manifest")
        precondition(previousHash.map { $0.count == 32 } ?? true, "the previous manifest's hash is BLAKE2b-256")
        precondition(entries.count <= Self.maximumEntries, "a manifest lists at most \(Self.maximumEntries) submissions")
        self.dropKey = dropKey
        self.sequence = sequence
        self.previousHash = previousHash
        self.entries = entries.sorted { $0.id.text < $1.id.text }
        precondition(zip(self.entries, self.entries.dropFirst()).allSatisfy { $0.id != $1.id }, "a submission is listed once")
    }

    /// Every line before the signature, each with its LF: the signed text.
    private var body: String {
        var text = """
        \(Self.magic)
        drop-key: \(dropKey.text)
        sequence: \(sequence)
        previous-manifest-blake2b-256: \(previousHash.map(Hex.encode) ?? "none")
        submissions: \(entries.count)

        """
        for entry in entries {
            text += "submission: \(entry.id.text) \(entry.bytes) \(Hex.encode(entry.hash)) \(entry.recordBytes) \(Hex.encode(entry.recordHash))\n"
        }
        return text
    }

    /// The manifest file's bytes, signed with `key` (whose public key must be ``dropKey``).
    public func signed(with key: SigningSecretKey) -> [UInt8] {
        precondition(DropPublicKey(key.publicKey) == dropKey, "a manifest is signed by the drop key it names")
        let text = Array(body.utf8)
        let signature = key.sign(Self.signatureContext + text)
        return text + Array("signature: \(Data(signature).base64EncodedString())\n".utf8)
    }

    /// Parses a manifest file's bytes, strictly (one written form only), and verifies its
    /// signature under the drop key it names; whether that key is trusted is the caller's question.
    public static func parse(_ bytes: [UInt8]) throws(ExportManifestError) -> ExportManifest {
        guard bytes.count <= maximumFileBytes else { throw .tooLarge(bytes.count) }
        guard bytes.allSatisfy({ (0x20...0x7e).contains($0) || $0 == 0x0a }) else {
            throw .malformed("a byte that is not printable ASCII or a line end")
        }
        guard bytes.last == 0x0a else { throw .malformed("the last line has no line end") }
        let lines = bytes.dropLast().split(separator: 0x0a, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard lines.count >= 6, lines[0] == magic else { throw .malformed("the first line is not \(magic)") }
        let dropKey: DropPublicKey
        do { dropKey = try DropPublicKey(text: try value(lines[1], "drop-key")) } catch { throw .malformed("bad drop-key") }
        let sequence = try number(value(lines[2], "sequence"), "sequence")
        guard sequence >= 1 else { throw .malformed("the sequence starts at 1") }
        let previousText = try value(lines[3], "previous-manifest-blake2b-256")
        let previousHash: [UInt8]? = previousText == "none" ? nil : try hash(previousText, "previous-manifest-blake2b-256")
        guard (sequence == 1) == (previousHash == nil) else {
            throw .malformed("export 1, and only it, has previous-manifest-blake2b-256: none")
        }
        let count = try number(value(lines[4], "submissions"), "submissions")
        guard count <= maximumEntries, lines.count == 6 + Int(count) else {
            throw .malformed("the submissions line says \(count); the manifest lists \(max(lines.count - 6, 0))")
        }
        var entries: [Entry] = []
        for line in lines[5..<(lines.count - 1)] {
            let entry = try parseEntry(value(line, "submission"))
            if let last = entries.last, last.id.text >= entry.id.text {
                throw .malformed(last.id == entry.id ? "submission \(entry.id) is listed twice" : "the submissions are not sorted by ID")
            }
            entries.append(entry)
        }
        let signatureText = try value(lines[lines.count - 1], "signature")
        guard let signature = Data(base64Encoded: signatureText), signature.count == SigningPublicKey.signatureByteCount,
              signature.base64EncodedString() == signatureText else {
            throw .malformed("the signature is not 64 bytes of base64")
        }
        let manifest = ExportManifest(dropKey: dropKey, sequence: sequence, previousHash: previousHash, entries: entries)
        let body = Array(manifest.body.utf8)
        guard bytes.count == body.count + "signature: ".utf8.count + signatureText.utf8.count + 1, bytes.starts(with: body) else {
            throw .malformed("a line is not in its one written form")
        }
        do { try dropKey.key.verify([UInt8](signature), of: signatureContext + body) } catch { throw .badSignature }
        return manifest
    }

    private static func value(_ line: String, _ name: String) throws(ExportManifestError) -> String {
        guard line.hasPrefix(name + ": ") else { throw .malformed("expected the \(name) line") }
        return String(line.dropFirst(name.utf8.count + 2))
    }

    private static func number(_ text: String, _ name: String) throws(ExportManifestError) -> UInt64 {
        guard let value = UInt64(text), String(value) == text else { throw .malformed("bad \(name)") }
        return value
    }

    private static func hash(_ text: some StringProtocol, _ name: String) throws(ExportManifestError) -> [UInt8] {
        guard let bytes = Hex.decode(text, byteCount: 32) else { throw .malformed("bad \(name)") }
        return bytes
    }

    private static func parseEntry(_ text: String) throws(ExportManifestError) -> Entry {
        let fields = text.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 5, let id = SubmissionID(String(fields[0])) else { throw .malformed("bad submission line") }
        return Entry(id: id, bytes: try number(String(fields[1]), "size of \(id)"), hash: try hash(fields[2], "hash of \(id)"),
                     recordBytes: try number(String(fields[3]), "record size of \(id)"), recordHash: try hash(fields[4], "record hash of \(id)"))
    }
}

extension ExportManifest {
    /// The full BLAKE2b-256 (unkeyed) of a manifest file's bytes: what the next export names as
    /// its previous manifest (`b2sum -l 256` prints it too).
    public static func hash(ofFile bytes: [UInt8]) -> [UInt8] {
        BLAKE2b.hash(bytes, outputLength: 32)
    }

    /// What the operator reads and types back: the first 120 bits of the manifest file's hash
    /// as 24 base-32 characters (`a`–`z`, `2`–`7`) in six groups of four joined by `-`.
    public static func digest(ofHash hash: [UInt8]) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
        var characters: [UInt8] = []
        var accumulator = 0, bits = 0
        for byte in hash.prefix(15) {
            accumulator = accumulator << 8 | Int(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                characters.append(alphabet[(accumulator >> bits) & 31])
            }
        }
        return stride(from: 0, to: characters.count, by: 4)
            .map { String(decoding: characters[$0..<min($0 + 4, characters.count)], as: UTF8.self) }
            .joined(separator: "-")
    }

    /// Whether `typed` is `digest` as a person may type it back: any case, with or without the
    /// dashes, with spaces anywhere, and surrounding white space.
    public static func digest(_ digest: String, matchesTyped typed: String) -> Bool {
        func normal(_ text: String) -> [UInt8] {
            Array(text.lowercased().utf8.filter { $0 != UInt8(ascii: "-") && $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") })
        }
        let expected = normal(digest)
        return !expected.isEmpty && normal(typed) == expected
    }
}
