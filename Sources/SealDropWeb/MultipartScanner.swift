import Foundation
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// A streaming reader of a `multipart/form-data` body (RFC 7578, RFC 2046 §5.1): bytes go in
/// as they arrive, and out come part heads, runs of body bytes (slices of the input, never
/// copied) and the ends of parts. At most a delimiter's length of input is held back between
/// calls (the start of what may be a delimiter), plus a part head still arriving, which is
/// bounded.
///
/// It is strict where browsers are regular: the body starts with the first delimiter (no
/// preamble), a delimiter line ends in CRLF or `--` (no transport padding), a part head is at
/// most `maxHeadBytes` bytes in at most `maxHeadLines` lines of `Name: value` in UTF-8, and
/// after the close delimiter at most ``maxEpilogueBytes`` follow.
///
/// multipart-kit's streaming parser was tried first: it hands a part's body over in one piece
/// per CR byte (about every 256 bytes of binary data) and matches delimiters byte by byte, so
/// uploads through it ran at 0.46 of the TCP protocol's speed (500 MB, release build). This one
/// looks for the delimiter's CR with `memchr` and hands over whole runs.
struct MultipartScanner {
    /// What the body holds, in order.
    enum Event: Equatable {
        /// A part begins, with its header fields (names in lowercase).
        case head([HeaderField])
        /// Bytes of the current part's body.
        case body(ByteBuffer)
        /// The current part ended (a delimiter followed it).
        case partEnd
        /// The close delimiter: no part follows.
        case end
    }

    /// One header line of a part's head.
    struct HeaderField: Equatable {
        /// The name, in lowercase.
        var name: String
        /// The value, without surrounding spaces.
        var value: String
    }

    /// Why the body is not a form this reader accepts.
    enum Failure: Error, Equatable {
        /// The body does not begin with the delimiter.
        case noLeadingDelimiter
        /// A delimiter is followed by something other than CRLF or `--`.
        case badDelimiterLine
        /// A part's head is longer than allowed.
        case headTooLarge
        /// A part's head has more lines than allowed.
        case tooManyHeadLines
        /// A line of a part's head is not `Name: value` in UTF-8.
        case badHeadLine
        /// More than ``MultipartScanner/maxEpilogueBytes`` follow the close delimiter.
        case dataAfterEnd
        /// The body ended before the close delimiter.
        case truncated
    }

    /// Bytes allowed after the close delimiter (browsers send a CRLF).
    static let maxEpilogueBytes = 1024

    private enum State { case start, afterDelimiter, head, body, epilogue }

    /// CRLF, `--` and the boundary: what ends a part's body.
    private let delimiter: [UInt8]
    private let maxHeadBytes: Int
    private let maxHeadLines: Int
    private var state = State.start
    /// Input held back: what may be the start of a delimiter, or a part head still arriving.
    private var carry = ByteBuffer()
    private var epilogueBytes = 0
    /// How much of a part head still arriving has been searched for its end already.
    private var headSearched = 0

    /// A reader for the body of a form with `boundary` (1 to 70 characters, RFC 2046).
    init(boundary: String, maxHeadBytes: Int, maxHeadLines: Int) {
        delimiter = Array("\r\n--\(boundary)".utf8)
        self.maxHeadBytes = maxHeadBytes
        self.maxHeadLines = maxHeadLines
    }

    /// Whether the close delimiter has been read.
    var isComplete: Bool { state == .epilogue }

    /// Reads the next bytes of the body; returns what they complete, in order.
    mutating func feed(_ input: ByteBuffer) throws(Failure) -> [Event] {
        var buffer = input
        if carry.readableBytes > 0 {
            var joined = carry
            joined.writeImmutableBuffer(input)
            buffer = joined
            carry = ByteBuffer()
        }
        var events: [Event] = []
        while buffer.readableBytes > 0 {
            switch state {
            case .start:
                // The first delimiter has no CRLF before it.
                let expected = delimiter[2...]
                let available = min(buffer.readableBytes, expected.count)
                guard buffer.readableBytesView.prefix(available).elementsEqual(expected.prefix(available)) else {
                    throw .noLeadingDelimiter
                }
                guard available == expected.count else { return hold(buffer, events) }
                buffer.moveReaderIndex(forwardBy: expected.count)
                state = .afterDelimiter
            case .afterDelimiter:
                guard buffer.readableBytes >= 2 else { return hold(buffer, events) }
                let first = buffer.readableBytesView.first, second = buffer.readableBytesView.dropFirst().first
                if first == UInt8(ascii: "-"), second == UInt8(ascii: "-") {
                    buffer.moveReaderIndex(forwardBy: 2)
                    events.append(.end)
                    state = .epilogue
                } else if first == 13, second == 10 {
                    // The CRLF stays: the head is read as the lines between it and CRLFCRLF.
                    state = .head
                    headSearched = 0
                } else {
                    throw .badDelimiterLine
                }
            case .head:
                // A head arriving a byte at a time is searched once, not again with each byte.
                guard let end = Self.find([13, 10, 13, 10], in: buffer, from: headSearched) else {
                    guard buffer.readableBytes <= maxHeadBytes + 4 else { throw .headTooLarge }
                    headSearched = max(0, buffer.readableBytes - 3)
                    return hold(buffer, events)
                }
                guard end <= maxHeadBytes + 2 else { throw .headTooLarge }
                let head = buffer.readableBytesView.prefix(end).dropFirst(2)
                events.append(.head(try parseHead(Array(head))))
                buffer.moveReaderIndex(forwardBy: end + 4)
                state = .body
            case .body:
                switch findDelimiter(in: buffer) {
                case .found(let at):
                    if at > 0 { events.append(.body(buffer.readSlice(length: at)!)) }
                    buffer.moveReaderIndex(forwardBy: delimiter.count)
                    events.append(.partEnd)
                    state = .afterDelimiter
                case .maybeAt(let at):
                    if at > 0 { events.append(.body(buffer.readSlice(length: at)!)) }
                    return hold(buffer, events)
                case .none:
                    events.append(.body(buffer))
                    return events
                }
            case .epilogue:
                epilogueBytes += buffer.readableBytes
                guard epilogueBytes <= Self.maxEpilogueBytes else { throw .dataAfterEnd }
                return events
            }
        }
        return events
    }

    /// Checks that the body ended after the close delimiter.
    func finish() throws(Failure) {
        guard state == .epilogue else { throw .truncated }
    }

    private mutating func hold(_ buffer: ByteBuffer, _ events: [Event]) -> [Event] {
        carry = buffer
        return events
    }

    private enum Search { case found(Int), maybeAt(Int), none }

    /// Where the delimiter starts in `buffer` (an offset from its reader index); or where the
    /// buffer's end may be the start of one; or neither.
    private func findDelimiter(in buffer: ByteBuffer) -> Search {
        buffer.withUnsafeReadableBytes { bytes -> Search in
            guard let base = bytes.baseAddress else { return .none }
            var offset = 0
            while offset < bytes.count {
                guard let found = memchr(base + offset, 13, bytes.count - offset) else { return .none }
                let at = base.distance(to: UnsafeRawPointer(found))
                let available = min(bytes.count - at, delimiter.count)
                let matches = delimiter.withUnsafeBytes { memcmp(base + at, $0.baseAddress!, available) == 0 }
                if matches { return available == delimiter.count ? .found(at) : .maybeAt(at) }
                offset = at + 1
            }
            return .none
        }
    }

    /// Where `needle` starts in `buffer`'s readable bytes, searching from offset `start`.
    private static func find(_ needle: [UInt8], in buffer: ByteBuffer, from start: Int) -> Int? {
        let view = buffer.readableBytesView
        guard view.count >= needle.count else { return nil }
        var index = view.startIndex + start
        while index <= view.endIndex - needle.count {
            if view[index] == needle[0], view[index..<index + needle.count].elementsEqual(needle) {
                return index - view.startIndex
            }
            index += 1
        }
        return nil
    }

    /// The header fields of a part's head: lines of `Name: value`, CRLF between them.
    private func parseHead(_ bytes: [UInt8]) throws(Failure) -> [HeaderField] {
        if bytes.isEmpty { return [] }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .badHeadLine }
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard lines.count <= maxHeadLines else { throw .tooManyHeadLines }
        var fields: [HeaderField] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw .badHeadLine }
            let name = line[..<colon]
            // A token (RFC 9110): no spaces, no folded lines, no control characters.
            guard !name.isEmpty, name.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 32 && $0.value < 127 && !"()<>@,;:\\\"/[]?={}".unicodeScalars.contains($0) }) else {
                throw .badHeadLine
            }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .spacesAndTabs)
            guard !value.unicodeScalars.contains(where: { $0.value < 32 || $0.value == 127 }) else { throw .badHeadLine }
            fields.append(HeaderField(name: name.lowercased(), value: value))
        }
        return fields
    }
}
