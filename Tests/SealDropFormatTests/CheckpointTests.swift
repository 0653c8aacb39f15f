import SealDropCrypto
import SealDropFormat
import SealDropKeys
import Testing

/// Sealing again from a checkpoint: the bytes a resumed upload sends must be exactly the
/// envelope's, from any offset, without the ciphertext kept anywhere.
@Suite("Sealing checkpoints")
struct CheckpointTests {
    let key = SecretKey.generate()

    /// Seals `content` in 1 MiB pieces while keeping checkpoints.
    func seal(_ content: [UInt8]) throws -> (envelope: [UInt8], checkpoints: SealingCheckpoints) {
        let writer = try EnvelopeWriter(recipients: [key.publicKey], metadata: Metadata(name: "f.bin", size: UInt64(content.count), sealedBy: .source),
                                        keepingCheckpoints: true)
        var out = writer.prefix
        var offset = 0
        while offset < content.count {
            let end = min(offset + (1 << 20), content.count)
            content[offset..<end].withUnsafeBytes { piece in writer.append(piece) { out += $0 } }
            offset = end
        }
        try writer.finish { out += $0 }
        return (out, try #require(writer.checkpoints))
    }

    /// The envelope's bytes from `offset` on, sealed again from the checkpoint before it.
    func resealed(_ content: [UInt8], from offset: UInt64, with checkpoints: SealingCheckpoints) throws -> [UInt8] {
        let point = checkpoints.resumePoint(at: offset)
        let writer = checkpoints.writer(at: point)
        var out = point.includesPrefix ? checkpoints.prefix : []
        content[Int(point.contentOffset)...].withUnsafeBytes { rest in writer.append(rest) { out += $0 } }
        try writer.finish { out += $0 }
        return Array(out.dropFirst(Int(point.skip)))
    }

    @Test("from any offset (in the prefix, at and around chunk boundaries and checkpoints, in the padding, at the end) the same bytes again")
    func anyOffset() throws {
        // 300 full chunks and some: checkpoints at chunks 0, 128 and 256.
        let content = randomBytes(count: 300 * Layout.chunkCapacity + 12_345)
        let (envelope, checkpoints) = try seal(content)
        #expect(UInt64(envelope.count) == checkpoints.sealedLength)
        #expect(checkpoints.interval == 128 && checkpoints.recordedCount == 3)
        let prefix = checkpoints.prefix.count, chunk = Layout.fullChunkByteCount
        let offsets = [0, 1, prefix - 1, prefix, prefix + 1, prefix + 127 * chunk, prefix + 128 * chunk - 1, prefix + 128 * chunk,
                       prefix + 128 * chunk + 1, prefix + 200 * chunk + 77, prefix + 256 * chunk, prefix + 299 * chunk + 5,
                       envelope.count - 22, envelope.count - 1, envelope.count]
        for offset in offsets {
            let again = try resealed(content, from: UInt64(offset), with: checkpoints)
            #expect(again == Array(envelope[offset...]), "from \(offset)")
        }
        // Resuming past a checkpoint starts there, not at the beginning.
        #expect(checkpoints.resumePoint(at: UInt64(prefix + 200 * chunk)).chunk == 128)
    }

    @Test("from the first state alone (what a state file keeps), sealing again keeps the later checkpoints on the way")
    func fromFirstState() throws {
        let content = randomBytes(count: 140 * Layout.chunkCapacity)
        let (envelope, original) = try seal(content)
        let state = SecureBytes(count: SecretStreamPusher.stateByteCount)
        state.withUnsafeMutableBytes { original.copyFirstState(into: $0) }
        let restored = try state.withUnsafeBytes { try SealingCheckpoints(prefix: original.prefix, contentLength: UInt64(content.count), firstState: $0) }
        #expect(restored.recordedCount == 1)
        let offset = UInt64(original.prefix.count + 135 * Layout.fullChunkByteCount + 9)
        #expect(restored.resumePoint(at: offset).chunk == 0)
        #expect(try resealed(content, from: offset, with: restored) == Array(envelope[Int(offset)...]))
        #expect(restored.recordedCount == 2 && restored.resumePoint(at: offset).chunk == 128)
        // A prefix that is not an envelope's start is refused.
        #expect(throws: EnvelopeError.self) {
            try state.withUnsafeBytes { try SealingCheckpoints(prefix: Array(original.prefix.dropLast()), contentLength: 1, firstState: $0) }
        }
    }

    @Test("an empty file and a one-chunk file resume too")
    func small() throws {
        for size in [0, 1, 65_532] {
            let content = randomBytes(count: size)
            let (envelope, checkpoints) = try seal(content)
            for offset in [0, checkpoints.prefix.count, envelope.count - 1] {
                #expect(try resealed(content, from: UInt64(offset), with: checkpoints) == Array(envelope[offset...]), "\(size) from \(offset)")
            }
        }
    }
}
