public import SealDropCrypto

/// Seals content into a v1 submission as it streams: memory stays at two chunks whatever the
/// size. Write ``prefix`` first, then whatever ``append(_:emit:)`` and ``finish(emit:)`` emit,
/// in order. The content is padded (PADMÉ) inside the encrypted stream.
///
/// Plaintext lives only in the writer's guarded chunk buffer, zeroed after each chunk.
public final class EnvelopeWriter {
    /// Header, stream header and the sealed metadata chunk: the first bytes of the file.
    public let prefix: [UInt8]
    /// The header alone (for callers that record it, e.g. to report key IDs).
    public let header: EnvelopeHeader

    private let pusher: SecretStreamPusher
    private let plaintext = SecureBytes(count: Layout.chunkPlaintextByteCount)
    private var ciphertext = [UInt8](repeating: 0, count: Layout.fullChunkByteCount)
    private let declaredSize: UInt64?
    /// Content bytes waiting in `plaintext` after its length field.
    private var buffered = 0
    private var contentLength: UInt64 = 0
    /// Content capacity (length field excluded) of the chunks emitted so far.
    private var emittedCapacity: UInt64 = 0
    private var finished = false

    /// Starts a submission sealed to every key in `recipients` (1...32), with `metadata` in
    /// its first chunk. If `metadata.size` is set, ``finish(emit:)`` checks the content had
    /// exactly that length.
    public init(recipients: [PublicKey], metadata: Metadata, fileKey: FileKey = FileKey()) throws(EnvelopeError) {
        if let size = metadata.size, size > Layout.maxContentLength { throw .contentTooLarge }
        let json = try metadata.encoded()
        let metadataLength = Self.metadataChunkLength(forJSONByteCount: json.count)
        guard metadataLength <= Layout.maxMetadataByteCount else { throw .metadataTooLarge(json.count) }
        do { pusher = try SecretStreamPusher(key: fileKey.streamKey) } catch { throw .malformedHeader("stream key") }
        header = try EnvelopeHeader.make(fileKey: fileKey, recipients: recipients, metadataLength: metadataLength, streamHeader: pusher.header)
        declaredSize = metadata.size

        let metadataChunk = SecureBytes(count: metadataLength)
        metadataChunk.withUnsafeMutableBytes { chunk in
            chunk.copyBytes(from: bigEndian32(UInt32(json.count)))
            UnsafeMutableRawBufferPointer(rebasing: chunk[Layout.chunkLengthFieldByteCount...]).copyBytes(from: json)
        }
        var first = header.bytes + pusher.header
        var sealedMetadata = [UInt8](repeating: 0, count: metadataLength + SecretStream.chunkOverhead)
        let pusher = self.pusher
        metadataChunk.withUnsafeBytes { chunk in
            sealedMetadata.withUnsafeMutableBytes { out in _ = pusher.push(chunk, tag: .message, into: out) }
        }
        first += sealedMetadata
        prefix = first
    }

    /// The metadata chunk's plaintext length for a JSON text of `count` bytes: the length
    /// field and the JSON, rounded up to a multiple of 4096.
    static func metadataChunkLength(forJSONByteCount count: Int) -> Int {
        let needed = count + Layout.chunkLengthFieldByteCount
        return (needed + Layout.metadataBlockByteCount - 1) / Layout.metadataBlockByteCount * Layout.metadataBlockByteCount
    }

    /// Adds content. Each chunk that fills is encrypted and handed to `emit` (the buffer is
    /// only valid during the call).
    public func append(_ content: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        precondition(!finished, "append after finish")
        var remaining = content
        while !remaining.isEmpty {
            let take = Swift.min(remaining.count, Layout.chunkCapacity - buffered)
            plaintext.withUnsafeMutableBytes { chunk in
                UnsafeMutableRawBufferPointer(rebasing: chunk[(Layout.chunkLengthFieldByteCount + buffered)...])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: remaining[..<take]))
            }
            buffered += take
            contentLength += UInt64(take)
            remaining = UnsafeRawBufferPointer(rebasing: remaining[take...])
            if buffered == Layout.chunkCapacity {
                try emitChunk(plaintextLength: Layout.chunkPlaintextByteCount, tag: .message, emit: emit)
            }
        }
    }

    /// Pads the content to its PADMÉ length, emits the remaining chunks and the final one, and
    /// returns the content length. Throws ``EnvelopeError/sizeMismatch(declared:actual:)`` if
    /// the metadata declared another size (then nothing more is emitted and the caller must
    /// discard what it wrote), or whatever `emit` throws.
    @discardableResult
    public func finish(emit: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt64 {
        precondition(!finished, "finish called twice")
        finished = true
        if contentLength > Layout.maxContentLength {
            plaintext.zero()
            throw EnvelopeError.contentTooLarge
        }
        if let declaredSize, declaredSize != contentLength {
            plaintext.zero()
            throw EnvelopeError.sizeMismatch(declared: declaredSize, actual: contentLength)
        }
        var remainingCapacity = Layout.padme(contentLength) - emittedCapacity
        while remainingCapacity >= UInt64(Layout.chunkCapacity) {
            try emitChunk(plaintextLength: Layout.chunkPlaintextByteCount, tag: .message, emit: emit)
            remainingCapacity -= UInt64(Layout.chunkCapacity)
        }
        try emitChunk(plaintextLength: Layout.chunkLengthFieldByteCount + Int(remainingCapacity), tag: .final, emit: emit)
        return contentLength
    }

    /// Content bytes appended so far.
    public var contentByteCount: UInt64 { contentLength }

    private func emitChunk(plaintextLength: Int, tag: SecretStreamTag, emit: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        let count = buffered
        let pusher = self.pusher
        let written = plaintext.withUnsafeMutableBytes { chunk in
            chunk.copyBytes(from: bigEndian32(UInt32(count)))
            // Filler after the content is zero.
            let fillStart = Layout.chunkLengthFieldByteCount + count
            if fillStart < plaintextLength {
                UnsafeMutableRawBufferPointer(rebasing: chunk[fillStart..<plaintextLength]).initializeMemory(as: UInt8.self, repeating: 0)
            }
            return ciphertext.withUnsafeMutableBytes { out in
                pusher.push(UnsafeRawBufferPointer(rebasing: chunk[..<plaintextLength]), tag: tag, into: out)
            }
        }
        plaintext.zero()
        buffered = 0
        emittedCapacity += UInt64(plaintextLength - Layout.chunkLengthFieldByteCount)
        try ciphertext.withUnsafeBytes { out in try emit(UnsafeRawBufferPointer(rebasing: out[..<written])) }
    }
}
