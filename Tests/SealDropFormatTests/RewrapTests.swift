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
        let streamHeader = Array(payload.prefix(Layout.streamHeaderByteCount))
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
}
