import Foundation
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import Testing

/// Seals `content` with the real writer, feeding it in pieces of `pieceSize`.
func sealInMemory(_ content: [UInt8], to recipients: [PublicKey], metadata: Metadata, pieceSize: Int = 10_000) throws -> [UInt8] {
    let writer = try EnvelopeWriter(recipients: recipients, metadata: metadata)
    var out = writer.prefix
    var offset = 0
    while offset < content.count {
        let end = min(offset + pieceSize, content.count)
        content[offset..<end].withUnsafeBytes { piece in writer.append(piece) { out += $0 } }
        offset = end
    }
    try writer.finish { out += $0 }
    return out
}

@Suite("Format v1 round trips")
struct RoundTripTests {
    let key = SecretKey.generate()

    @Test("content of any length comes back byte for byte, whatever the piece size",
          arguments: [0, 1, 2, 100, 4095, 65_531, 65_532, 65_533, 131_064, 200_001], [1, 4096, 65_536, 1 << 20])
    func roundTrip(length: Int, pieceSize: Int) throws {
        if pieceSize == 1 && length > 5000 { return }  // byte-at-a-time on large inputs only costs time
        let content = randomBytes(count: length)
        let metadata = Metadata(name: "f.bin", size: UInt64(length), sealedBy: .source)
        let sealed = try sealInMemory(content, to: [key.publicKey], metadata: metadata, pieceSize: pieceSize)
        let result = open(sealed, keys: [key])
        #expect(result.outcome == .success)
        #expect(result.content == content)
        #expect(UInt64(sealed.count) == Layout.sealedByteCount(contentLength: UInt64(length), recipients: 1, metadataLength: 4096))
    }

    @Test("metadata survives: name, type, size, time, message, sealer")
    func metadataRoundTrip() throws {
        let metadata = Metadata(name: "../../etc/passwd\u{202E}fdp.exe", mediaType: "text/plain", size: 3,
                                time: Date(timeIntervalSince1970: 1_800_000_000), message: "line one\nline two \u{1B}[31m", sealedBy: .server)
        let sealed = try sealInMemory([1, 2, 3], to: [key.publicKey], metadata: metadata)
        let reader = try EnvelopeReader(source: ArraySource(sealed), keys: [key])
        #expect(reader.metadata == metadata)
    }

    @Test("a declared size that does not match the content is refused at finish")
    func sizeMismatch() throws {
        let writer = try EnvelopeWriter(recipients: [key.publicKey], metadata: Metadata(size: 10, sealedBy: .source))
        [UInt8](repeating: 1, count: 9).withUnsafeBytes { writer.append($0) { _ in } }
        #expect(throws: SealingError.sizeMismatch(declared: 10, actual: 9)) { try writer.finish { _ in } }
    }

    @Test("metadata too large for the metadata chunk is refused before anything is written")
    func metadataTooLarge() {
        let metadata = Metadata(message: String(repeating: "x", count: 70_000), sealedBy: .source)
        #expect(throws: SealingError.self) { try EnvelopeWriter(recipients: [key.publicKey], metadata: metadata) }
    }

    @Test("recipient counts outside 1...32 are refused")
    func recipientCount() {
        #expect(throws: SealingError.badRecipientCount(0)) { try EnvelopeWriter(recipients: [], metadata: Metadata(sealedBy: .source)) }
        let many = (0..<33).map { _ in SecretKey.generate().publicKey }
        #expect(throws: SealingError.badRecipientCount(33)) { try EnvelopeWriter(recipients: many, metadata: Metadata(sealedBy: .source)) }
    }

    @Test("any one of several recipients opens the submission alone; others do not")
    func severalRecipients() throws {
        let others = [SecretKey.generate(), SecretKey.generate()]
        let outsider = SecretKey.generate()
        let sealed = try sealInMemory([9, 9, 9], to: [key.publicKey] + others.map(\.publicKey), metadata: Metadata(sealedBy: .source))
        for k in [key] + others { #expect(open(sealed, keys: [k]).content == [9, 9, 9]) }
        let miss = open(sealed, keys: [outsider])
        #expect(miss.outcome == .noMatch)
        #expect(miss.error == .noMatchingKey([key.publicKey.keyID] + others.map(\.publicKey.keyID)))
    }

    @Test("the header parses incrementally and never from more than the maximum header size")
    func incrementalHeaderParse() throws {
        let sealed = try sealInMemory([1], to: [key.publicKey, SecretKey.generate().publicKey], metadata: Metadata(sealedBy: .source))
        let headerLength = Layout.headerByteCount(recipients: 2)
        for cut in 0..<headerLength { #expect(try EnvelopeHeader.parse(prefix: sealed.prefix(cut)) == nil) }
        let header = try #require(try EnvelopeHeader.parse(prefix: sealed))
        #expect(header.bytes.count == headerLength)
        #expect(throws: EnvelopeError.notASubmission) { try EnvelopeHeader.parse(prefix: Array("SEALDRUP".utf8)) }
        #expect(Layout.isPossibleTotalLength(UInt64(sealed.count), recipients: 2, metadataLength: header.metadataLength))
        let prefix = UInt64(headerLength + 24 + 4096 + 17)
        #expect(!Layout.isPossibleTotalLength(prefix + UInt64(Layout.fullChunkByteCount) + 5, recipients: 2, metadataLength: 4096))
        #expect(!Layout.isPossibleTotalLength(prefix + 20, recipients: 2, metadataLength: 4096))
        #expect(Layout.isPossibleTotalLength(prefix + UInt64(Layout.fullChunkByteCount), recipients: 2, metadataLength: 4096))
    }
}

@Suite("PADMÉ padding")
struct PaddingTests {
    @Test("padding never shrinks, adds at most 12 %, and leaves few distinct sizes")
    func padmeBounds() {
        var sizes = Set<UInt64>()
        for length in stride(from: UInt64(1), through: 1 << 24, by: 997) {
            let padded = Layout.padme(length)
            #expect(padded >= length)
            #expect(Double(padded - length) <= 0.12 * Double(length) + 1)
            sizes.insert(padded)
        }
        #expect(sizes.count < 1000)
        #expect(Layout.padme(0) == 0 && Layout.padme(1) == 1)
        #expect(Layout.padme(1 << 30) == 1 << 30)
        #expect(Layout.padme((1 << 30) + 1) == (1 << 30) + (1 << 25))
    }
}
