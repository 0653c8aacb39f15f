import NIOCore

/// The request framing state machine behind ``RequestDecoder``, free of any channel.
///
/// It reads from a buffer the caller accumulates (as `ByteToMessageHandler` does) and consumes
/// only what it has decoded: a complete head line, or body bytes up to the declared length. While
/// a head line is incomplete it consumes nothing, and it refuses the line once the unconsumed
/// part is longer than the limit allows, so at most `maxHeaderLineBytes + 1` bytes of a head line
/// ever wait in the buffer.
struct RequestParser: Sendable {
    private enum State: Sendable {
        case requestLine
        case headers(PartialHead)
        case body(remaining: UInt64)
        case endPending
        case done
        case failed(ProtocolError)
    }

    private struct PartialHead: Sendable {
        var head: RequestHead
        var headerLines = 0
    }

    let limits: WireLimits
    private var state: State = .requestLine
    /// How many bytes of the current, incomplete head line (from the reader index) are already
    /// known to hold no `LF`, so that a line fed byte by byte is not rescanned from its start.
    private var scannedLineBytes = 0

    init(limits: WireLimits) {
        self.limits = limits
    }

    /// Whether the parser is still reading the head (the request line or header lines).
    var isReadingHead: Bool {
        switch self.state {
        case .requestLine, .headers: true
        case .body, .endPending, .done, .failed: false
        }
    }

    /// Decodes the next part from `buffer`, consuming its bytes.
    ///
    /// - Returns: The next part, or `nil` when more bytes are needed (or, after the end, when
    ///   none are left).
    /// - Throws: ``ProtocolError`` for a refusal; once thrown, every later call throws it again.
    mutating func next(_ buffer: inout ByteBuffer) throws(ProtocolError) -> RequestPart? {
        do {
            return try self.step(&buffer)
        } catch {
            self.state = .failed(error)
            throw error
        }
    }

    /// Called when the input has ended: refuses an incomplete request.
    ///
    /// - Throws: ``ErrorCode/truncated`` unless the request is complete; the earlier error if
    ///   the parser already failed.
    mutating func finish() throws(ProtocolError) {
        switch self.state {
        case .done:
            return
        case .failed(let error):
            throw error
        case .requestLine, .headers:
            let error = ProtocolError(.truncated, "connection closed before the end of the head")
            self.state = .failed(error)
            throw error
        case .body, .endPending:
            let error = ProtocolError(.truncated, "connection closed before the declared length arrived")
            self.state = .failed(error)
            throw error
        }
    }

    private mutating func step(_ buffer: inout ByteBuffer) throws(ProtocolError) -> RequestPart? {
        while true {
            switch self.state {
            case .failed(let error):
                throw error

            case .requestLine:
                try Self.checkMagicPrefix(buffer.readableBytesView)
                guard let line = try self.nextLine(in: buffer) else { return nil }
                let (verb, length) = try Self.parseRequestLine(
                    buffer.readableBytesView.prefix(line.contentLength),
                    limits: self.limits
                )
                buffer.moveReaderIndex(forwardBy: line.consumed)
                let head = verb.hasBody
                    ? RequestHead(verb: verb, contentLength: length)
                    : RequestHead(verb: verb, contentLength: 0, uploadLength: verb == .create ? length : nil)
                self.state = .headers(PartialHead(head: head))

            case .headers(var partial):
                guard let line = try self.nextLine(in: buffer) else { return nil }
                let content = buffer.readableBytesView.prefix(line.contentLength)
                if content.isEmpty {
                    buffer.moveReaderIndex(forwardBy: line.consumed)
                    let head = partial.head
                    self.state = head.contentLength > 0 ? .body(remaining: head.contentLength) : .endPending
                    return .head(head)
                }
                guard partial.headerLines < self.limits.maxHeaderLines else {
                    throw ProtocolError(.tooManyHeaders)
                }
                try Self.parseHeaderLine(content, into: &partial.head)
                partial.headerLines += 1
                buffer.moveReaderIndex(forwardBy: line.consumed)
                self.state = .headers(partial)

            case .body(let remaining):
                let count = Int(min(UInt64(buffer.readableBytes), remaining))
                // Nothing to hand out yet; readSlice cannot fail otherwise, as count <= readableBytes.
                guard count > 0, let slice = buffer.readSlice(length: count) else { return nil }
                let left = remaining - UInt64(count)
                self.state = left > 0 ? .body(remaining: left) : .endPending
                return .body(slice)

            case .endPending:
                self.state = .done
                return .end

            case .done:
                guard buffer.readableBytes == 0 else {
                    throw ProtocolError(.trailingData)
                }
                return nil
            }
        }
    }

    // MARK: Lines

    private struct Line {
        /// Length of the line without its `LF` or `CRLF`.
        var contentLength: Int
        /// Length including the terminator.
        var consumed: Int
    }

    /// Finds the next complete head line at the reader index, or refuses it as too long as soon as
    /// the bytes buffered so far prove it is.
    private mutating func nextLine(in buffer: ByteBuffer) throws(ProtocolError) -> Line? {
        let limit = self.limits.maxHeaderLineBytes
        let view = buffer.readableBytesView
        // A line of `limit` content bytes ends with LF at offset `limit` or, with CRLF, at
        // `limit + 1`; no need to look further.
        let window = min(view.count, limit + 2)
        let start = view.startIndex
        if self.scannedLineBytes < window,
            let lf = view[(start + self.scannedLineBytes)..<(start + window)].firstIndex(of: ASCII.lf)
        {
            let end = lf - start
            var contentLength = end
            if contentLength > 0 && view[start + contentLength - 1] == ASCII.cr {
                contentLength -= 1
            }
            guard contentLength <= limit else {
                throw ProtocolError(.headerTooLong)
            }
            self.scannedLineBytes = 0
            return Line(contentLength: contentLength, consumed: end + 1)
        }
        self.scannedLineBytes = window
        // With no LF yet, `limit + 1` buffered bytes already make the line too long unless the
        // last of them is the CR of a CRLF that ends a line of exactly `limit` bytes.
        if view.count > limit + 1 || (view.count == limit + 1 && view[start + limit] != ASCII.cr) {
            throw ProtocolError(.headerTooLong)
        }
        return nil
    }

    // MARK: Request line

    private static let magicPrefix: [UInt8] = Array("SEALDROP/".utf8)
    private static let magic: [UInt8] = Array("SEALDROP/1".utf8)

    /// Refuses a request line whose first bytes already cannot start `SEALDROP/`, so that an HTTP
    /// request or other stray traffic is turned away without waiting for a line end.
    private static func checkMagicPrefix(_ view: ByteBufferView) throws(ProtocolError) {
        let count = min(view.count, Self.magicPrefix.count)
        guard view.prefix(count).elementsEqual(Self.magicPrefix.prefix(count)) else {
            throw ProtocolError(.badRequest)
        }
    }

    private static func parseRequestLine(
        _ line: ByteBufferView,
        limits: WireLimits
    ) throws(ProtocolError) -> (Verb, UInt64) {
        let magicEnd = line.firstIndex(of: ASCII.space) ?? line.endIndex
        let magic = line[line.startIndex..<magicEnd]
        guard magic.elementsEqual(Self.magic) else {
            let version = magic.dropFirst(Self.magicPrefix.count)
            if magic.starts(with: Self.magicPrefix) && !version.isEmpty && version.allSatisfy(ASCII.isDigit) {
                throw ProtocolError(.unsupportedVersion)
            }
            throw ProtocolError(.badRequest)
        }
        guard magicEnd < line.endIndex else {
            throw ProtocolError(.badRequest, "missing verb after SEALDROP/1")
        }
        let rest = line[(magicEnd + 1)..<line.endIndex]
        guard rest.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E }) else {
            throw ProtocolError(.badRequest, "request line must be printable ASCII")
        }
        // The shape comes before the words: one space between words, none before the verb or
        // after the last word, at most three words. Only then are the verb and length judged.
        var spaces = 0
        var previousWasSpace = true  // the space after the magic
        for byte in rest {
            let isSpace = byte == ASCII.space
            if isSpace && previousWasSpace {
                throw ProtocolError(.badRequest, "request line words must be separated by exactly one space")
            }
            if isSpace { spaces += 1 }
            previousWasSpace = isSpace
        }
        guard !previousWasSpace else {
            throw ProtocolError(.badRequest, "request line must not end with a space")
        }
        guard spaces <= 1 else {
            throw ProtocolError(.badRequest, "request line has more than three words")
        }
        let verbEnd = rest.firstIndex(of: ASCII.space) ?? rest.endIndex
        let verbBytes = rest[rest.startIndex..<verbEnd]
        guard let verb = Verb.allCases.first(where: { $0.rawValue.utf8.elementsEqual(verbBytes) }) else {
            throw ProtocolError(.unknownVerb)
        }
        guard verb.takesLength else {
            guard verbEnd == rest.endIndex else {
                throw ProtocolError(.badLength, "KEYS and OFFSET take no length")
            }
            return (verb, 0)
        }
        guard verbEnd < rest.endIndex else {
            throw ProtocolError(.badLength, "PUT, SEALED, CREATE and APPEND need a length")
        }
        let length = try Self.parseLength(rest[(verbEnd + 1)..<rest.endIndex])
        guard length <= limits.maxBodyBytes else {
            throw ProtocolError(.tooLarge)
        }
        return (verb, length)
    }

    /// Parses a length without allocating: 1 to 20 ASCII digits, no sign, no leading zero (except
    /// `0` itself), at most `UInt64.max`. Spaces never reach it: the request line's shape is
    /// checked first.
    private static func parseLength(_ digits: ByteBufferView) throws(ProtocolError) -> UInt64 {
        guard !digits.isEmpty, digits.count <= 20, digits.allSatisfy(ASCII.isDigit) else {
            throw ProtocolError(.badLength)
        }
        guard digits.count == 1 || digits.first != ASCII.zero else {
            throw ProtocolError(.badLength, "length must not have leading zeros")
        }
        var value: UInt64 = 0
        for digit in digits {
            let (shifted, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = shifted.addingReportingOverflow(UInt64(digit - ASCII.zero))
            guard !overflowA && !overflowB else {
                throw ProtocolError(.badLength, "length does not fit in 64 bits")
            }
            value = sum
        }
        return value
    }

    // MARK: Header lines

    private enum KnownHeader: CaseIterable {
        case name, message, type, upload, token, offset

        var lowercasedName: String.UTF8View {
            switch self {
            case .name: "name".utf8
            case .message: "message".utf8
            case .type: "type".utf8
            case .upload: "upload".utf8
            case .token: "token".utf8
            case .offset: "offset".utf8
            }
        }

        /// Where a text header's value goes; nil for `Offset`, which is a number.
        var textField: WritableKeyPath<RequestHead, String?>? {
            switch self {
            case .name: \.name
            case .message: \.message
            case .type: \.mediaType
            case .upload: \.upload
            case .token: \.token
            case .offset: nil
            }
        }

        var duplicateReason: String {
            switch self {
            case .name: "duplicate Name header"
            case .message: "duplicate Message header"
            case .type: "duplicate Type header"
            case .upload: "duplicate Upload header"
            case .token: "duplicate Token header"
            case .offset: "duplicate Offset header"
            }
        }
    }

    private static func parseHeaderLine(_ line: ByteBufferView, into head: inout RequestHead) throws(ProtocolError) {
        guard let colon = line.firstIndex(of: ASCII.colon) else {
            throw ProtocolError(.badHeader, "header line without ':'")
        }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty, name.allSatisfy(ASCII.isTokenByte) else {
            throw ProtocolError(.badHeader, "header name must be a non-empty token")
        }
        let value = Self.trimmed(line[(colon + 1)..<line.endIndex])
        guard !value.contains(where: ASCII.isForbiddenControl) else {
            throw ProtocolError(.badHeader, "control character in header value")
        }
        guard let text = String(validating: value, as: UTF8.self) else {
            throw ProtocolError(.badHeader, "header value is not UTF-8")
        }
        // C1 controls (U+0080 to U+009F) are control characters too, only encoded in two bytes.
        guard !text.unicodeScalars.contains(where: { (0x80...0x9F).contains($0.value) }) else {
            throw ProtocolError(.badHeader, "control character in header value")
        }
        let known = KnownHeader.allCases.first { header in
            header.lowercasedName.elementsEqual(name.lazy.map(ASCII.lowercased))
        }
        switch known {
        case .offset?:
            guard head.offset == nil else { throw ProtocolError(.badHeader, KnownHeader.offset.duplicateReason) }
            do { head.offset = try Self.parseLength(value) } catch {
                throw ProtocolError(.badHeader, "Offset must be 1 to 20 ASCII digits without sign or leading zeros")
            }
        case let known?:
            guard let field = known.textField, head[keyPath: field] == nil else { throw ProtocolError(.badHeader, known.duplicateReason) }
            head[keyPath: field] = text
        case nil:
            break
        }
    }

    private static func trimmed(_ value: ByteBufferView) -> ByteBufferView {
        guard let first = value.firstIndex(where: { !ASCII.isBlank($0) }),
            let last = value.lastIndex(where: { !ASCII.isBlank($0) })
        else {
            return value[value.endIndex..<value.endIndex]
        }
        return value[first..<(last + 1)]
    }
}

/// Byte constants and classes of the protocol's ASCII grammar.
enum ASCII {
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let tab: UInt8 = 0x09
    static let space: UInt8 = 0x20
    static let colon: UInt8 = 0x3A
    static let zero: UInt8 = 0x30

    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= 0x30 && byte <= 0x39
    }

    static func isBlank(_ byte: UInt8) -> Bool {
        byte == Self.space || byte == Self.tab
    }

    /// C0 controls other than TAB, and DEL.
    static func isForbiddenControl(_ byte: UInt8) -> Bool {
        (byte < 0x20 && byte != Self.tab) || byte == 0x7F
    }

    /// RFC 9110 `tchar`: letters, digits and ``!#$%&'*+-.^_`|~``.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A:
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
    }
}
