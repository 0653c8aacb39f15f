public import SealDropCrypto

/// The stream states of one envelope at chunk boundaries, kept while it is sealed, so that any
/// part of the envelope can be sealed again from the file's plaintext without keeping the
/// ciphertext (a resumed upload). Sealing is deterministic once the file key and the sealed
/// header exist: the state before chunk `k` and the plaintext from chunk `k` on give exactly the
/// same bytes again.
///
/// A checkpoint is kept every ``interval`` chunks (128 chunks, about 8 MiB of envelope, or more
/// for very large files, so that there are at most about a thousand). The states are secrets
/// (each encrypts the rest of the stream) and live in guarded memory.
public final class SealingCheckpoints {
    /// The envelope's header.
    public let header: EnvelopeHeader
    /// The envelope's first bytes: header, stream header, sealed metadata chunk.
    public let prefix: [UInt8]
    /// The payload's stream header.
    public let streamHeader: SecretStreamHeader
    /// The content length the envelope is sealed for.
    public let contentLength: UInt64
    /// Chunks between two checkpoints.
    public let interval: UInt64
    private let states: SecureBytes
    /// Checkpoints `0..<recordedCount` are kept.
    public private(set) var recordedCount = 0

    init(header: EnvelopeHeader, prefix: [UInt8], streamHeader: SecretStreamHeader, contentLength: UInt64) {
        self.header = header
        self.prefix = prefix
        self.streamHeader = streamHeader
        self.contentLength = contentLength
        let chunks = Layout.padme(contentLength) / UInt64(Layout.chunkCapacity) + 1
        interval = Swift.max(128, (chunks + 1023) / 1024)
        states = SecureBytes(count: Int(chunks / interval + 1) * SecretStreamPusher.stateByteCount)
    }

    /// The checkpoints of an envelope whose first state (before its first payload chunk) was
    /// saved with ``copyFirstState(into:)``; the others are kept again as the envelope is sealed
    /// anew. Throws ``EnvelopeError`` if `prefix` is not an envelope's first bytes.
    public convenience init(prefix: [UInt8], contentLength: UInt64, firstState: UnsafeRawBufferPointer) throws(EnvelopeError) {
        guard contentLength <= Layout.maxContentLength, let header = try EnvelopeHeader.parse(prefix: prefix) else {
            throw .malformedHeader("the saved envelope start is incomplete")
        }
        let streamStart = header.bytes.count
        let expected = streamStart + Layout.streamHeaderByteCount + header.metadataLength + SecretStream.chunkOverhead
        guard prefix.count == expected, firstState.count == SecretStreamPusher.stateByteCount,
              let streamHeader = try? SecretStreamHeader(bytes: Array(prefix[streamStart..<(streamStart + Layout.streamHeaderByteCount)]))
        else { throw .malformedHeader("the saved envelope start does not match its header") }
        self.init(header: header, prefix: prefix, streamHeader: streamHeader, contentLength: contentLength)
        states.withUnsafeMutableBytes { UnsafeMutableRawBufferPointer(rebasing: $0[..<firstState.count]).copyMemory(from: firstState) }
        recordedCount = 1
    }

    /// The envelope's size.
    public var sealedLength: UInt64 {
        Layout.sealedByteCount(contentLength: contentLength, recipients: header.recipients.count, metadataLength: header.metadataLength)
    }

    /// Copies the state before the first payload chunk (``SecretStreamPusher/stateByteCount``
    /// bytes) into `destination`: with the prefix, all it takes to seal the envelope again.
    public func copyFirstState(into destination: UnsafeMutableRawBufferPointer) {
        precondition(recordedCount > 0, "the first state is kept when sealing begins")
        states.withUnsafeBytes { destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[..<SecretStreamPusher.stateByteCount])) }
    }

    /// Called by the writer before it seals payload chunk `index`: keeps the state if a
    /// checkpoint falls there and is not kept yet.
    func record(beforeChunk index: UInt64, from pusher: SecretStreamPusher) {
        guard index % interval == 0, index / interval == UInt64(recordedCount) else { return }
        let size = SecretStreamPusher.stateByteCount, start = recordedCount * size
        guard start + size <= states.count else { return }
        states.withUnsafeMutableBytes { pusher.copyState(into: UnsafeMutableRawBufferPointer(rebasing: $0[start..<(start + size)])) }
        recordedCount += 1
    }

    /// Where sealing resumes for the envelope's bytes from `offset` on.
    public struct ResumePoint: Sendable, Equatable {
        /// The payload chunk sealing starts at (a checkpoint).
        public let chunk: UInt64
        /// The content byte that chunk starts with (the content length, past the content).
        public let contentOffset: UInt64
        /// Whether the output starts with the prefix (sealing from the first chunk).
        public let includesPrefix: Bool
        /// How many bytes of the output come before `offset` and are not sent.
        public let skip: UInt64
    }

    /// The latest kept checkpoint at or before the chunk holding envelope byte `offset`.
    public func resumePoint(at offset: UInt64) -> ResumePoint {
        let prefixLength = UInt64(prefix.count)
        let holding = offset > prefixLength ? (offset - prefixLength) / UInt64(Layout.fullChunkByteCount) : 0
        let chunk = Swift.min(holding / interval, UInt64(recordedCount - 1)) * interval
        // From the first chunk, the output starts with the prefix, at envelope byte 0.
        guard chunk > 0 else { return ResumePoint(chunk: 0, contentOffset: 0, includesPrefix: true, skip: offset) }
        return ResumePoint(chunk: chunk, contentOffset: Swift.min(chunk * UInt64(Layout.chunkCapacity), contentLength),
                           includesPrefix: false, skip: offset - (prefixLength + chunk * UInt64(Layout.fullChunkByteCount)))
    }

    /// A writer that seals the envelope from `point`'s chunk on: append the content from
    /// `point.contentOffset`, then finish. It keeps further checkpoints here as it goes.
    public func writer(at point: ResumePoint) -> EnvelopeWriter {
        let size = SecretStreamPusher.stateByteCount, start = Int(point.chunk / interval) * size
        precondition(point.chunk % interval == 0 && start / size < recordedCount, "resuming at a kept checkpoint")
        let pusher = states.withUnsafeBytes { SecretStreamPusher(header: streamHeader, state: UnsafeRawBufferPointer(rebasing: $0[start..<(start + size)])) }
        return EnvelopeWriter(resuming: self, pusher: pusher, chunk: point.chunk)
    }
}
