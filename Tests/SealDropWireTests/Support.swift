import NIOCore
import NIOEmbedded
@testable import SealDropWire

/// A small, seeded generator (SplitMix64) so that random splits and fuzz inputs are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What decoding one input produced, with the body joined so that different splits compare equal.
struct Outcome: Equatable, CustomStringConvertible {
    var head: RequestHead?
    var body: [UInt8] = []
    var ended = false
    var error: ProtocolError?
    /// Order violations seen while recording (a part before the head, body past the length, ...).
    var violations: [String] = []

    var description: String {
        "head: \(self.head.map { "\($0)" } ?? "none"), body: \(self.body.count) bytes, ended: \(self.ended), "
            + "error: \(self.error.map { $0.description } ?? "none"), violations: \(self.violations)"
    }

    /// Records one decoded part and checks that it may come next.
    mutating func record(_ part: RequestPart) {
        if self.error != nil {
            self.violations.append("part after an error")
        }
        switch part {
        case .head(let head):
            if self.head != nil { self.violations.append("second head") }
            self.head = head
        case .body(let bytes):
            guard let head = self.head, !self.ended else {
                self.violations.append("body outside head...end")
                return
            }
            if bytes.readableBytes == 0 { self.violations.append("empty body part") }
            self.body.append(contentsOf: bytes.readableBytesView)
            if UInt64(self.body.count) > head.contentLength { self.violations.append("body past the length") }
        case .end:
            guard let head = self.head, !self.ended else {
                self.violations.append("end without head, or twice")
                return
            }
            if UInt64(self.body.count) != head.contentLength { self.violations.append("end before the length") }
            self.ended = true
        }
    }

    /// Whether this is a complete request or a refusal, with nothing out of order.
    var isWellFormed: Bool {
        guard self.violations.isEmpty else { return false }
        if let error = self.error {
            // Only trailing data may follow a complete request.
            return !self.ended || error.code == .trailingData
        }
        return self.ended
    }
}

/// The codes the decoder itself may raise; the rest are the server's.
let decoderCodes: Set<ErrorCode> = [
    .badRequest, .unsupportedVersion, .unknownVerb, .badLength, .tooLarge, .headerTooLong,
    .tooManyHeaders, .badHeader, .trailingData, .truncated,
]

/// Feeds `chunks` through a real `ByteToMessageHandler(RequestDecoder)` in an `EmbeddedChannel`,
/// then closes the channel (unless `close` is false).
///
/// - Returns: The outcome, and whether `finish()` reported a clean channel (nil if it threw or
///   was not called).
func decodeThroughChannel(
    _ chunks: [[UInt8]],
    limits: WireLimits = WireLimits(),
    close: Bool = true
) throws -> (outcome: Outcome, finishedClean: Bool?) {
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(RequestDecoder(limits: limits)))
    defer { _ = try? channel.finish() }  // an open channel and its handlers hold each other
    var outcome = Outcome()
    func drain() throws {
        while let part = try channel.readInbound(as: RequestPart.self) {
            outcome.record(part)
        }
    }
    for chunk in chunks {
        do {
            try channel.writeInbound(channel.allocator.buffer(bytes: chunk))
        } catch let error as ProtocolError {
            try drain()
            outcome.error = error
            _ = try? channel.finish()
            return (outcome, nil)
        }
        try drain()
    }
    guard close else { return (outcome, nil) }
    var clean: Bool?
    do {
        clean = try channel.finish().isClean
    } catch let error as ProtocolError {
        try drain()
        outcome.error = error
        return (outcome, nil)
    }
    try drain()
    return (outcome, clean)
}

/// Feeds `chunks` straight into the parser, the way `ByteToMessageHandler` accumulates bytes, and
/// measures the most head bytes ever left waiting in the buffer.
func decodeWithParser(
    _ chunks: [[UInt8]],
    limits: WireLimits = WireLimits()
) -> (outcome: Outcome, maxWaitingHeadBytes: Int) {
    var parser = RequestParser(limits: limits)
    var buffer = ByteBufferAllocator().buffer(capacity: 0)
    var outcome = Outcome()
    var maxWaiting = 0
    for chunk in chunks {
        buffer.writeBytes(chunk)
        do {
            while let part = try parser.next(&buffer) {
                outcome.record(part)
            }
        } catch {
            outcome.error = error
            return (outcome, maxWaiting)
        }
        if parser.isReadingHead {
            maxWaiting = max(maxWaiting, buffer.readableBytes)
        }
        buffer.discardReadBytes()
    }
    do {
        try parser.finish()
    } catch {
        outcome.error = error
    }
    return (outcome, maxWaiting)
}

/// Splitting strategies for one input.
enum Split {
    static func whole(_ bytes: [UInt8]) -> [[UInt8]] {
        [bytes]
    }

    static func single(_ bytes: [UInt8]) -> [[UInt8]] {
        bytes.map { [$0] }
    }

    static func fixed(_ bytes: [UInt8], size: Int) -> [[UInt8]] {
        stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min($0 + size, bytes.count)]) }
    }

    static func random(_ bytes: [UInt8], using rng: inout SeededGenerator) -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        var index = 0
        while index < bytes.count {
            let size = Int.random(in: 1...max(1, min(bytes.count - index, 64)), using: &rng)
            chunks.append(Array(bytes[index..<(index + size)]))
            index += size
        }
        return chunks
    }
}

/// A test-only decoder for `ByteToMessageDecoderVerifier`, which feeds the same decoder many
/// requests back to back and compares every output. It runs the real parser, starts a new one
/// after each `end` (where the real decoder refuses trailing data), and joins each request's body
/// into one part (where the real decoder passes slices through as they arrive).
struct BackToBackRequestDecoder: ByteToMessageDecoder {
    typealias InboundOut = RequestPart

    let limits: WireLimits
    private var parser: RequestParser
    private var body: ByteBuffer?

    init(limits: WireLimits = WireLimits()) {
        self.limits = limits
        self.parser = RequestParser(limits: limits)
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        while let part = try self.parser.next(&buffer) {
            switch part {
            case .head:
                context.fireChannelRead(Self.wrapInboundOut(part))
            case .body(var bytes):
                if self.body == nil {
                    self.body = bytes
                } else {
                    self.body!.writeBuffer(&bytes)
                }
            case .end:
                if let body = self.body {
                    context.fireChannelRead(Self.wrapInboundOut(.body(body)))
                }
                context.fireChannelRead(Self.wrapInboundOut(.end))
                self.body = nil
                self.parser = RequestParser(limits: self.limits)
            }
        }
        return .needMoreData
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try self.decode(context: context, buffer: &buffer)
    }
}

extension String {
    /// The string's UTF-8 bytes.
    var bytes: [UInt8] { Array(self.utf8) }
}
