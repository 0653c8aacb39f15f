import NIOCore
import NIOEmbedded
import SealDropWire
import Testing

func wire(_ reply: Reply) -> String {
    var buffer = ByteBuffer()
    reply.write(into: &buffer)
    return String(buffer: buffer)
}

@Suite("Replies and error codes")
struct ReplyTests {
    @Test("OK <receipt>")
    func okReceipt() {
        #expect(wire(.ok(receipt: "20261127-a1B2c3")) == "OK 20261127-a1B2c3\n")
    }

    @Test("ERR <code> <reason>")
    func errorReply() {
        #expect(wire(.error(.tooLarge, "declared length is above the maximum body size"))
            == "ERR too-large declared length is above the maximum body size\n")
        #expect(wire(Reply(ProtocolError(.busy))) == "ERR busy too many connections, try again later\n")
    }

    @Test("A reason is written as one line of printable ASCII, cut to the maximum")
    func reasonIsSanitized() {
        #expect(wire(.error(.badHeader, "a\nb\r\u{1B}[31mé\u{202E}")) == "ERR bad-header a?b??[31m??\n")
        #expect(wire(.error(.quota, "")) == "ERR quota spool quota exceeded\n")
        let long = wire(.error(.serverError, String(repeating: "x", count: 1000)))
        #expect(long == "ERR server-error " + String(repeating: "x", count: Reply.maxReasonLength) + "\n")
    }

    @Test("KEYS: OK <byte-count>, then exactly that many bytes")
    func document() {
        let text = "# SealDrop recipients\nsealdrop1qexample\n# née\n"
        var buffer = ByteBuffer()
        Reply.document(ByteBuffer(string: text)).write(into: &buffer)
        let header = "OK \(text.utf8.count)\n"
        #expect(buffer.readString(length: header.utf8.count) == header)
        #expect(buffer.readString(length: buffer.readableBytes) == text)
        #expect(wire(.document(ByteBuffer())) == "OK 0\n")
    }

    @Test("Receipts are 1 to 128 characters of [A-Za-z0-9-]")
    func receiptValidation() {
        #expect(Reply.isValidReceipt("abc-XYZ-019"))
        #expect(Reply.isValidReceipt(String(repeating: "a", count: 128)))
        for bad in ["", String(repeating: "a", count: 129), "a b", "a\n", "a_b", "é", "../x", "a\0"] {
            #expect(!Reply.isValidReceipt(bad), "\(bad.debugDescription)")
        }
    }

    @Test("Writing an invalid receipt is a programming error")
    func invalidReceiptTraps() async {
        await #expect(processExitsWith: .failure) {
            var buffer = ByteBuffer()
            Reply.ok(receipt: "not a receipt\n").write(into: &buffer)
        }
    }

    @Test("CREATE: OK <upload> <token>; OFFSET: OK <offset>")
    func resumableReplies() {
        #expect(wire(.created(upload: "k7q2m4xw3bz5r6tn2a4pdv7e", token: "0123456789abcdef0123456789abcdef"))
            == "OK k7q2m4xw3bz5r6tn2a4pdv7e 0123456789abcdef0123456789abcdef\n")
        #expect(wire(.offset(0)) == "OK 0\n")
        #expect(wire(.offset(268_435_456)) == "OK 268435456\n")
    }

    @Test("ReplyEncoder writes the same bytes in a pipeline")
    func encoder() throws {
        let channel = EmbeddedChannel(handler: MessageToByteHandler(ReplyEncoder()))
        defer { _ = try? channel.finish() }  // an open channel and its handlers hold each other
        try channel.writeOutbound(Reply.error(.truncated, ErrorCode.truncated.defaultReason))
        let written = try channel.readOutbound(as: ByteBuffer.self)
        #expect(written.map { String(buffer: $0) } == "ERR truncated connection closed before the request was complete\n")
        #expect(try channel.finish().isClean)
    }

    @Test("The error codes are exactly the documented, stable words")
    func errorCodesAreStable() {
        #expect(ErrorCode.allCases.map(\.rawValue) == [
            "bad-request", "unsupported-version", "unknown-verb", "bad-length", "too-large", "header-too-long",
            "too-many-headers", "bad-header", "trailing-data", "truncated", "header-timeout", "idle-timeout", "busy",
            "quota", "disk-full", "bad-envelope", "not-addressed", "server-error", "unknown-upload", "bad-token",
            "offset-mismatch", "past-end", "upload-finished", "upload-expired", "taken-over",
        ])
        for code in ErrorCode.allCases {
            #expect(code.rawValue.utf8.allSatisfy { $0 == UInt8(ascii: "-") || (0x61...0x7A).contains($0) })
            #expect(!code.defaultReason.isEmpty)
            #expect(code.defaultReason.utf8.allSatisfy { (0x20...0x7E).contains($0) })
            #expect(wire(.error(code, code.defaultReason)) == "ERR \(code.rawValue) \(code.defaultReason)\n")
        }
    }
}
