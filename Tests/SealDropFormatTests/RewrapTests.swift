import SealDropCrypto
import SealDropFormat
import Testing

@Suite("Re-wrapping the file key for new recipients")
struct RewrapTests {
    @Test("after re-wrapping to B, B alone opens it, A no longer does, and the payload bytes are unchanged")
    func rewrap() throws {
        let a = SecretKey.generate(), b = SecretKey.generate()
        let content = randomBytes(count: 150_000)
        let original = try sealInMemory(content, to: [a.publicKey], metadata: Metadata(name: "x", sealedBy: .server))
        let header = try #require(try EnvelopeHeader.parse(prefix: original))
        let payload = Array(original[header.bytes.count...])
        let streamHeader = try SecretStreamHeader(bytes: Array(payload.prefix(Layout.streamHeaderByteCount)))
        let rewrapped = try header.rewrapped(streamHeader: streamHeader, keys: [a], to: [b.publicKey])
        let moved = rewrapped.bytes + payload
        #expect(open(moved, keys: [b]).content == content)
        #expect(open(moved, keys: [a]).outcome == .noMatch)
        #expect(Array(moved[rewrapped.bytes.count...]) == payload)
        // A header re-wrapped for another submission's payload does not fit this one.
        let other = try sealInMemory([1], to: [a.publicKey], metadata: Metadata(sealedBy: .server))
        let otherHeader = try #require(try EnvelopeHeader.parse(prefix: other))
        #expect(throws: EnvelopeError.headerMACMismatch) {
            try otherHeader.rewrapped(streamHeader: streamHeader, keys: [a], to: [b.publicKey])
        }
    }

    @Test("Rekeying.rewrap reads each byte once, copying exactly what it authenticated; a damaged chunk fails it")
    func oneAuthenticatingPass() throws {
        let a = SecretKey.generate(), b = SecretKey.generate()
        let content = randomBytes(count: 300_000)
        let original = try sealInMemory(content, to: [a.publicKey], metadata: Metadata(name: "x", sealedBy: .source))
        let header = try #require(try EnvelopeHeader.parse(prefix: original))
        let source = CountingSource(Array(original[header.bytes.count...]))
        var written: [UInt8] = []
        let newHeader = try Rekeying.rewrap(header: header, remaining: source, keys: [a], to: [b.publicKey]) { written += $0 }
        #expect(source.counter.bytes == original.count - header.bytes.count, "every byte after the header read exactly once")
        #expect(Array(written[..<newHeader.bytes.count]) == newHeader.bytes)
        #expect(Array(written[newHeader.bytes.count...]) == Array(original[header.bytes.count...]))
        #expect(open(written, keys: [b]).content == content)

        var damaged = original
        damaged[damaged.count - 70_000] ^= 1
        #expect(throws: EnvelopeError.self) {
            try Rekeying.rewrap(header: header, remaining: ArraySource(Array(damaged[header.bytes.count...])), keys: [a], to: [b.publicKey]) { _ in }
        }
        #expect(throws: EnvelopeError.noMatchingKey(header.keyIDs)) {
            try Rekeying.rewrap(header: header, remaining: ArraySource(Array(original[header.bytes.count...])), keys: [b], to: [a.publicKey]) { _ in }
        }
    }
}

/// Counts the bytes read through it.
final class ReadCounter { var bytes = 0 }

struct CountingSource: ByteSource {
    var base: ArraySource
    let counter = ReadCounter()
    init(_ bytes: [UInt8]) { base = ArraySource(bytes) }
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try base.read(into: buffer)
        counter.bytes += n
        return n
    }
}
