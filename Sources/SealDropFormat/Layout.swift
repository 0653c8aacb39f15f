/// The fixed numbers of submission format v1. The DocC article <doc:FormatV1> explains each.
public enum Layout {
    /// The first 8 bytes of every submission: ASCII `SEALDROP`.
    public static let magic: [UInt8] = Array("SEALDROP".utf8)
    /// The only version this build writes and reads.
    public static let version: UInt8 = 1
    /// Bytes before the recipient entries: magic, version, recipient count, metadata length.
    public static let fixedHeaderByteCount = 14
    /// Bytes of one recipient entry: key ID (8) and the sealed file key (32 + 48).
    public static let recipientEntryByteCount = 88
    /// Bytes of the header MAC (BLAKE2b-256).
    public static let macByteCount = 32
    /// At most this many recipients per submission.
    public static let maxRecipients = 32
    /// Bytes of a file key.
    public static let fileKeyByteCount = 32
    /// Plaintext bytes of every payload chunk but the last.
    public static let chunkPlaintextByteCount = 65_536
    /// Bytes of the content-length field that starts each chunk's plaintext.
    public static let chunkLengthFieldByteCount = 4
    /// Content bytes a full chunk can carry.
    public static let chunkCapacity = chunkPlaintextByteCount - chunkLengthFieldByteCount
    /// Ciphertext bytes of every payload chunk but the last.
    public static let fullChunkByteCount = chunkPlaintextByteCount + 17
    /// Ciphertext bytes of the smallest possible chunk (a length field and the tag).
    public static let minimumChunkByteCount = chunkLengthFieldByteCount + 17
    /// The metadata chunk's plaintext length is a multiple of this.
    public static let metadataBlockByteCount = 4096
    /// The largest metadata chunk plaintext.
    public static let maxMetadataByteCount = 65_536
    /// Bytes of the secretstream header that starts the payload.
    public static let streamHeaderByteCount = 24
    /// The largest header: 32 recipients.
    public static var maxHeaderByteCount: Int { headerByteCount(recipients: maxRecipients) }

    /// Bytes of a header with `recipients` entries, MAC included.
    public static func headerByteCount(recipients: Int) -> Int {
        fixedHeaderByteCount + recipients * recipientEntryByteCount + macByteCount
    }

    /// The largest content length the format's size arithmetic is defined for (1 TiB); writers
    /// and the daemon refuse anything larger before they compute a padded size.
    public static let maxContentLength: UInt64 = 1 << 40

    /// The PADMÉ padded length of `length` content bytes (Nikitin et al., PETS 2019): the
    /// length is rounded up so that only O(log log L) bits of it remain, at most ~12 % more.
    public static func padme(_ length: UInt64) -> UInt64 {
        precondition(length <= maxContentLength, "content length over Layout.maxContentLength")
        guard length >= 2 else { return length }
        let e = UInt64(63 - length.leadingZeroBitCount)          // floor(log2 L)
        let s = UInt64(63 - e.leadingZeroBitCount) + 1             // floor(log2 E) + 1
        let lastBits = e - s
        let mask: UInt64 = (1 << lastBits) - 1
        return (length + mask) & ~mask
    }

    /// Whether `total` bytes can be a whole submission whose header has `recipients` entries
    /// and whose metadata chunk holds `metadataLength` plaintext bytes: the payload after the
    /// metadata chunk must split into full chunks and a last chunk of 21...65553 bytes.
    public static func isPossibleTotalLength(_ total: UInt64, recipients: Int, metadataLength: Int) -> Bool {
        let prefix = UInt64(headerByteCount(recipients: recipients) + streamHeaderByteCount + metadataLength + 17)
        guard total >= prefix + UInt64(minimumChunkByteCount) else { return false }
        let rest = (total - prefix) % UInt64(fullChunkByteCount)
        return rest == 0 || rest >= UInt64(minimumChunkByteCount)
    }

    /// The size on disk of a submission of `contentLength` bytes with the given header and
    /// metadata sizes, as ``EnvelopeWriter`` lays it out.
    public static func sealedByteCount(contentLength: UInt64, recipients: Int, metadataLength: Int) -> UInt64 {
        let padded = padme(contentLength)
        let capacity = UInt64(chunkCapacity)
        let fullChunks = padded / capacity
        let lastCapacity = padded % capacity
        return UInt64(headerByteCount(recipients: recipients) + streamHeaderByteCount + metadataLength + 17)
            + fullChunks * UInt64(fullChunkByteCount) + lastCapacity + UInt64(minimumChunkByteCount)
    }
}
