public import SealDropCrypto

/// Seals content into a v1 submission as it streams: memory stays at one chunk whatever the
/// size (two with ``append(_:emit:)``). Write ``prefix`` first, then whatever ``append(_:emit:)`` and ``finish(emit:)`` emit,
/// in order. The content is padded (PADMÉ) inside the encrypted stream.
///
/// Plaintext lives only in the writer's guarded chunk buffer: each chunk overwrites the one
/// before, and the buffer is zeroed once the last chunk is sealed (and when released).
///
/// Sealed chunks reach the caller one of two ways: ``append(_:emit:)`` hands over each chunk
/// sealed into the writer's own buffer; ``append(_:sealingInto:)`` seals each chunk straight
/// into space the caller provides, saving a copy.
public final class EnvelopeWriter {
    /// Gives the writer space for the next sealed chunk: called with the chunk's size, it must
    /// call `seal` exactly once with that many writable bytes, which the writer fills.
    public typealias SealInto = (_ byteCount: Int, _ seal: (UnsafeMutableRawBufferPointer) -> Void) throws -> Void

    /// Header, stream header and the sealed metadata chunk: the first bytes of the file.
    public let prefix: [UInt8]
    /// The header alone (for callers that record it, e.g. to report key IDs).
    public let header: EnvelopeHeader

    private let pusher: SecretStreamPusher
    private let plaintext = SecureBytes(count: Layout.chunkPlaintextByteCount)
    /// The sealed chunk handed to `emit`; allocated on first use, so a writer that seals
    /// straight into its caller's space (the daemon, hundreds of uploads at once) never has one.
    private var ciphertext: [UInt8] = []
    private let declaredSize: UInt64?
    /// Content bytes waiting in `plaintext` after its length field.
    private var buffered = 0
    private var contentLength: UInt64 = 0
    /// Content capacity (length field excluded) of the chunks emitted so far.
    private var emittedCapacity: UInt64 = 0
    private var finished = false
    /// The stream's states at chunk boundaries, if the writer keeps them (see ``SealingCheckpoints``).
    public let checkpoints: SealingCheckpoints?

    /// Starts a submission sealed to every key in `recipients` (1...32), with `metadata` in
    /// its first chunk. If `metadata.size` is set, ``finish(emit:)`` checks the content had
    /// exactly that length; then, with `keepingCheckpoints`, the writer keeps ``checkpoints``
    /// as it seals, from which any part of the envelope can be sealed again.
    public init(recipients: [PublicKey], metadata: Metadata, fileKey: FileKey = FileKey(), keepingCheckpoints: Bool = false) throws(SealingError) {
        if let size = metadata.size, size > Layout.maxContentLength { throw .contentTooLarge }
        let json = try metadata.encoded()
        let metadataLength = Self.metadataChunkLength(forJSONByteCount: json.count)
        guard metadataLength <= Layout.maxMetadataByteCount else { throw .metadataTooLarge(json.count) }
        pusher = SecretStreamPusher(key: fileKey.streamKey)
        header = try EnvelopeHeader.make(fileKey: fileKey, recipients: recipients, metadataLength: metadataLength, streamHeader: pusher.header)
        declaredSize = metadata.size

        let metadataChunk = SecureBytes(count: metadataLength)
        metadataChunk.withUnsafeMutableBytes { chunk in
            chunk.copyBytes(from: bigEndian32(UInt32(json.count)))
            UnsafeMutableRawBufferPointer(rebasing: chunk[Layout.chunkLengthFieldByteCount...]).copyBytes(from: json)
        }
        var first = header.bytes + pusher.header.bytes
        var sealedMetadata = [UInt8](repeating: 0, count: metadataLength + SecretStream.chunkOverhead)
        let pusher = self.pusher
        metadataChunk.withUnsafeBytes { chunk in
            sealedMetadata.withUnsafeMutableBytes { out in _ = pusher.push(chunk, tag: .message, into: out) }
        }
        first += sealedMetadata
        prefix = first
        if keepingCheckpoints, let size = metadata.size {
            let checkpoints = SealingCheckpoints(header: header, prefix: first, streamHeader: pusher.header, contentLength: size)
            checkpoints.record(beforeChunk: 0, from: pusher)
            self.checkpoints = checkpoints
        } else {
            checkpoints = nil
        }
    }

    /// A writer positioned before payload chunk `chunk` of the envelope `checkpoints` describe,
    /// its stream continued from `pusher` (see ``SealingCheckpoints/writer(at:)``).
    init(resuming checkpoints: SealingCheckpoints, pusher: SecretStreamPusher, chunk: UInt64) {
        self.pusher = pusher
        self.checkpoints = checkpoints
        header = checkpoints.header
        prefix = checkpoints.prefix
        declaredSize = checkpoints.contentLength
        emittedCapacity = chunk * UInt64(Layout.chunkCapacity)
        contentLength = Swift.min(emittedCapacity, checkpoints.contentLength)
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
        try append(content, sealingInto: { count, seal in try emitFromOwnBuffer(count, seal, emit) })
    }

    /// Adds content. Each chunk that fills is encrypted straight into the space `output` gives.
    public func append(_ content: UnsafeRawBufferPointer, sealingInto output: SealInto) rethrows {
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
                try sealChunk(plaintextLength: Layout.chunkPlaintextByteCount, tag: .message, output: output)
            }
        }
    }

    /// Pads the content to its PADMÉ length, emits the remaining chunks and the final one, and
    /// returns the content length. Throws ``SealingError/sizeMismatch(declared:actual:)`` if
    /// the metadata declared another size (then nothing more is emitted and the caller must
    /// discard what it wrote), or whatever `emit` throws.
    @discardableResult
    public func finish(emit: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt64 {
        try finish(sealingInto: { count, seal in try emitFromOwnBuffer(count, seal, emit) })
    }

    /// Like ``finish(emit:)``, sealing the last chunks straight into the space `output` gives.
    @discardableResult
    public func finish(sealingInto output: SealInto) throws -> UInt64 {
        precondition(!finished, "finish called twice")
        defer { plaintext.zero() }
        finished = true
        if contentLength > Layout.maxContentLength { throw SealingError.contentTooLarge }
        if let declaredSize, declaredSize != contentLength {
            throw SealingError.sizeMismatch(declared: declaredSize, actual: contentLength)
        }
        var remainingCapacity = Layout.padme(contentLength) - emittedCapacity
        while remainingCapacity >= UInt64(Layout.chunkCapacity) {
            try sealChunk(plaintextLength: Layout.chunkPlaintextByteCount, tag: .message, output: output)
            remainingCapacity -= UInt64(Layout.chunkCapacity)
        }
        try sealChunk(plaintextLength: Layout.chunkLengthFieldByteCount + Int(remainingCapacity), tag: .final, output: output)
        return contentLength
    }

    /// Content bytes appended so far.
    public var contentByteCount: UInt64 { contentLength }

    /// Seals the buffered chunk into the space `output` gives.
    private func sealChunk(plaintextLength: Int, tag: SecretStreamTag, output: SealInto) rethrows {
        let count = buffered
        let pusher = self.pusher
        checkpoints?.record(beforeChunk: emittedCapacity / UInt64(Layout.chunkCapacity), from: pusher)
        try plaintext.withUnsafeMutableBytes { chunk in
            chunk.copyBytes(from: bigEndian32(UInt32(count)))
            // Filler after the content is zero.
            let fillStart = Layout.chunkLengthFieldByteCount + count
            if fillStart < plaintextLength {
                UnsafeMutableRawBufferPointer(rebasing: chunk[fillStart..<plaintextLength]).initializeMemory(as: UInt8.self, repeating: 0)
            }
            let message = UnsafeRawBufferPointer(rebasing: chunk[..<plaintextLength])
            try output(plaintextLength + SecretStream.chunkOverhead) { space in
                _ = pusher.push(message, tag: tag, into: space)
            }
        }
        buffered = 0
        emittedCapacity += UInt64(plaintextLength - Layout.chunkLengthFieldByteCount)
    }

    /// Seals into the writer's own buffer, then hands the sealed chunk to `emit`.
    private func emitFromOwnBuffer(_ count: Int, _ seal: (UnsafeMutableRawBufferPointer) -> Void,
                                   _ emit: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        if ciphertext.isEmpty { ciphertext = [UInt8](repeating: 0, count: Layout.fullChunkByteCount) }
        try ciphertext.withUnsafeMutableBytes { buffer in
            let space = UnsafeMutableRawBufferPointer(rebasing: buffer[..<count])
            seal(space)
            try emit(UnsafeRawBufferPointer(space))
        }
    }
}
