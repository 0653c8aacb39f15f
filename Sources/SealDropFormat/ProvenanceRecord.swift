public import Foundation
public import SealDropCrypto
public import SealDropKeys

/// Why a provenance record cannot be trusted.
public enum ProvenanceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The record's text breaks the format (a missing, repeated or malformed line).
    case malformed(String)
    /// The signature does not verify under the drop key the record names.
    case badSignature
    /// Signed by a drop key the keyholder has not pinned (`keyholder trust-drop`).
    case untrustedDrop(DropPublicKey)
    /// The record is for another submission, or for other bytes than the file's.
    case mismatch(String)

    public var description: String {
        switch self {
        case .malformed(let why): "the provenance record is malformed: \(why)"
        case .badSignature: "the provenance record's signature does not verify: it was altered or forged"
        case .untrustedDrop(let key): "the provenance record is signed by drop key \(key.fingerprint), which is not pinned here"
        case .mismatch(let why): "the provenance record does not belong to this file: \(why)"
        }
    }
}

/// What the drop itself vouches for about one submission: which front door delivered it, when
/// (the server's clock), its receipt, and the size and BLAKE2b-256 hashes of the stored bytes
/// (of its envelope header, and of its payload: every byte after the header, which stays the
/// same when a keyholder re-keys the submission; the two together name the stored file
/// exactly), signed with the drop key (Ed25519). The daemon writes it at commit, sealed to the same
/// recipients as the upload (a SealDrop envelope named `<receipt>.record` beside
/// `<receipt>.sealdrop`), so the server's time never sits on its disk in the clear.
/// <doc:Provenance> specifies it.
///
/// The signed text, UTF-8 with LF line ends:
///
///     SEALDROP-RECORD-1
///     submission: <receipt>
///     door: SEALED
///     received: 2026-11-30T07:40:12Z
///     bytes: 4470
///     header-blake2b-256: <64 hex digits>
///     payload-bytes: 4336
///     payload-blake2b-256: <64 hex digits>
///     drop-key: sealdropdrop1…
///     signature: <base64 of the Ed25519 signature of every line above, each with its LF>
public struct ProvenanceRecord: Equatable, Sendable {
    /// The first line.
    public static let magic = "SEALDROP-RECORD-1"
    /// The extension of a record file, beside its submission's `.sealdrop` file.
    public static let fileExtension = "record"
    /// The media type in the record envelope's metadata.
    public static let mediaType = "application/vnd.sealdrop.record"

    /// The front doors a drop has. A record names one; a reader shows an unknown door as given.
    public enum Door {
        /// `SEALDROP/1 PUT`: plaintext, sealed by the daemon on receipt.
        public static let put = "PUT"
        /// `SEALDROP/1 SEALED`: an envelope the source sealed on their machine, stored as it came.
        public static let sealed = "SEALED"
        /// The upload page (`sealdropd --web-listen`): plaintext from a browser's form, sealed
        /// by the daemon on receipt.
        public static let web = "WEB"
    }

    /// The receipt: the submission's ID and file name stem.
    public let submission: String
    /// The front door that delivered it (``Door``): 1 to 32 of `A-Z`, `0-9`, `-`.
    public let door: String
    /// When the drop committed it, by the server's clock (whole seconds, UTC).
    public let received: Date
    /// The stored file's size.
    public let bytes: UInt64
    /// BLAKE2b-256 (unkeyed) of the stored file's envelope header (its first `46 + 88·N` bytes).
    public let headerHash: [UInt8]
    /// How many bytes follow the envelope header (the payload).
    public let payloadBytes: UInt64
    /// BLAKE2b-256 (unkeyed) of the payload.
    public let payloadHash: [UInt8]
    /// The drop key that signed the record.
    public let dropKey: DropPublicKey

    /// A record; `received` is cut to whole seconds.
    public init(submission: String, door: String, received: Date, bytes: UInt64, headerHash: [UInt8],
                payloadBytes: UInt64, payloadHash: [UInt8], dropKey: DropPublicKey) {
        self.submission = submission
        self.door = door
        self.received = Date(timeIntervalSince1970: received.timeIntervalSince1970.rounded(.down))
        self.bytes = bytes
        self.headerHash = headerHash
        self.payloadBytes = payloadBytes
        self.payloadHash = payloadHash
        self.dropKey = dropKey
    }

    private var signedText: String {
        """
        \(Self.magic)
        submission: \(submission)
        door: \(door)
        received: \(ISO8601DateFormatter().string(from: received))
        bytes: \(bytes)
        header-blake2b-256: \(headerHash.hexString)
        payload-bytes: \(payloadBytes)
        payload-blake2b-256: \(payloadHash.hexString)
        drop-key: \(dropKey.text)

        """
    }

    /// The signed text, signed with `key` (whose public key must be ``dropKey``).
    public func signed(with key: SigningSecretKey) -> String {
        precondition(DropPublicKey(key.publicKey) == dropKey, "a record is signed by the drop key it names")
        let body = signedText
        return body + "signature: " + Data(key.sign(Array(body.utf8))).base64EncodedString() + "\n"
    }

    /// The record envelope the daemon stores: the signed text sealed to `recipients`.
    public func sealed(with key: SigningSecretKey, to recipients: [PublicKey]) throws(SealingError) -> [UInt8] {
        let text = Array(signed(with: key).utf8)
        let writer = try EnvelopeWriter(recipients: recipients, metadata: Metadata(mediaType: Self.mediaType, time: received, sealedBy: .server))
        var out = writer.prefix
        do {
            try text.withUnsafeBytes { try writer.append($0) { out += $0 } }
            _ = try writer.finish { out += $0 }
        } catch {
            // Appending to an array cannot fail, and the content length was not promised.
            preconditionFailure("sealing a record in memory failed: \(error)")
        }
        return out
    }

    /// Opens a record envelope with `keys` and parses and verifies the record inside (its
    /// signature under the drop key it names; whether that key is trusted is the caller's
    /// question).
    public static func open(_ envelope: [UInt8], keys: [SecretKey]) throws -> ProvenanceRecord {
        let reader = try EnvelopeReader(source: ArraySource(envelope), keys: keys)
        var text: [UInt8] = []
        _ = try reader.readAll { text += $0 }
        guard reader.metadata.mediaType == mediaType else { throw ProvenanceError.malformed("the envelope is not a provenance record") }
        return try parse(String(decoding: text, as: UTF8.self))
    }

    /// Parses the signed text and verifies its signature under the drop key it names.
    public static func parse(_ text: String) throws(ProvenanceError) -> ProvenanceRecord {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.last == "" else { throw .malformed("the last line has no line end") }
        lines.removeLast()
        let names = ["submission", "door", "received", "bytes", "header-blake2b-256", "payload-bytes", "payload-blake2b-256", "drop-key", "signature"]
        guard lines.count == names.count + 1, lines[0] == magic else {
            throw .malformed("expected the \(magic) line and then \(names.joined(separator: ", ")), one each, in that order")
        }
        var values: [String] = []
        for (line, name) in zip(lines.dropFirst(), names) {
            guard line.hasPrefix(name + ": ") else { throw .malformed("expected the \(name) line") }
            values.append(String(line.dropFirst(name.count + 2)))
        }
        let submission = values[0], door = values[1]
        guard submission.utf8.count == 24, submission.utf8.allSatisfy({ (0x61...0x7a).contains($0) || (0x32...0x37).contains($0) }) else { throw .malformed("bad submission") }
        guard (1...32).contains(door.utf8.count), door.utf8.allSatisfy({ (0x41...0x5a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2d }) else {
            throw .malformed("bad door")
        }
        guard let received = parseTime(values[2]) else { throw .malformed("bad received time") }
        guard let bytes = UInt64(values[3]), String(bytes) == values[3] else { throw .malformed("bad bytes") }
        guard let headerHash = [UInt8](hexString: values[4]), headerHash.count == 32, headerHash.hexString == values[4] else {
            throw .malformed("bad header-blake2b-256")
        }
        guard let payloadBytes = UInt64(values[5]), String(payloadBytes) == values[5], payloadBytes < bytes else { throw .malformed("bad payload-bytes") }
        guard let payloadHash = [UInt8](hexString: values[6]), payloadHash.count == 32, payloadHash.hexString == values[6] else {
            throw .malformed("bad payload-blake2b-256")
        }
        let dropKey: DropPublicKey
        do { dropKey = try DropPublicKey(text: values[7]) } catch { throw .malformed("bad drop-key") }
        guard let signature = Data(base64Encoded: values[8]), signature.count == SigningPublicKey.signatureByteCount else {
            throw .malformed("the signature is not 64 bytes of base64")
        }
        let record = ProvenanceRecord(submission: submission, door: door, received: received, bytes: bytes, headerHash: headerHash,
                                      payloadBytes: payloadBytes, payloadHash: payloadHash, dropKey: dropKey)
        guard record.signedText.utf8.count + "signature: ".utf8.count + values[8].utf8.count + 1 == text.utf8.count,
              text.hasPrefix(record.signedText) else {
            throw .malformed("a line is not in its one written form")
        }
        do { try dropKey.key.verify([UInt8](signature), of: Array(record.signedText.utf8)) } catch { throw .badSignature }
        return record
    }

    /// Checks that the record is for the submission `id`, signed by one of the `trusted` drop
    /// keys, and for this file: of `size` bytes whose payload (after a header of `headerBytes`)
    /// has the recorded length; and, when `payloadHash` is given (a read of the whole file), the
    /// recorded payload hash. A header other than the one received (re-keyed since) is fine:
    /// only a holder of the file key can write one that opens the payload.
    public func check(id: String, size: UInt64, headerBytes: UInt64, payloadHash fileHash: [UInt8]? = nil,
                      trusted: [DropPublicKey]) throws(ProvenanceError) {
        guard trusted.contains(dropKey) else { throw .untrustedDrop(dropKey) }
        guard submission == id else { throw .mismatch("it is the record of submission \(submission)") }
        guard size == bytes || (size >= headerBytes && size - headerBytes == payloadBytes) else {
            throw .mismatch("it records \(bytes) bytes (\(payloadBytes) after the header); the file has \(size)")
        }
        if let fileHash, !constantTimeEqual(fileHash, payloadHash) {
            throw .mismatch("the file's bytes are not the bytes the drop received (its payload differs)")
        }
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` exactly; nil for anything else.
private func parseTime(_ text: String) -> Date? {
    let bytes = Array(text.utf8)
    guard bytes.count == 20, bytes[4] == 0x2d, bytes[7] == 0x2d, bytes[10] == 0x54, bytes[13] == 0x3a, bytes[16] == 0x3a, bytes[19] == 0x5a else {
        return nil
    }
    func number(_ range: Range<Int>) -> Int? {
        guard bytes[range].allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return Int(String(decoding: bytes[range], as: UTF8.self))
    }
    guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
          let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
          year >= 1, (1...12).contains(month), hour < 24, minute < 60, second < 60 else { return nil }
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    guard components.isValidDate(in: calendar), let date = calendar.date(from: components) else { return nil }
    return date
}
