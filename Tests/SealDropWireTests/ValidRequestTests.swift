import NIOCore
import NIOEmbedded
import NIOTestUtils
import SealDropWire
import Testing

/// A valid request, its bytes, and the head and body the decoder must produce from it.
struct Sample: CustomStringConvertible {
    var label: String
    var bytes: [UInt8]
    var head: RequestHead
    var body: [UInt8]

    var description: String { self.label }

    init(_ label: String, head: String, body: [UInt8] = [], expecting expected: RequestHead) {
        self.label = label
        self.bytes = head.bytes + body
        self.head = expected
        self.body = body
    }

    var expectedOutcome: Outcome {
        var outcome = Outcome()
        outcome.head = self.head
        outcome.body = self.body
        outcome.ended = true
        return outcome
    }

    var expectedParts: [RequestPart] {
        var parts: [RequestPart] = [.head(self.head)]
        if !self.body.isEmpty {
            parts.append(.body(ByteBuffer(bytes: self.body)))
        }
        parts.append(.end)
        return parts
    }
}

/// A body holding every byte value, including CR, LF and NUL, which mean nothing inside a body.
let binaryBody: [UInt8] = (0..<600).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) } + "\n\r\n\0".bytes

let samples: [Sample] = [
    Sample(
        "PUT with all headers, LF",
        head: "SEALDROP/1 PUT \(binaryBody.count)\nName: leak.pdf\nMessage: from the third floor\nType: application/pdf\n\n",
        body: binaryBody,
        expecting: RequestHead(
            verb: .put,
            contentLength: UInt64(binaryBody.count),
            name: "leak.pdf",
            message: "from the third floor",
            mediaType: "application/pdf"
        )
    ),
    Sample(
        "PUT with CRLF, mixed-case names, padded values",
        head: "SEALDROP/1 PUT 5\r\nnAmE: \t report.txt \t\r\nMESSAGE:hi\r\ntype:  text/plain\r\n\r\n",
        body: "hello".bytes,
        expecting: RequestHead(verb: .put, contentLength: 5, name: "report.txt", message: "hi", mediaType: "text/plain")
    ),
    Sample(
        "PUT with mixed line ends and unknown headers",
        head: "SEALDROP/1 PUT 3\r\nX-Client: nc\nName: a b\r\nX-Client: again\n\r\n",
        body: "abc".bytes,
        expecting: RequestHead(verb: .put, contentLength: 3, name: "a b")
    ),
    Sample(
        "SEALED without headers",
        head: "SEALDROP/1 SEALED 4\n\n",
        body: [0x00, 0xFF, 0x0A, 0x0D],
        expecting: RequestHead(verb: .sealed, contentLength: 4)
    ),
    Sample(
        "KEYS",
        head: "SEALDROP/1 KEYS\n\n",
        expecting: RequestHead(verb: .keys, contentLength: 0)
    ),
    Sample(
        "KEYS with CRLF and a header",
        head: "SEALDROP/1 KEYS\r\nX-Trace: 1\r\n\r\n",
        expecting: RequestHead(verb: .keys, contentLength: 0)
    ),
    Sample(
        "CREATE: a length, and no body",
        head: "SEALDROP/1 CREATE 268435456\n\n",
        expecting: RequestHead(verb: .create, contentLength: 0, uploadLength: 268_435_456)
    ),
    Sample(
        "OFFSET with its headers",
        head: "SEALDROP/1 OFFSET\nUpload: k7q2m4xw3bz5r6tn2a4pdv7e\nTOKEN: 0123456789abcdef0123456789abcdef\n\n",
        expecting: RequestHead(verb: .offset, contentLength: 0, upload: "k7q2m4xw3bz5r6tn2a4pdv7e", token: "0123456789abcdef0123456789abcdef")
    ),
    Sample(
        "APPEND: the body is the rest of the upload",
        head: "SEALDROP/1 APPEND 3\r\nUpload: u\r\nToken: t\r\nOffset: 65553\r\n\r\n",
        body: [1, 2, 3],
        expecting: RequestHead(verb: .append, contentLength: 3, upload: "u", token: "t", offset: 65553)
    ),
    Sample(
        "zero-byte PUT",
        head: "SEALDROP/1 PUT 0\nName: empty.txt\n\n",
        expecting: RequestHead(verb: .put, contentLength: 0, name: "empty.txt")
    ),
    Sample(
        "UTF-8 values, inner tab, empty message",
        head: "SEALDROP/1 PUT 1\nName: Überweisung 日本語 📄.pdf\nMessage:\nType: a\tb\n\n",
        body: [0x2A],
        expecting: RequestHead(verb: .put, contentLength: 1, name: "Überweisung 日本語 📄.pdf", message: "", mediaType: "a\tb")
    ),
]

@Suite("Valid requests")
struct ValidRequestTests {
    @Test("ByteToMessageDecoderVerifier: whole, byte by byte, and many requests in one buffer")
    func verifier() throws {
        // The verifier runs all samples through one decoder, so it uses the back-to-back adapter
        // around the real parser; `splitsThroughChannel` covers the real RequestDecoder.
        let pairs = samples.map { (ByteBuffer(bytes: $0.bytes), $0.expectedParts) }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) {
            BackToBackRequestDecoder()
        }
    }

    @Test("Whole, single bytes and random splits through EmbeddedChannel give one result", arguments: samples)
    func splitsThroughChannel(sample: Sample) throws {
        var rng = SeededGenerator(seed: 0x5EA1_D409)
        var feeds = [Split.whole(sample.bytes), Split.single(sample.bytes), Split.fixed(sample.bytes, size: 7)]
        for _ in 0..<40 {
            feeds.append(Split.random(sample.bytes, using: &rng))
        }
        for chunks in feeds {
            let (outcome, clean) = try decodeThroughChannel(chunks)
            #expect(outcome == sample.expectedOutcome, "\(chunks.count) chunks")
            #expect(clean == true)
        }
    }

    @Test("The body arrives as slices of what was received, never beyond the declared length")
    func bodyIsPassedThroughAsItArrives() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RequestDecoder()))
        defer { _ = try? channel.finish() }  // an open channel and its handlers hold each other
        try channel.writeInbound(ByteBuffer(string: "SEALDROP/1 PUT 10\n\nabc"))
        #expect(try channel.readInbound(as: RequestPart.self) == .head(RequestHead(verb: .put, contentLength: 10)))
        #expect(try channel.readInbound(as: RequestPart.self) == .body(ByteBuffer(string: "abc")))
        #expect(try channel.readInbound(as: RequestPart.self) == nil)

        try channel.writeInbound(ByteBuffer(string: "defg"))
        #expect(try channel.readInbound(as: RequestPart.self) == .body(ByteBuffer(string: "defg")))
        #expect(try channel.readInbound(as: RequestPart.self) == nil)

        try channel.writeInbound(ByteBuffer(string: "hij"))
        #expect(try channel.readInbound(as: RequestPart.self) == .body(ByteBuffer(string: "hij")))
        #expect(try channel.readInbound(as: RequestPart.self) == .end)
        #expect(try channel.readInbound(as: RequestPart.self) == nil)
        #expect(try channel.finish().isClean)
    }

    @Test("A zero-byte PUT decodes to head then end in the same read (BAD-INPUTS 5)")
    func zeroBytePut() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RequestDecoder()))
        defer { _ = try? channel.finish() }  // an open channel and its handlers hold each other
        try channel.writeInbound(ByteBuffer(string: "SEALDROP/1 PUT 0\n\n"))
        #expect(try channel.readInbound(as: RequestPart.self) == .head(RequestHead(verb: .put, contentLength: 0)))
        #expect(try channel.readInbound(as: RequestPart.self) == .end)
        #expect(try channel.readInbound(as: RequestPart.self) == nil)
        #expect(try channel.finish().isClean)
    }

    @Test("A zero-length SEALED is framed like any other; judging the envelope is the server's job")
    func zeroLengthSealed() throws {
        let (outcome, clean) = try decodeThroughChannel([ "SEALDROP/1 SEALED 0\n\n".bytes ])
        #expect(outcome.head == RequestHead(verb: .sealed, contentLength: 0))
        #expect(outcome.ended && outcome.error == nil && outcome.body.isEmpty)
        #expect(clean == true)
    }

    @Test("A length exactly at the maximum body size is accepted")
    func lengthAtTheLimit() throws {
        let limits = WireLimits(maxBodyBytes: 1000)
        let request = "SEALDROP/1 PUT 1000\n\n".bytes + [UInt8](repeating: 0x41, count: 1000)
        let (outcome, clean) = try decodeThroughChannel(Split.fixed(request, size: 100), limits: limits)
        #expect(outcome.head?.contentLength == 1000)
        #expect(outcome.body.count == 1000 && outcome.ended && outcome.error == nil)
        #expect(clean == true)

        let largest = try decodeThroughChannel(["SEALDROP/1 PUT 8589934592\n\n".bytes], close: false).outcome
        #expect(largest.head?.contentLength == 8 << 30 && largest.error == nil)
    }

    @Test("Lines of exactly the limit are accepted, with LF and with CRLF")
    func lineAtTheLimit() throws {
        let limits = WireLimits(maxHeaderLineBytes: 64)
        let value = String(repeating: "v", count: 64 - "Name: ".count)
        for ending in ["\n", "\r\n"] {
            let request = "SEALDROP/1 PUT 0\(ending)Name: \(value)\(ending)\(ending)".bytes
            for chunks in [Split.whole(request), Split.single(request)] {
                let (outcome, clean) = try decodeThroughChannel(chunks, limits: limits)
                #expect(outcome.head?.name == value && outcome.ended && outcome.error == nil)
                #expect(clean == true)
            }
        }
    }

    @Test("Exactly maxHeaderLines header lines are accepted, unknown ones included")
    func headerCountAtTheLimit() throws {
        let limits = WireLimits(maxHeaderLines: 5)
        let request = "SEALDROP/1 KEYS\nA: 1\nB: 2\nName: n\nC: 3\nD: 4\n\n".bytes
        let (outcome, clean) = try decodeThroughChannel(Split.single(request), limits: limits)
        #expect(outcome.head == RequestHead(verb: .keys, contentLength: 0, name: "n"))
        #expect(outcome.ended && outcome.error == nil)
        #expect(clean == true)
    }

    @Test("A length of 0 is written `0`; other lengths without leading zeros")
    func canonicalLengths() throws {
        for (text, length) in [("0", UInt64(0)), ("7", 7), ("10", 10), ("1000", 1000)] {
            let outcome = try decodeThroughChannel(["SEALDROP/1 PUT \(text)\n\n".bytes], close: false).outcome
            #expect(outcome.head?.contentLength == length, "\(text)")
            #expect(outcome.error == nil)
        }
    }

    @Test("A head split at every possible point, with a body arriving in the same chunk as the blank line")
    func everySplitPoint() throws {
        let sample = samples[1]
        for cut in 1..<sample.bytes.count {
            let chunks = [Array(sample.bytes[..<cut]), Array(sample.bytes[cut...])]
            let (outcome, clean) = try decodeThroughChannel(chunks)
            #expect(outcome == sample.expectedOutcome, "cut at \(cut)")
            #expect(clean == true)
        }
    }
}
