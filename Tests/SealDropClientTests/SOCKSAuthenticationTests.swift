import NIOCore
import NIOEmbedded
import NIOSOCKS
import SealDropClient
import Testing

/// The RFC 1929 extension around NIOSOCKS' client handler, byte by byte against a scripted proxy.
@Suite("SOCKS5 username/password authentication")
struct SOCKSAuthenticationTests {
    static let credentials = SOCKSCredentials(username: Array("user-1".utf8), password: Array("pw".utf8))

    /// A channel with the authentication handler under NIOSOCKS' client handler, made active.
    func channel(target: SOCKSAddress = .domain("example.onion", port: 80)) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([
            SOCKSAuthenticationHandler(credentials: Self.credentials),
            SOCKSClientHandler(targetAddress: target),
        ])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1080)).wait()
        return channel
    }

    func written(_ channel: EmbeddedChannel) throws -> [UInt8] {
        var all: [UInt8] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) { all += buffer.readBytes(length: buffer.readableBytes)! }
        return all
    }

    func feed(_ channel: EmbeddedChannel, _ bytes: [UInt8]) throws {
        try channel.writeInbound(ByteBuffer(bytes: bytes))
    }

    @Test("offers username/password only, logs in, then sends a domain-name CONNECT and passes data through")
    func fullHandshake() throws {
        let channel = try channel()
        defer { _ = try? channel.finish() }  // an open channel and its handlers hold each other
        #expect(try written(channel) == [5, 1, 2])
        try feed(channel, [5, 2])
        #expect(try written(channel) == [1, 6] + Array("user-1".utf8) + [2] + Array("pw".utf8))
        try feed(channel, [1, 0])
        #expect(try written(channel) == [5, 1, 0, 3, 13] + Array("example.onion".utf8) + [0, 80])
        // Data written before the proxy connected waits; the reply releases it.
        channel.writeAndFlush(ByteBuffer(string: "SEALDROP/1 KEYS\n\n"), promise: nil)
        #expect(try written(channel).isEmpty)
        try feed(channel, [5, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0x90])
        #expect(try written(channel) == Array("SEALDROP/1 KEYS\n\n".utf8))
        try feed(channel, Array("OK 2\nab".utf8))
        var reply = try channel.readInbound(as: ByteBuffer.self)
        #expect(reply?.readString(length: 7) == "OK 2\nab")
        _ = try? channel.finish()
    }

    @Test("replies split across reads are put together")
    func splitReads() throws {
        let channel = try channel()
        defer { _ = try? channel.finish() }  // an open channel and its handlers hold each other
        _ = try written(channel)
        try feed(channel, [5])
        #expect(try written(channel).isEmpty)
        try feed(channel, [2, 1])
        #expect(try written(channel).first == 1)
        try feed(channel, [0, 5, 0, 0])  // the status, and the start of the CONNECT reply in the same read
        try feed(channel, [1, 127, 0, 0, 1, 0, 80])
        #expect(try written(channel) == [5, 1, 0, 3, 13] + Array("example.onion".utf8) + [0, 80])
        _ = try? channel.finish()
    }

    @Test("a proxy that refuses the credentials, wants none, or takes no method fails the channel", arguments: [
        ([5, 2, 1, 1] as [UInt8], SOCKSAuthenticationError.credentialsRefused),
        ([5, 0xFF], .noAcceptableMethod),
        ([5, 0], .protocolViolation),
        ([4, 2], .protocolViolation),
    ])
    func refusals(reply: [UInt8], expected: SOCKSAuthenticationError) throws {
        let channel = try channel()
        defer { _ = try? channel.finish() }  // an open channel and its handlers hold each other
        _ = try written(channel)
        #expect(throws: expected) { try feed(channel, reply) }
        #expect(!channel.isActive)
    }

    @Test("a CONNECT the proxy refuses reaches the caller as NIOSOCKS' error with the reply code")
    func connectRefused() throws {
        let channel = try channel()
        defer { _ = try? channel.finish() }  // an open channel and its handlers hold each other
        _ = try written(channel)
        try feed(channel, [5, 2])
        try feed(channel, [1, 0])
        _ = try written(channel)
        #expect(throws: SOCKSError.ConnectionFailed(reply: .init(value: 0xF0))) { try feed(channel, [5, 0xF0, 0, 1, 0, 0, 0, 0, 0, 0]) }
    }
}
