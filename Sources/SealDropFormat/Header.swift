public import SealDropCrypto
public import SealDropKeys

/// One recipient entry: the key ID of a public key and the file key sealed to it.
public struct RecipientEntry: Equatable, Sendable {
    /// Which public key this entry is sealed to.
    public let keyID: KeyID
    /// `crypto_box_seal(file key, public key)`: 80 bytes.
    public let sealedFileKey: [UInt8]
}

/// A submission's random 32-byte file key, in guarded memory. Everything else derives from it:
/// the header MAC key and the payload stream key (`crypto_kdf`, context `SEALDROP`).
public final class FileKey {
    let key: SymmetricKey

    /// A fresh random file key.
    public init() { key = SymmetricKey.random() }
    package init(_ key: SymmetricKey) { self.key = key }

    package var macKey: SymmetricKey { KeyDerivation.derive(from: key, id: 1, context: "SEALDROP") }
    package var streamKey: SymmetricKey { KeyDerivation.derive(from: key, id: 2, context: "SEALDROP") }

    /// The key of a keyed hash of the content (id 3), with which a sender that resumes an
    /// upload checks the file is still the one it began sealing. Never written into an envelope.
    public var contentCheckKey: SymmetricKey { KeyDerivation.derive(from: key, id: 3, context: "SEALDROP") }

    /// The key's 32 bytes, for a sender that must keep them to resume (its state file).
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try key.withUnsafeBytes(body)
    }

    /// A file key from 32 bytes a sender kept; nil for another length.
    public convenience init?(bytes: UnsafeRawBufferPointer) {
        guard let key = try? SymmetricKey(bytes: SecureBytes(copying: bytes)) else { return nil }
        self.init(key)
    }
}

/// The header of a v1 submission (see <doc:FormatV1>). Parsing it needs no key; verifying its
/// MAC needs the file key, which ``unwrapFileKey(with:)`` does in one step.
public struct EnvelopeHeader: Sendable {
    /// Always 1 for headers this build parses.
    public let version: UInt8
    /// Plaintext bytes of the metadata chunk.
    public let metadataLength: Int
    /// The recipients, in file order.
    public let recipients: [RecipientEntry]
    /// The exact header bytes, MAC included.
    public let bytes: [UInt8]

    /// The key IDs the submission is sealed to.
    public var keyIDs: [KeyID] { recipients.map(\.keyID) }

    /// Builds and MACs a header sealing `fileKey` to each recipient. The MAC also covers the
    /// payload's 24-byte `streamHeader`, which binds header and payload together. Two
    /// recipients with one key ID are refused (``SealingError/duplicateRecipient(_:)``): readers
    /// refuse such a header.
    public static func make(fileKey: FileKey, recipients: [PublicKey], metadataLength: Int, streamHeader: SecretStreamHeader) throws(SealingError) -> EnvelopeHeader {
        guard (1...Layout.maxRecipients).contains(recipients.count) else { throw .badRecipientCount(recipients.count) }
        var seen: Set<KeyID> = []
        for recipient in recipients where !seen.insert(recipient.keyID).inserted { throw .duplicateRecipient(recipient.keyID) }
        var bytes = Layout.magic + [Layout.version, UInt8(recipients.count)] + bigEndian32(UInt32(metadataLength))
        var entries: [RecipientEntry] = []
        for recipient in recipients {
            let sealed: [UInt8]
            do { sealed = try SealedBox.seal(fileKey.key, to: recipient) } catch {
                throw .unusableRecipientKey(recipient.keyID)
            }
            let entry = RecipientEntry(keyID: recipient.keyID, sealedFileKey: sealed)
            bytes += entry.keyID.bytes + entry.sealedFileKey
            entries.append(entry)
        }
        bytes += BLAKE2b.mac(bytes + streamHeader.bytes, key: fileKey.macKey)
        return EnvelopeHeader(version: Layout.version, metadataLength: metadataLength, recipients: entries, bytes: bytes)
    }

    /// Parses a header from the first bytes of a submission. Returns nil when `prefix` is too
    /// short to hold the whole header yet (give it more bytes); throws when the bytes can never
    /// start a valid header (two entries with one key ID included). Reads at most
    /// ``Layout/maxHeaderByteCount`` bytes.
    public static func parse(prefix: some Collection<UInt8>) throws(EnvelopeError) -> EnvelopeHeader? {
        let head = Array(prefix.prefix(Layout.maxHeaderByteCount))
        let magicCount = Swift.min(head.count, Layout.magic.count)
        guard head.prefix(magicCount).elementsEqual(Layout.magic.prefix(magicCount)) else { throw .notASubmission }
        guard head.count >= Layout.fixedHeaderByteCount else { return nil }
        guard head[8] == Layout.version else { throw .unsupportedVersion(head[8]) }
        let count = Int(head[9])
        guard (1...Layout.maxRecipients).contains(count) else {
            throw .malformedHeader("recipient count \(count) is outside 1...\(Layout.maxRecipients)")
        }
        let metadataLength = Int(head[10...13].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        guard metadataLength >= Layout.metadataBlockByteCount, metadataLength <= Layout.maxMetadataByteCount,
              metadataLength % Layout.metadataBlockByteCount == 0 else {
            throw .malformedHeader("metadata length \(metadataLength) is not a multiple of 4096 in 4096...65536")
        }
        let total = Layout.headerByteCount(recipients: count)
        guard head.count >= total else { return nil }
        var entries: [RecipientEntry] = []
        var offset = Layout.fixedHeaderByteCount
        for number in 1...count {
            let keyID = KeyID(bytes: Array(head[offset..<offset + KeyID.byteCount]))
            if let first = entries.firstIndex(where: { $0.keyID == keyID }) {
                throw .malformedHeader("recipient entries \(first + 1) and \(number) both have key ID \(keyID)")
            }
            let sealed = Array(head[offset + KeyID.byteCount..<offset + Layout.recipientEntryByteCount])
            entries.append(RecipientEntry(keyID: keyID, sealedFileKey: sealed))
            offset += Layout.recipientEntryByteCount
        }
        return EnvelopeHeader(version: head[8], metadataLength: metadataLength, recipients: entries, bytes: Array(head[0..<total]))
    }

    /// Finds the entry for one of `keys` by key ID (no trial decryption), opens the file key
    /// and verifies the header MAC over the header and the payload's `streamHeader`. Returns
    /// the file key and the key that opened it; throws ``EnvelopeError/noMatchingKey(_:)`` when
    /// none of the keys is a recipient.
    public func unwrapFileKey(withAnyOf keys: [SecretKey], streamHeader: SecretStreamHeader) throws(EnvelopeError) -> (fileKey: FileKey, key: SecretKey) {
        for entry in recipients {
            guard let key = keys.first(where: { $0.publicKey.keyID == entry.keyID }) else { continue }
            let opened: SecureBytes
            do { opened = try SealedBox.open(entry.sealedFileKey, with: key) } catch { throw .fileKeyUnwrapFailed(entry.keyID) }
            guard let symmetric = try? SymmetricKey(bytes: opened) else { throw .fileKeyUnwrapFailed(entry.keyID) }
            let fileKey = FileKey(symmetric)
            try verifyMAC(with: fileKey, streamHeader: streamHeader)
            return (fileKey, key)
        }
        throw .noMatchingKey(keyIDs)
    }

    /// Checks the header MAC under `fileKey` in constant time.
    public func verifyMAC(with fileKey: FileKey, streamHeader: SecretStreamHeader) throws(EnvelopeError) {
        let macStart = bytes.count - Layout.macByteCount
        let expected = BLAKE2b.mac(Array(bytes[..<macStart]) + streamHeader.bytes, key: fileKey.macKey)
        guard constantTimeEqual(expected, Array(bytes[macStart...])) else { throw .headerMACMismatch }
    }
}

package func bigEndian32(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
}
