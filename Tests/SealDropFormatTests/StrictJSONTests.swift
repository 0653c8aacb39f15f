@testable import SealDropFormat
import Testing

/// Parses `text`'s UTF-8 bytes.
private func parse(_ text: String) throws(StrictJSONError) -> [JSONMember] { try StrictJSON.parseObject(Array(text.utf8)) }

/// The error `bytes` are refused with, or nil when they parse.
private func refusal(_ bytes: [UInt8]) -> StrictJSONError? {
    do { _ = try StrictJSON.parseObject(bytes); return nil } catch { return error }
}
private func refusal(_ text: String) -> StrictJSONError? { refusal(Array(text.utf8)) }

@Suite("Strict JSON parser")
struct StrictJSONTests {
    @Test("RFC 8259 objects parse, with white space anywhere it is allowed and every value type")
    func accepts() throws {
        #expect(try parse("{}") == [])
        let members = try parse(" \t\r\n{ \"a\" : [ 1 , -2.5e+3 , 0 , 0.0 , 1E-2 ] ,\"b\":{\"c\":null},\"d\":true,\"e\":false,\"f\":\"x\" }\n")
        #expect(members.map(\.name) == ["a", "b", "d", "e", "f"])
        #expect(members[0].value == .array([.number("1"), .number("-2.5e+3"), .number("0"), .number("0.0"), .number("1E-2")]))
        #expect(members[1].value == .object([JSONMember(name: "c", value: .null)]))
        #expect(members[2].value == .bool(true) && members[3].value == .bool(false))
        #expect(members[4].value == .string("x"))
    }

    @Test("escapes resolve, surrogate pairs join, raw UTF-8 passes through")
    func escapes() throws {
        let members = try parse(#"{"s":"\"\\\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00\u0000","r":"é😀"}"#)
        #expect(members[0].value == .string("\"\\/\u{8}\u{C}\n\r\tAé😀\u{0}"))
        #expect(members[1].value == .string("é😀"))
        // Upper- and lowercase hex digits alike.
        #expect(try parse(#"{"s":"\u00E9\uD83D\uDE00"}"#)[0].value == .string("é😀"))
    }

    @Test("a lone surrogate escape is refused, whichever half and wherever it stands")
    func loneSurrogates() {
        for text in [#"{"s":"\ud800"}"#, #"{"s":"\ud800x"}"#, #"{"s":"\ud800\u0041"}"#, #"{"s":"\ud800\ud800"}"#,
                     #"{"s":"\udc00"}"#, #"{"s":"\ude00\ud83d"}"#, #"{"\ud800":1}"#] {
            #expect(refusal(text)?.problem.contains("lone surrogate") == true, "\(text)")
        }
        #expect(refusal(#"{"s":"\ud800"}"#)?.offset == 6)
    }

    @Test("not UTF-8: a byte order mark, UTF-16, a zero byte, malformed sequences")
    func encodings() {
        #expect(refusal([0xEF, 0xBB, 0xBF] + Array("{}".utf8))?.problem.contains("byte order mark") == true)
        #expect(refusal([0xFF, 0xFE, 0x7B, 0x00, 0x7D, 0x00])?.problem.contains("UTF-16 byte order mark") == true)
        #expect(refusal([0xFE, 0xFF, 0x00, 0x7B, 0x00, 0x7D])?.problem.contains("UTF-16 byte order mark") == true)
        let utf16 = Array("{}".utf16).flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }
        #expect(refusal(utf16)?.offset == 1)
        #expect(refusal(utf16)?.problem.contains("zero byte") == true)
        // Overlong, surrogate, above U+10FFFF, cut short, a lone continuation byte, 0xFF.
        for bad: [UInt8] in [[0xC0, 0x80], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x80], [0xFF]] {
            let text = Array(#"{"s":""#.utf8) + bad + Array(#""}"#.utf8)
            #expect(refusal(text) == StrictJSONError(offset: 6, problem: "it is not valid UTF-8"), "\(bad)")
        }
        #expect(refusal(Array(#"{"s":""#.utf8) + [0xF4, 0x8F, 0xBF, 0xBF, 0xEF, 0xBF, 0xBF] + Array(#""}"#.utf8)) == nil)
    }

    @Test("duplicate member names are refused in any object, compared after escapes, scalar by scalar")
    func duplicates() {
        #expect(refusal(#"{"name":"a","name":"b"}"#) == StrictJSONError(offset: 12, problem: "member \"name\" appears twice in one object (duplicate member names are refused)"))
        #expect(refusal(#"{"x":1,"x":1}"#)?.problem == "a member name appears twice in one object (duplicate member names are refused)")
        #expect(refusal(#"{"name":"a","n\u0061me":"b"}"#) != nil)
        #expect(refusal(#"{"o":{"k":1,"k":2}}"#) != nil)
        #expect(refusal(#"{"a":[{"k":1,"k":2}]}"#) != nil)
        // Canonically equivalent but different scalars: two names, not a duplicate.
        #expect(refusal("{\"\u{E9}\":1,\"e\u{301}\":2}") == nil)
        // The same name in sibling objects is no duplicate.
        #expect(refusal(#"{"a":{"k":1},"b":{"k":2}}"#) == nil)
    }

    @Test("the grammar is RFC 8259's, nothing more", arguments: [
        ("", "empty"), ("  ", "empty"), ("[]", "top level"), ("\"s\"", "top level"), ("1", "top level"), ("null", "top level"),
        ("{} {}", "data follows"), ("{}x", "data follows"), (#"{"a":1,}"#, "a comma before the end of an object"),
        (#"{"a":[1,]}"#, "a comma before the end of an array"), (#"{,}"#, "member name"), (#"{'a':1}"#, "member name"),
        (#"{a:1}"#, "member name"), (#"{"a" 1}"#, "':'"), (#"{"a":1 "b":2}"#, "','"), (#"{"a":01}"#, "leading zero"),
        (#"{"a":-}"#, "digit must follow '-'"), (#"{"a":1.}"#, "decimal point"), (#"{"a":.5}"#, "not the start"),
        (#"{"a":1e}"#, "exponent"), (#"{"a":+1}"#, "not the start"), (#"{"a":True}"#, "not the start"),
        (#"{"a":nul}"#, "lowercase"), (#"{"a":NaN}"#, "not the start"), (#"{"a":"x\qy"}"#, "unknown escape"),
        (#"{"a":"\u12"}"#, "four hex digits"), (#"{"a":"\u12G4"}"#, "four hex digits"), ("{\"a\":\"tab\there\"}", "control character"),
        ("{\"a\":\"line\nbreak\"}", "control character"), (#"{"a":"open"#, "ends inside a string"), (#"{"a":1"#, "ends inside an object"),
        (#"{"a":[1"#, "ends inside an array"), (#"{"a":"#, "ends where a value"), ("{\u{0B}}", "member name"),
        ("\u{A0}{}", "top level"),
    ])
    func refusals(_ text: String, _ words: String) {
        let error = refusal(text)
        #expect(error?.problem.contains(words) == true, "\(text): \(String(describing: error))")
    }

    @Test("nesting stops at 64 levels")
    func depth() {
        func nested(_ levels: Int) -> String { String(repeating: "[", count: levels - 1) + String(repeating: "]", count: levels - 1) }
        #expect(refusal("{\"a\":\(nested(StrictJSON.maxDepth))}") == nil)
        #expect(refusal("{\"a\":\(nested(StrictJSON.maxDepth + 1))}")?.problem.contains("deeper than 64") == true)
        // Far deeper input is refused without exhausting the stack.
        #expect(refusal("{\"a\":" + String(repeating: "[", count: 60_000) + "}") != nil)
    }

    @Test("the error names the byte where the problem is")
    func offsets() {
        #expect(refusal(#"{"a":1,}"#)?.offset == 7)
        #expect(refusal(#"{"a":01}"#)?.offset == 6)
        #expect(refusal(#"{"a":1} x"#)?.description == "data follows the top-level object (at byte 8)")
    }
}
