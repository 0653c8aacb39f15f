/// A JSON value as RFC 8259 defines it, from ``StrictJSON``. Numbers keep their text, so a reader
/// applies its own rules to them (the metadata's `size` allows only plain decimal digits).
package enum JSONValue: Equatable, Sendable {
    /// An object's members, in file order (their names are unique).
    case object([JSONMember])
    /// An array's elements, in order.
    case array([JSONValue])
    /// A string, escapes resolved.
    case string(String)
    /// A number, exactly as written (it matches RFC 8259's number grammar).
    case number(String)
    /// `true` or `false`.
    case bool(Bool)
    /// `null`.
    case null

    /// The value's kind, for messages: `an object`, `a string`, `null`, ….
    package var kindDescription: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }
}

/// One member of a JSON object.
package struct JSONMember: Equatable, Sendable {
    /// The member name, escapes resolved.
    package let name: String
    /// The member's value.
    package let value: JSONValue
}

/// Why a text is not the strict JSON ``StrictJSON`` accepts: what is wrong, and at which byte.
package struct StrictJSONError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The byte offset in the text where the problem was found.
    package let offset: Int
    /// What is wrong, in words.
    package let problem: String

    package var description: String { "\(problem) (at byte \(offset))" }
}

/// A strict parser for the metadata's JSON (<doc:FormatV1>, "Metadata"): UTF-8 without a byte
/// order mark, exactly RFC 8259's grammar, a top-level object, and no member name twice in any
/// object (names compared scalar by scalar after escapes are resolved). `\u` escapes may form
/// surrogate pairs; a lone surrogate is refused. Nesting is limited to ``maxDepth`` levels.
/// Each refusal says what is wrong and where, never quoting the text itself.
package enum StrictJSON {
    /// Objects and arrays nest at most this deep (RFC 8259 lets a parser set such a limit).
    package static let maxDepth = 64

    /// Parses `text` as one JSON text whose top level is an object, and returns its members.
    package static func parseObject(_ text: [UInt8]) throws(StrictJSONError) -> [JSONMember] {
        try checkEncoding(text)
        var parser = Parser(bytes: text)
        parser.skipWhitespace()
        guard parser.peek() == UInt8(ascii: "{") else {
            throw parser.error(parser.atEnd ? "the text is empty or only white space; it must be a JSON object" : "the top level must be a JSON object")
        }
        guard case .object(let members) = try parser.value() else { preconditionFailure("an object was expected") }
        parser.skipWhitespace()
        guard parser.atEnd else { throw parser.error("data follows the top-level object") }
        return members
    }

    /// Refuses what is not UTF-8 with a message that names the likely encoding.
    private static func checkEncoding(_ text: [UInt8]) throws(StrictJSONError) {
        if text.starts(with: [0xEF, 0xBB, 0xBF]) {
            throw StrictJSONError(offset: 0, problem: "it starts with a byte order mark; the metadata is UTF-8 without one")
        }
        if text.starts(with: [0xFE, 0xFF]) || text.starts(with: [0xFF, 0xFE]) {
            throw StrictJSONError(offset: 0, problem: "it starts with a UTF-16 byte order mark; the metadata is UTF-8")
        }
        if let zero = text.firstIndex(of: 0) {
            throw StrictJSONError(offset: zero, problem: "it contains a zero byte (UTF-16 or UTF-32 text?); the metadata is UTF-8 and a NUL must be escaped")
        }
        if let bad = firstInvalidUTF8(text) {
            throw StrictJSONError(offset: bad, problem: "it is not valid UTF-8")
        }
    }

    /// The offset of the first byte that does not start or continue a well-formed UTF-8
    /// sequence (Unicode's table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF).
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let length: Int
            var low: UInt8 = 0x80, high: UInt8 = 0xBF
            switch b {
            case 0x00...0x7F: i += 1; continue
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: return i
            }
            for k in 1..<length {
                guard i + k < bytes.count else { return i }
                let c = bytes[i + k]
                let (lo, hi) = k == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
                guard c >= lo && c <= hi else { return i }
            }
            i += length
        }
        return nil
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0
        var depth = 0

        var atEnd: Bool { index >= bytes.count }

        func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

        func error(_ problem: String, at offset: Int? = nil) -> StrictJSONError {
            StrictJSONError(offset: offset ?? index, problem: problem)
        }

        /// RFC 8259 white space: space, tab, line feed, carriage return.
        mutating func skipWhitespace() {
            while let b = peek(), b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { index += 1 }
        }

        mutating func value() throws(StrictJSONError) -> JSONValue {
            guard let b = peek() else { throw error("the text ends where a value should start") }
            switch b {
            case UInt8(ascii: "{"): return try object()
            case UInt8(ascii: "["): return try array()
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            default: throw error("not the start of a JSON value")
            }
        }

        mutating func enter() throws(StrictJSONError) {
            depth += 1
            guard depth <= StrictJSON.maxDepth else { throw error("objects and arrays nest deeper than \(StrictJSON.maxDepth) levels") }
            index += 1
        }

        mutating func object() throws(StrictJSONError) -> JSONValue {
            try enter()
            defer { depth -= 1 }
            var members: [JSONMember] = []
            var names: Set<[UInt8]> = []
            skipWhitespace()
            if peek() == UInt8(ascii: "}") { index += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard peek() == UInt8(ascii: "\"") else {
                    throw error(peek() == UInt8(ascii: "}") ? "a comma before the end of an object" : "a member name (a string) was expected")
                }
                let nameStart = index
                let name = try string()
                guard names.insert(Array(name.utf8)).inserted else {
                    let known = Metadata.memberNames.contains(name) ? "member \"\(name)\"" : "a member name"
                    throw error("\(known) appears twice in one object (duplicate member names are refused)", at: nameStart)
                }
                skipWhitespace()
                guard peek() == UInt8(ascii: ":") else { throw error("a ':' was expected after the member name") }
                index += 1
                skipWhitespace()
                members.append(JSONMember(name: name, value: try value()))
                skipWhitespace()
                switch peek() {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"): index += 1; return .object(members)
                case nil: throw error("the text ends inside an object")
                default: throw error("a ',' or '}' was expected after a member")
                }
            }
        }

        mutating func array() throws(StrictJSONError) -> JSONValue {
            try enter()
            defer { depth -= 1 }
            var elements: [JSONValue] = []
            skipWhitespace()
            if peek() == UInt8(ascii: "]") { index += 1; return .array(elements) }
            while true {
                skipWhitespace()
                if peek() == UInt8(ascii: "]") { throw error("a comma before the end of an array") }
                elements.append(try value())
                skipWhitespace()
                switch peek() {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"): index += 1; return .array(elements)
                case nil: throw error("the text ends inside an array")
                default: throw error("a ',' or ']' was expected after an array element")
                }
            }
        }

        mutating func literal(_ word: String) throws(StrictJSONError) {
            let expected = Array(word.utf8)
            guard index + expected.count <= bytes.count, bytes[index..<index + expected.count].elementsEqual(expected) else {
                throw error("not a JSON value (true, false and null are lowercase)")
            }
            index += expected.count
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, returned as written.
        mutating func number() throws(StrictJSONError) -> String {
            let start = index
            if peek() == UInt8(ascii: "-") { index += 1 }
            guard let first = peek(), isDigit(first) else { throw error("a digit must follow '-' in a number") }
            index += 1
            if first == UInt8(ascii: "0"), let next = peek(), isDigit(next) { throw error("a number must not have a leading zero") }
            digits()
            if peek() == UInt8(ascii: ".") {
                index += 1
                guard let d = peek(), isDigit(d) else { throw error("a digit must follow the decimal point") }
                digits()
            }
            if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
                index += 1
                if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
                guard let d = peek(), isDigit(d) else { throw error("a digit must follow the exponent mark") }
                digits()
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        mutating func digits() { while let d = peek(), isDigit(d) { index += 1 } }

        func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

        /// A string starting at the opening quote; escapes resolved. The text is already known
        /// to be valid UTF-8, so raw bytes are copied as they are.
        mutating func string() throws(StrictJSONError) -> String {
            index += 1
            var out: [UInt8] = []
            while true {
                guard let b = peek() else { throw error("the text ends inside a string") }
                switch b {
                case UInt8(ascii: "\""):
                    index += 1
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    try escape(into: &out)
                case 0x00..<0x20:
                    throw error("a control character (below U+0020) must be escaped in a string")
                default:
                    out.append(b)
                    index += 1
                }
            }
        }

        mutating func escape(into out: inout [UInt8]) throws(StrictJSONError) {
            let start = index
            index += 1
            guard let e = peek() else { throw error("the text ends inside an escape") }
            index += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                let unit = try hex4()
                let scalar: UInt32
                switch unit {
                case 0xD800...0xDBFF:
                    guard peek() == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                        throw error("a lone surrogate: \\u escape of a high surrogate not followed by a low one", at: start)
                    }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else {
                        throw error("a lone surrogate: \\u escape of a high surrogate not followed by a low one", at: start)
                    }
                    scalar = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                case 0xDC00...0xDFFF:
                    throw error("a lone surrogate: \\u escape of a low surrogate without a high one before it", at: start)
                default:
                    scalar = unit
                }
                UTF8.encode(Unicode.Scalar(scalar)!) { out.append($0) }
            default:
                throw error("an unknown escape (JSON has \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX)", at: start)
            }
        }

        mutating func hex4() throws(StrictJSONError) -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let h = peek() else { throw error("the text ends inside a \\u escape") }
                let digit: UInt8
                switch h {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = h - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = h - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = h - UInt8(ascii: "A") + 10
                default: throw error("a \\u escape needs four hex digits")
                }
                value = value << 4 | UInt32(digit)
                index += 1
            }
            return value
        }
    }
}
