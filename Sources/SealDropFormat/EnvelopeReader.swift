public import SealDropCrypto

/// Opens a v1 submission as it streams, one authenticated chunk at a time, in memory
/// independent of the file's size. Nothing is released before its chunk authenticated; the
/// caller still learns of truncation only at the end, so it must write output under a temporary
/// name and keep it only if ``nextContent(_:)`` reached the end without throwing.
public final class EnvelopeReader<Source: ByteSource> {
    /// The parsed header.
    public let header: EnvelopeHeader
    /// The metadata chunk, available once the reader is open.
    public private(set) var metadata: Metadata
    /// The key that opened the submission.
    public let openedWith: SecretKey

    private var source: Source
    private let puller: SecretStreamPuller
    private var ciphertext = [UInt8](repeating: 0, count: Layout.fullChunkByteCount)
    private let plaintext = SecureBytes(count: Layout.chunkPlaintextByteCount)
    private var chunkIndex = 1
    private var contentEnded = false
    private var done = false
    /// Content bytes released so far.
    public private(set) var contentByteCount: UInt64 = 0

    /// Reads and parses the header from `source` without any key (for `inspect` and `list`).
    public static func readHeader(from source: inout Source) throws -> EnvelopeHeader {
        var prefix = [UInt8](repeating: 0, count: Layout.fixedHeaderByteCount)
        let got = try prefix.withUnsafeMutableBytes { try source.readFully(into: $0) }
        prefix.removeLast(prefix.count - got)
        if got < Layout.fixedHeaderByteCount {
            _ = try EnvelopeHeader.parse(prefix: prefix)
            throw EnvelopeError.malformedHeader("the file ends inside the header")
        }
        guard try EnvelopeHeader.parse(prefix: prefix) == nil else { preconditionFailure("fixed header cannot be whole") }
        let total = Layout.headerByteCount(recipients: Int(prefix[9]))
        var rest = [UInt8](repeating: 0, count: total - prefix.count)
        let more = try rest.withUnsafeMutableBytes { try source.readFully(into: $0) }
        guard more == rest.count, let header = try EnvelopeHeader.parse(prefix: prefix + rest) else {
            throw EnvelopeError.malformedHeader("the file ends inside the header")
        }
        return header
    }

    /// Reads the header, finds the matching key among `keys` by key ID, verifies the header MAC,
    /// and opens the metadata chunk.
    public convenience init(source: Source, keys: [SecretKey]) throws {
        var input = source
        let header = try Self.readHeader(from: &input)
        try self.init(header: header, remaining: input, keys: keys)
    }

    /// Continues from a header already read from `remaining` (which is positioned just after it).
    public convenience init(header: EnvelopeHeader, remaining: Source, keys: [SecretKey]) throws {
        var input = remaining
        let streamHeader = try Self.readStreamHeader(after: header, from: &input, keys: keys)
        try self.init(header: header, streamHeader: streamHeader, remaining: input, keys: keys)
    }

    /// Reads the stream header that follows `header`. A submission none of `keys` is sealed to
    /// is ``EnvelopeError/noMatchingKey(_:)`` even when it is cut short here; otherwise a file
    /// that ends inside the stream header is ``EnvelopeError/truncatedStreamHeader`` (a payload
    /// failure: the stream header is the payload's first field).
    static func readStreamHeader(after header: EnvelopeHeader, from source: inout Source, keys: [SecretKey]) throws -> SecretStreamHeader {
        var bytes = [UInt8](repeating: 0, count: SecretStreamHeader.byteCount)
        let got = try bytes.withUnsafeMutableBytes { try source.readFully(into: $0) }
        guard header.keyIDs.contains(where: { id in keys.contains { $0.publicKey.keyID == id } }) else {
            throw EnvelopeError.noMatchingKey(header.keyIDs)
        }
        guard got == bytes.count, let streamHeader = try? SecretStreamHeader(bytes: bytes) else { throw EnvelopeError.truncatedStreamHeader }
        return streamHeader
    }

    /// Continues from a header and stream header already read from `remaining` (positioned
    /// at the metadata chunk).
    public init(header: EnvelopeHeader, streamHeader: SecretStreamHeader, remaining: Source, keys: [SecretKey]) throws {
        self.header = header
        source = remaining
        let (fileKey, key) = try header.unwrapFileKey(withAnyOf: keys, streamHeader: streamHeader)
        openedWith = key
        do { puller = try SecretStreamPuller(key: fileKey.streamKey, header: streamHeader) } catch {
            throw EnvelopeError.chunkAuthenticationFailed(chunk: 0)
        }
        metadata = Metadata(sealedBy: .server)
        let json = try readMetadataChunk()
        metadata = try Metadata.decode(json)
    }

    private func readMetadataChunk() throws -> [UInt8] {
        let length = header.metadataLength + SecretStream.chunkOverhead
        let got = try ciphertext.withUnsafeMutableBytes { try source.readFully(into: UnsafeMutableRawBufferPointer(rebasing: $0[..<length])) }
        guard got == length else { throw EnvelopeError.truncated }
        let tag = try pull(count: length, chunk: 0)
        guard tag == .message else { throw EnvelopeError.malformedChunk(chunk: 0, "the metadata chunk must have the message tag") }
        let count = try lengthField(plaintextLength: header.metadataLength, chunk: 0)
        return plaintext.withUnsafeBytes { Array($0[Layout.chunkLengthFieldByteCount..<Layout.chunkLengthFieldByteCount + count]) }
    }

    /// Decrypts the next chunk and passes its content bytes (possibly none) to `body`. Returns
    /// false once the final chunk was verified and nothing follows it; throws on any failure.
    /// When the metadata declares a `size`, a chunk that would take the content past it, or a
    /// final chunk that leaves it short, is ``EnvelopeError/contentSizeMismatch(declared:actual:complete:)``.
    public func nextContent(_ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        guard !done else { return false }
        let got = try ciphertext.withUnsafeMutableBytes { try source.readFully(into: $0) }
        guard got > 0 else { throw EnvelopeError.truncated }
        guard got >= Layout.minimumChunkByteCount else {
            // Too short to be a chunk: the file was cut inside the last one.
            throw EnvelopeError.truncated
        }
        let index = chunkIndex
        chunkIndex += 1
        let tag = try pull(count: got, chunk: index)
        let plaintextLength = got - SecretStream.chunkOverhead
        switch tag {
        case .message:
            guard got == Layout.fullChunkByteCount else { throw EnvelopeError.truncated }
        case .final:
            var probe: [UInt8] = [0]
            let extra = try probe.withUnsafeMutableBytes { try source.read(into: $0) }
            guard extra == 0 else { throw EnvelopeError.trailingData }
            done = true
        case .push, .rekey:
            throw EnvelopeError.malformedChunk(chunk: index, "unexpected chunk tag \(tag.rawValue)")
        }
        let count = try lengthField(plaintextLength: plaintextLength, chunk: index)
        if contentEnded && count > 0 { throw EnvelopeError.malformedChunk(chunk: index, "content after the end of content") }
        if count < plaintextLength - Layout.chunkLengthFieldByteCount { contentEnded = true }
        if let declared = metadata.size {
            // Checked after the chunk passed every layout rule and before its content is released.
            let total = contentByteCount + UInt64(count)
            if total > declared { throw EnvelopeError.contentSizeMismatch(declared: declared, actual: total, complete: done) }
            if done && total < declared { throw EnvelopeError.contentSizeMismatch(declared: declared, actual: total, complete: true) }
        }
        contentByteCount += UInt64(count)
        try plaintext.withUnsafeBytes { chunk in
            try body(UnsafeRawBufferPointer(rebasing: chunk[Layout.chunkLengthFieldByteCount..<Layout.chunkLengthFieldByteCount + count]))
        }
        plaintext.zero()
        return !done
    }

    /// Authenticates every remaining chunk, passing content to `body`; returns the content length.
    @discardableResult
    public func readAll(_ body: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt64 {
        while try nextContent(body) {}
        return contentByteCount
    }

    private func pull(count: Int, chunk: Int) throws(EnvelopeError) -> SecretStreamTag {
        let puller = self.puller
        do {
            return try ciphertext.withUnsafeBytes { c throws(CryptoError) in
                try plaintext.withUnsafeMutableBytes { p throws(CryptoError) in
                    try puller.pull(UnsafeRawBufferPointer(rebasing: c[..<count]), into: p).tag
                }
            }
        } catch {
            throw .chunkAuthenticationFailed(chunk: chunk)
        }
    }

    /// Reads and checks a chunk's length field and its zero filler; returns the content count.
    private func lengthField(plaintextLength: Int, chunk: Int) throws(EnvelopeError) -> Int {
        guard plaintextLength >= Layout.chunkLengthFieldByteCount else { throw .malformedChunk(chunk: chunk, "too short") }
        return try plaintext.withUnsafeBytes { p throws(EnvelopeError) in
            let count = Int(p[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            guard count <= plaintextLength - Layout.chunkLengthFieldByteCount else {
                throw .malformedChunk(chunk: chunk, "length field \(count) exceeds the chunk")
            }
            guard p[(Layout.chunkLengthFieldByteCount + count)..<plaintextLength].allSatisfy({ $0 == 0 }) else {
                throw .malformedChunk(chunk: chunk, "non-zero padding")
            }
            return count
        }
    }
}
