import Foundation
import NIOCore
import SealDropWire
import Testing

/// The request line's whitespace rules, in the order the protocol article states them: the shape
/// (one space between words, none at the end, at most three words, printable ASCII) is judged
/// before the verb and the length, so spacing mistakes are always bad-request.
@Suite("Request line spacing and line ends")
struct RequestLineTests {
    /// Expects `input` to be refused with `code` and exactly `reason`, fed whole and byte by byte.
    func expectRefusal(
        _ input: String,
        _ code: ErrorCode,
        reason: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        try expectHeadRefusal(input.bytes, code, sourceLocation: sourceLocation)
        let (outcome, _) = try decodeThroughChannel([input.bytes], close: false)
        #expect(outcome.error == ProtocolError(code, reason), "\(outcome)", sourceLocation: sourceLocation)
    }

    @Test(
        "A trailing space is bad-request, never bad-length, with LF or CRLF",
        arguments: ["PUT 5 ", "SEALED 5 ", "PUT ", "KEYS ", "KEYS 5 ", "PUT 007 ", "PUT 99999999999999999999 ", ""]
    )
    func trailingSpace(tail: String) throws {
        for end in ["\n", "\r\n"] {
            try self.expectRefusal("SEALDROP/1 \(tail)\(end)\(end)", .badRequest, reason: "request line must not end with a space")
        }
    }

    @Test(
        "Two spaces between any two words are bad-request",
        arguments: ["SEALDROP/1  PUT 5", "SEALDROP/1 PUT  5", "SEALDROP/1  KEYS", "SEALDROP/1   PUT 5",
                    "SEALDROP/1 FOO  5", "SEALDROP/1 PUT  -1"]
    )
    func twoSpaces(line: String) throws {
        try self.expectRefusal("\(line)\n\n", .badRequest, reason: "request line words must be separated by exactly one space")
    }

    @Test("A fourth word is bad-request, whatever the words are", arguments: ["PUT 5 5", "PUT 1 2", "KEYS 5 6", "FOO 1 2", "PUT -1 x"])
    func fourthWord(tail: String) throws {
        try self.expectRefusal("SEALDROP/1 \(tail)\n\n", .badRequest, reason: "request line has more than three words")
    }

    @Test("A leading space, tab or empty line is bad-request from the first byte, before any line end")
    func leadingWhitespace() throws {
        for first in [" ", "\t", "\n", "\r\n"] {
            try expectHeadRefusal("\(first)SEALDROP/1 PUT 5\n\n".bytes, .badRequest)
            let (outcome, _) = try decodeThroughChannel([first.bytes], close: false)
            #expect(outcome.error == ProtocolError(.badRequest), "\(first.debugDescription): \(outcome)")
        }
    }

    @Test(
        "A tab anywhere in the request line is bad-request",
        arguments: ["SEALDROP/1\tPUT 5", "SEALDROP/1 PUT\t5", "SEALDROP/1 PUT 5\t", "SEALDROP/1 \tPUT 5",
                    "SEALDROP/1 KEYS\t", "SEALDROP/1 PUT \t5"]
    )
    func tab(line: String) throws {
        try expectHeadRefusal("\(line)\n\n".bytes, .badRequest)
    }

    @Test("The rest of the line is checked for printable ASCII before its spacing")
    func printableBeforeSpacing() throws {
        try self.expectRefusal("SEALDROP/1 PUT\t5 \n\n", .badRequest, reason: "request line must be printable ASCII")
    }

    @Test("The version is judged before the spacing: SEALDROP/2 with a trailing space is unsupported-version")
    func versionFirst() throws {
        try expectHeadRefusal("SEALDROP/2 PUT 5 \n\n".bytes, .unsupportedVersion)
        try expectHeadRefusal("SEALDROP/2  PUT 5\n\n".bytes, .unsupportedVersion)
    }

    @Test("A missing space makes one unknown word (unknown-verb), or a wrong magic (bad-request)")
    func missingSpace() throws {
        try expectHeadRefusal("SEALDROP/1 PUT5\n\n".bytes, .unknownVerb)
        try expectHeadRefusal("SEALDROP/1 KEYS0\n\n".bytes, .unknownVerb)
        try expectHeadRefusal("SEALDROP/1PUT 5\n\n".bytes, .badRequest)
        try self.expectRefusal("SEALDROP/1\n\n", .badRequest, reason: "missing verb after SEALDROP/1")
    }

    @Test("CRLF and LF line ends are accepted, also mixed; a CR anywhere else is bad-request")
    func lineEnds() throws {
        let accepted: [(String, RequestHead)] = [
            ("SEALDROP/1 PUT 5\r\n\r\nhello", RequestHead(verb: .put, contentLength: 5)),
            ("SEALDROP/1 SEALED 0\r\n\n", RequestHead(verb: .sealed, contentLength: 0)),
            ("SEALDROP/1 KEYS\n\r\n", RequestHead(verb: .keys, contentLength: 0)),
            ("SEALDROP/1 KEYS\r\nX-A: 1\nName: n\r\n\r\n", RequestHead(verb: .keys, contentLength: 0, name: "n")),
        ]
        for (input, head) in accepted {
            for chunks in [Split.whole(input.bytes), Split.single(input.bytes)] {
                let (outcome, clean) = try decodeThroughChannel(chunks)
                #expect(outcome.head == head && outcome.ended && outcome.error == nil, "\(input.debugDescription): \(outcome)")
                #expect(clean == true)
            }
        }
        for line in ["SEALDROP/1 PUT 5\r\r\n", "SEALDROP/1 PU\rT 5\n", "SEALDROP/1 PUT\r5\n", "SEALDROP/1 KEYS\r\r\n"] {
            try self.expectRefusal("\(line)\n", .badRequest, reason: "request line must be printable ASCII")
        }
        // A CR then LF then CR is a CRLF line end and the start of the next line.
        try expectHeadRefusal("SEALDROP/1 KEYS\r\n\rX: 1\n\n".bytes, .badHeader)
    }

    @Test("Every row of the article's request-line table gets the answer the article gives")
    func articleTable() throws {
        let rows = try protocolArticleRequestLineTable()
        #expect(rows.count >= 25, "the table was not found or not parsed: \(rows.count) rows")
        for (line, answer) in rows {
            let input = line + "\n\n"
            if let code = answer {
                try expectHeadRefusal(input.bytes, code)
            } else {
                let (outcome, _) = try decodeThroughChannel([input.bytes], close: false)
                #expect(outcome.head != nil && outcome.error == nil, "\(line.debugDescription): \(outcome)")
            }
        }
    }
}

/// The rows of the "Request line | Answer" table in Protocol.md: the request line (with `\t` and
/// `\r` unescaped) and the code, or nil for "accepted".
func protocolArticleRequestLineTable() throws -> [(line: String, answer: ErrorCode?)] {
    let article = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/SealDropWire/SealDropWire.docc/Protocol.md")
    let text = try String(contentsOf: article, encoding: .utf8)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    guard let start = lines.firstIndex(of: "| Request line | Answer |") else { return [] }
    var rows: [(String, ErrorCode?)] = []
    for row in lines[(start + 2)...] {
        guard row.hasPrefix("|") else { break }
        let cells = row.dropFirst().split(separator: "|", omittingEmptySubsequences: false)
        let code = cells[0].split(separator: "`", omittingEmptySubsequences: false)[1]
        let line = code.replacingOccurrences(of: "\\t", with: "\t").replacingOccurrences(of: "\\r", with: "\r")
        let answer = cells[1].trimmingCharacters(in: .whitespaces)
        if answer == "accepted" {
            rows.append((line, nil))
        } else {
            let word = answer.trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            guard let code = ErrorCode(rawValue: word) else {
                Issue.record("unknown answer \(answer) in row \(row)")
                continue
            }
            rows.append((line, code))
        }
    }
    return rows
}
