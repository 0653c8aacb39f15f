import NIOCore
import NIOEmbedded
@testable import SealDropWire
import Testing

@Suite("Over-long head lines (BAD-INPUTS 13)")
struct HeadLimitTests {
    @Test("100 KB without a newline is refused once the line passes the limit, not when it ends")
    func overLongLineRefusedEarly() throws {
        let limits = WireLimits()
        let prefix = "SEALDROP/1 PUT 5\nName: ".bytes
        let headerStart = "SEALDROP/1 PUT 5\n".utf8.count
        let flood = [UInt8](repeating: UInt8(ascii: "a"), count: 100 * 1024)
        let chunkSize = 1024

        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RequestDecoder(limits: limits)))
        defer { _ = try? channel.finish() }  // an open channel and its handlers hold each other
        var fed = 0
        var refusal: ProtocolError?
        for chunk in Split.fixed(prefix + flood, size: chunkSize) {
            fed += chunk.count
            do {
                try channel.writeInbound(ByteBuffer(bytes: chunk))
            } catch let error as ProtocolError {
                refusal = error
                break
            }
        }
        #expect(refusal == ProtocolError(.headerTooLong))
        // The refusal comes in the read that carries the line past maxHeaderLineBytes + 1 bytes.
        #expect(fed - headerStart > limits.maxHeaderLineBytes)
        #expect(fed - headerStart <= limits.maxHeaderLineBytes + 1 + chunkSize)
        #expect(try channel.readInbound(as: RequestPart.self) == nil)
    }

    @Test("The buffered partial line never exceeds maxHeaderLineBytes + 1 bytes")
    func bufferedHeadStaysBounded() {
        let limits = WireLimits()
        for input in [
            "SEALDROP/1 PUT 5\nName: ".bytes + [UInt8](repeating: 0x61, count: 100 * 1024),
            "SEALDROP/1 PUT ".bytes + [UInt8](repeating: 0x39, count: 100 * 1024),
        ] {
            for chunks in [Split.fixed(input, size: 1), Split.fixed(input, size: 1000)] {
                let (outcome, maxWaiting) = decodeWithParser(chunks, limits: limits)
                #expect(outcome.error == ProtocolError(.headerTooLong))
                #expect(maxWaiting <= limits.maxHeaderLineBytes + 1)
            }
        }
    }

    @Test("Fed byte by byte, a line is refused at exactly maxHeaderLineBytes + 1 bytes")
    func refusedAtTheFirstByteTooMany() throws {
        let limit = 64
        let limits = WireLimits(maxHeaderLineBytes: limit)
        let requestLine = "SEALDROP/1 PUT 0\n".bytes
        // A CR in the last allowed position might still start the CRLF of a line of exactly
        // `limit` bytes, so the refusal then waits for the next byte.
        for (line, refusedAt) in [
            ([UInt8](repeating: 0x61, count: 200), limit + 1),
            ([UInt8](repeating: 0x61, count: limit) + "\r".bytes + [0x61], limit + 2),
            ([UInt8](repeating: 0x61, count: limit) + "\r\r".bytes, limit + 2),
            ([UInt8](repeating: 0x61, count: limit) + "\r\n".bytes, limit + 2),  // a's without ':' complete: bad-header
        ] {
            let channel = EmbeddedChannel(handler: ByteToMessageHandler(RequestDecoder(limits: limits)))
            defer { _ = try? channel.finish() }  // an open channel and its handlers hold each other
            try channel.writeInbound(ByteBuffer(bytes: requestLine))
            var fed = 0
            var refusal: ProtocolError?
            for byte in line {
                fed += 1
                do {
                    try channel.writeInbound(ByteBuffer(bytes: [byte]))
                } catch let error as ProtocolError {
                    refusal = error
                    break
                }
            }
            #expect(fed == refusedAt)
            #expect(refusal?.code == (line.last == UInt8(ascii: "\n") ? .badHeader : .headerTooLong))
        }
    }

    @Test("An over-long request line is header-too-long; an over-long line with its LF is too")
    func overLongCompleteLines() throws {
        let limits = WireLimits(maxHeaderLineBytes: 64)
        try expectHeadRefusal(
            "SEALDROP/1 PUT 0\nX-Pad: \(String(repeating: "p", count: 58))\n\n".bytes,
            .headerTooLong,
            limits: limits
        )
        try expectHeadRefusal(
            "SEALDROP/1 PUT 0\nX-Pad: \(String(repeating: "p", count: 58))\r\n\r\n".bytes,
            .headerTooLong,
            limits: limits
        )
        try expectHeadRefusal(
            "SEALDROP/1 PUT \(String(repeating: "1", count: 60))\n\n".bytes,
            .headerTooLong,
            limits: limits
        )
    }

    @Test("A line just under the limit, fed byte by byte, decodes")
    func longLineByteByByte() {
        let value = String(repeating: "n", count: 8000)
        let input = "SEALDROP/1 PUT 0\nName: \(value)\n\n".bytes
        let (outcome, maxWaiting) = decodeWithParser(Split.single(input))
        #expect(outcome.head?.name == value)
        #expect(outcome.ended && outcome.error == nil)
        #expect(maxWaiting <= WireLimits().maxHeaderLineBytes + 1)
    }
}
