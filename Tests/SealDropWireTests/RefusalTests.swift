import NIOCore
import NIOEmbedded
import SealDropWire
import Testing

/// Feeds `input` whole and byte by byte through the real decoder and expects the same refusal
/// both ways, with no head produced, and a reason that does not echo the input.
func expectHeadRefusal(
    _ input: [UInt8],
    _ code: ErrorCode,
    limits: WireLimits = WireLimits(),
    close: Bool = false,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    for chunks in [Split.whole(input), Split.single(input)] {
        let (outcome, _) = try decodeThroughChannel(chunks, limits: limits, close: close)
        #expect(outcome.error?.code == code, "\(chunks.count) chunks: \(outcome)", sourceLocation: sourceLocation)
        #expect(outcome.head == nil, sourceLocation: sourceLocation)
        #expect(outcome.violations.isEmpty, sourceLocation: sourceLocation)
        if let reason = outcome.error?.reason {
            #expect(!reason.contains("CANARY"), "reason echoes client data", sourceLocation: sourceLocation)
        }
    }
}

@Suite("Refusals")
struct RefusalTests {
    @Test(
        "Bad magic is bad-request (BAD-INPUTS 1)",
        arguments: [
            "GET / HTTP/1.1\r\nHost: CANARY\r\n\r\n",
            "sealdrop/1 PUT 5\n\n",
            "SEALDROP/1x PUT 5\n\n",
            "SEALDROP/ PUT 5\n\n",
            "SEALDROP/1.0 PUT 5\n\n",
            "SEALDROP/1\n\n",
            "SEALDROP/1\tPUT 5\n\n",
            "\nSEALDROP/1 PUT 5\n\n",
            "\r\nSEALDROP/1 PUT 5\n\n",
            " SEALDROP/1 PUT 5\n\n",
            "SEALDROP/1  PUT 5\n\n",
            "SEALDROP/1 PUT\t5\n\n",
            "SEALDROP/1 PUT 5 CANARY\u{1B}\n\n",
            "SEALDROP/1 KEYS é\n\n",
        ]
    )
    func badMagic(input: String) throws {
        try expectHeadRefusal(input.bytes, .badRequest)
    }

    @Test("Stray traffic is turned away from its first wrong byte, without waiting for a line end")
    func badMagicRefusedEarly() throws {
        let (outcome, _) = try decodeThroughChannel(["G".bytes], close: false)
        #expect(outcome.error?.code == .badRequest)
        let (partial, _) = try decodeThroughChannel(["SEALDRO".bytes, "p".bytes], close: false)
        #expect(partial.error?.code == .badRequest)
    }

    @Test(
        "SEALDROP/<other digits> is unsupported-version (BAD-INPUTS 1)",
        arguments: ["SEALDROP/2 PUT 5\n\n", "SEALDROP/0 KEYS\n\n", "SEALDROP/10 PUT 1\n\n", "SEALDROP/01 PUT 1\n\n",
                    "SEALDROP/2\n\n", "SEALDROP/9 anything CANARY at all\n\n"]
    )
    func unsupportedVersion(input: String) throws {
        try expectHeadRefusal(input.bytes, .unsupportedVersion)
    }

    @Test(
        "An unknown verb is unknown-verb (BAD-INPUTS 1)",
        arguments: ["SEALDROP/1 GET 5\n\n", "SEALDROP/1 put 5\n\n", "SEALDROP/1 Keys\n\n", "SEALDROP/1 CANARY\n\n",
                    "SEALDROP/1 PUTS 5\n\n", "SEALDROP/1 DELETE\n\n"]
    )
    func unknownVerb(input: String) throws {
        try expectHeadRefusal(input.bytes, .unknownVerb)
    }

    // Spaces around the length are bad-request, not bad-length: see RequestLineTests.
    @Test(
        "Absurd lengths are bad-length, refused once the request line is complete (BAD-INPUTS 2)",
        arguments: [
            "PUT 18446744073709551616",  // 2^64
            "PUT 99999999999999999999",  // 20 digits, over 2^64 - 1
            "PUT -1",
            "PUT +5",
            "PUT 12a",
            "PUT 0x10",
            "PUT " + String(repeating: "9", count: 40),
            "PUT 000000000000000000001",  // 21 digits
            "PUT 007",
            "PUT 00",
            "PUT",
            "SEALED -0",
            "SEALED",
            "KEYS 5",
            "KEYS 0",
            "CREATE",
            "CREATE -1",
            "APPEND",
            "APPEND 007",
            "OFFSET 0",
        ]
    )
    func absurdLength(requestLineTail: String) throws {
        // Only the request line is sent: the refusal must not wait for headers or body.
        try expectHeadRefusal("SEALDROP/1 \(requestLineTail)\n".bytes, .badLength)
        try expectHeadRefusal("SEALDROP/1 \(requestLineTail)\r\n".bytes, .badLength)
    }

    @Test("Declared lengths over the maximum are too-large before any body byte (BAD-INPUTS 2, 6)")
    func declaredTooLarge() throws {
        // 2^64 - 1 fits in 64 bits, so it is a well-formed length that is simply too large.
        try expectHeadRefusal("SEALDROP/1 PUT 18446744073709551615\n".bytes, .tooLarge)
        try expectHeadRefusal("SEALDROP/1 SEALED 8589934593\n".bytes, .tooLarge)
        try expectHeadRefusal("SEALDROP/1 PUT 1001\n".bytes, .tooLarge, limits: WireLimits(maxBodyBytes: 1000))
        try expectHeadRefusal("SEALDROP/1 PUT 1\n".bytes, .tooLarge, limits: WireLimits(maxBodyBytes: 0))
    }

    @Test("A connection that ends early is truncated: in the head, in the body, or before anything (BAD-INPUTS 3)")
    func truncated() throws {
        let inputs: [(String, [UInt8], Bool)] = [
            ("nothing sent", [], false),
            ("partial request line", "SEALDROP/1 PU".bytes, false),
            ("request line without LF", "SEALDROP/1 PUT 5".bytes, false),
            ("no blank line", "SEALDROP/1 PUT 5\nName: x\n".bytes, false),
            ("KEYS without blank line", "SEALDROP/1 KEYS\n".bytes, false),
            ("body short by one byte", "SEALDROP/1 PUT 5\n\nabcd".bytes, true),
            ("no body at all", "SEALDROP/1 SEALED 5\n\n".bytes, true),
        ]
        for (label, input, headComplete) in inputs {
            for chunks in [Split.whole(input), Split.single(input)] {
                let (outcome, _) = try decodeThroughChannel(chunks)
                #expect(outcome.error?.code == .truncated, "\(label)")
                #expect(!outcome.ended, "\(label)")
                #expect((outcome.head != nil) == headComplete, "\(label)")
                #expect(outcome.violations.isEmpty, "\(label)")
            }
        }
    }

    @Test("Bytes after the declared end are trailing-data, never body (BAD-INPUTS 4)")
    func trailingData() throws {
        let inputs: [[[UInt8]]] = [
            ["SEALDROP/1 PUT 5\n\nhelloX".bytes],
            ["SEALDROP/1 PUT 5\n\nhello".bytes, "\n".bytes],
            ["SEALDROP/1 PUT 5\n\nhel".bytes, "loSEALDROP/1 PUT 1\n\nx".bytes],
            ["SEALDROP/1 PUT 0\n\n\n".bytes],
            ["SEALDROP/1 KEYS\n\n".bytes, "SEALDROP/1 KEYS\n\n".bytes],
            ["SEALDROP/1 KEYS\r\n\r\n\r\n".bytes],
        ]
        for chunks in inputs {
            let joined = chunks.flatMap { $0 }
            for split in [chunks, Split.whole(joined), Split.single(joined)] {
                let (outcome, _) = try decodeThroughChannel(split)
                #expect(outcome.error?.code == .trailingData, "\(outcome)")
                #expect(outcome.ended, "the complete request is delivered before the refusal")
                #expect(UInt64(outcome.body.count) == outcome.head?.contentLength)
                #expect(outcome.violations.isEmpty)
            }
        }
    }

    @Test("A read after end is refused as a whole, and nothing of it is delivered")
    func trailingDataInALaterRead() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RequestDecoder()))
        defer { _ = try? channel.finish() }  // an open channel and its handlers hold each other
        try channel.writeInbound(ByteBuffer(string: "SEALDROP/1 PUT 1\n\nz"))
        #expect(try channel.readInbound(as: RequestPart.self) == .head(RequestHead(verb: .put, contentLength: 1)))
        #expect(try channel.readInbound(as: RequestPart.self) == .body(ByteBuffer(string: "z")))
        #expect(try channel.readInbound(as: RequestPart.self) == .end)
        #expect(throws: ProtocolError(.trailingData)) {
            try channel.writeInbound(ByteBuffer(string: "!"))
        }
        #expect(try channel.readInbound(as: RequestPart.self) == nil)
    }

    @Test("Over the size limit by declaration is refused; the body is never read")
    func overLimitDeclared() throws {
        let limits = WireLimits(maxBodyBytes: 10)
        let input = "SEALDROP/1 PUT 11\n\n".bytes + [UInt8](repeating: 0x61, count: 11)
        let (outcome, _) = try decodeThroughChannel([input], limits: limits)
        #expect(outcome.error == ProtocolError(.tooLarge))
        #expect(outcome.head == nil && outcome.body.isEmpty)
    }
}

@Suite("Header refusals (BAD-INPUTS 13)")
struct HeaderRefusalTests {
    @Test("More than maxHeaderLines header lines is too-many-headers, unknown ones included")
    func tooManyHeaders() throws {
        var request = "SEALDROP/1 PUT 0\n"
        for index in 0..<33 {
            request += "X-Header-\(index): value\n"
        }
        request += "\n"
        try expectHeadRefusal(request.bytes, .tooManyHeaders)
        try expectHeadRefusal("SEALDROP/1 KEYS\nA: 1\nB: 2\nC: 3\n\n".bytes, .tooManyHeaders, limits: WireLimits(maxHeaderLines: 2))
        try expectHeadRefusal("SEALDROP/1 KEYS\nA: 1\n\n".bytes, .tooManyHeaders, limits: WireLimits(maxHeaderLines: 0))
    }

    @Test(
        "A value that is not UTF-8 is bad-header",
        arguments: [
            [0xFF],
            [0xC3],  // truncated two-byte sequence
            [0xC0, 0x80],  // overlong NUL
            [0xE0, 0x80, 0xAF],  // overlong '/'
            [0xED, 0xA0, 0x80],  // UTF-16 surrogate
            [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
            [0x61, 0x80, 0x62],  // stray continuation byte
        ] as [[UInt8]]
    )
    func nonUTF8Value(value: [UInt8]) throws {
        for name in ["Name", "Message", "Type", "X-Unknown"] {
            let request = "SEALDROP/1 PUT 0\n\(name): ".bytes + value + "\n\n".bytes
            try expectHeadRefusal(request, .badHeader)
        }
    }

    @Test(
        "A control character in a value is bad-header",
        arguments: [
            "\u{1B}[31mred\u{1B}[0m.pdf",  // ANSI escape
            "bell\u{07}",
            "back\u{08}space",
            "del\u{7F}",
            "cr\rinside",
            "vertical\u{0B}tab",
            "next\u{85}line",  // C1 NEL
            "c1\u{9B}31m",  // C1 CSI
        ]
    )
    func controlCharacterInValue(value: String) throws {
        for name in ["Name", "Message", "X-Unknown"] {
            try expectHeadRefusal("SEALDROP/1 PUT 0\n\(name): \(value)\n\n".bytes, .badHeader)
        }
    }

    @Test("A NUL anywhere in the head is refused")
    func nul() throws {
        try expectHeadRefusal("SEALDROP/1 PUT 0\nName: a\0b\n\n".bytes, .badHeader)
        try expectHeadRefusal("SEALDROP/1 PUT 0\nName: \0\n\n".bytes, .badHeader)
        try expectHeadRefusal("SEALDROP/1 PUT 0\nNa\0me: x\n\n".bytes, .badHeader)
        try expectHeadRefusal("SEALDROP/1 PUT 0\n\0\n\n".bytes, .badHeader)
        try expectHeadRefusal("SEALDROP/1 PUT 0\0\n\n".bytes, .badRequest)
        try expectHeadRefusal("SEALDROP/1 KEYS\0\n\n".bytes, .badRequest)
        try expectHeadRefusal("SEALDROP/1\0KEYS\n\n".bytes, .badRequest)
        try expectHeadRefusal("\0SEALDROP/1 KEYS\n\n".bytes, .badRequest)
    }

    @Test(
        "Malformed header lines are bad-header",
        arguments: [
            "Name leak.pdf",  // no colon
            ": value",  // empty name
            "Name : x",  // space before the colon
            "File Name: x",  // space in the name
            " Name: x",  // folded or indented line
            "\tName: x",
            "Näme: x",  // non-ASCII name
            "Name\u{1B}: x",
            "(Name): x",  // not a token
        ]
    )
    func malformedHeaderLine(line: String) throws {
        try expectHeadRefusal("SEALDROP/1 PUT 0\n\(line)\n\n".bytes, .badHeader)
    }

    @Test("A duplicate known header is bad-header, whatever the case of its name")
    func duplicateKnownHeader() throws {
        try expectHeadRefusal("SEALDROP/1 PUT 0\nName: a\nName: b\n\n".bytes, .badHeader)
        try expectHeadRefusal("SEALDROP/1 PUT 0\nName: a\nNAME: a\n\n".bytes, .badHeader)
        try expectHeadRefusal("SEALDROP/1 PUT 0\nmessage: a\nMessage: b\n\n".bytes, .badHeader)
        try expectHeadRefusal("SEALDROP/1 PUT 0\nType: a\r\ntype:\r\n\r\n".bytes, .badHeader)
        // Two tokens or two offsets could let a server and a proxy disagree on which counts.
        try expectHeadRefusal("SEALDROP/1 OFFSET\nUpload: a\nToken: a\ntoken: b\n\n".bytes, .badHeader)
        try expectHeadRefusal("SEALDROP/1 APPEND 1\nUpload: a\nUPLOAD: a\n\n".bytes, .badHeader)
        try expectHeadRefusal("SEALDROP/1 APPEND 1\nOffset: 0\nOffset: 0\n\n".bytes, .badHeader)
        // An offset is written like a length: no sign, no leading zero, at most 2^64 - 1.
        for offset in ["+5", "007", "-1", "5a", "18446744073709551616", ""] {
            try expectHeadRefusal("SEALDROP/1 APPEND 1\nOffset: \(offset)\n\n".bytes, .badHeader)
        }
    }
}
