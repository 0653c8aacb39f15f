public import NIOCore
import NIOConcurrencyHelpers
import NIOPosix
import NIOSOCKS
public import SealDropKeys

/// One connection to a drop, for one request: opened straight to a loopback drop or through a
/// SOCKS5 proxy (the drop's host name goes to the proxy as a domain name; nothing is resolved
/// here). Its methods block the calling thread, never an event loop: the sending thread seals
/// while NIO writes what it sealed before.
public final class DropConnection {
    /// How long to wait for the proxy or the drop to accept the connection: an onion service's
    /// rendezvous can take a minute.
    public static let connectTimeout = TimeAmount.seconds(120)
    /// How long to wait for the drop's reply once the whole upload is written (it syncs the
    /// upload to disk first).
    public static let replyTimeout = TimeAmount.minutes(15)
    /// Written chunks not yet handed to the kernel, at most: bounds the memory an upload takes.
    static let writeWindow = 4
    /// The largest reply kept (a `KEYS` document is a few KiB).
    static let replyLimit = 1 << 20

    private let channel: any Channel
    private let reply: ReplyCollector
    private var pendingWrites: [EventLoopFuture<Void>] = []

    private init(channel: any Channel, reply: ReplyCollector) {
        self.channel = channel
        self.reply = reply
    }

    deinit { channel.close(promise: nil) }

    /// Connects to `address` along `route`. With several proxies (`--tor`), each is tried in
    /// turn until one accepts a TCP connection.
    public static func open(to address: DropAddress, via route: Route) throws(SendFailure) -> DropConnection {
        let group = MultiThreadedEventLoopGroup.singleton
        switch route {
        case .direct:
            guard case .loopback = address.host else { throw .refusedRoute(.needsTor(address.host.name)) }
            let reply = ReplyCollector()
            let bootstrap = ClientBootstrap(group: group).connectTimeout(connectTimeout)
                .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(reply) } }
            do {
                // An address, never a name: nothing is looked up.
                let channel = try bootstrap.connect(to: SocketAddress(ipAddress: address.host.name, port: Int(address.port))).wait()
                return DropConnection(channel: channel, reply: reply)
            } catch {
                throw .dropUnreachable(detail: "\(error)")
            }
        case .socks(let proxies, let credentials):
            var lastRefusal: SendFailure?
            for proxy in proxies {
                let reply = ReplyCollector()
                let established = group.any().makePromise(of: Void.self)
                let target = SOCKSAddress.domain(address.host.name, port: Int(address.port))
                let bootstrap = ClientBootstrap(group: group).connectTimeout(connectTimeout)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandlers([
                                SOCKSAuthenticationHandler(credentials: credentials),
                                SOCKSClientHandler(targetAddress: target),
                                EstablishedSignal(established),
                                reply,
                            ])
                        }
                    }
                let channel: any Channel
                do {
                    channel = try bootstrap.connect(to: SocketAddress(ipAddress: proxy.host, port: proxy.port)).wait()
                } catch {
                    established.fail(error)
                    lastRefusal = .proxyUnreachable(proxy, tried: proxies)
                    continue
                }
                let timeout = channel.eventLoop.scheduleTask(in: connectTimeout) {
                    established.fail(SendFailure.timedOut)
                    channel.close(promise: nil)
                }
                defer { timeout.cancel() }
                do {
                    try established.futureResult.wait()
                    return DropConnection(channel: channel, reply: reply)
                } catch let error as SOCKSAuthenticationError {
                    channel.close(promise: nil)
                    throw .proxyRefusedAuthentication(proxy, error)
                } catch let error as SOCKSError.ConnectionFailed {
                    channel.close(promise: nil)
                    throw .proxyCouldNotReach(reply: error.reply.value)
                } catch let error as SendFailure {
                    // Timed out, or the proxy closed the connection during the handshake.
                    channel.close(promise: nil)
                    throw error
                } catch {
                    channel.close(promise: nil)
                    throw .proxyFailed(proxy, detail: "\(error)")
                }
            }
            throw lastRefusal ?? .proxyUnreachable(proxies.first!, tried: proxies)
        }
    }

    /// Sends `bytes`. Returns once the writes before the last ``writeWindow`` have gone to the
    /// kernel, so that memory stays bounded while the next chunk is sealed. Throws when the
    /// drop has already answered (it refused the upload) or the connection is gone.
    public func send(_ bytes: ByteBuffer) throws(SendFailure) {
        if let line = reply.firstLine { throw SendFailure.replyBeforeEnd(line) }
        pendingWrites.append(channel.writeAndFlush(bytes))
        while pendingWrites.count > Self.writeWindow {
            do { try pendingWrites.removeFirst().wait() } catch { throw writeFailure(error) }
        }
    }

    /// A buffer for up to `capacity` bytes, from the connection's allocator.
    public func buffer(capacity: Int) -> ByteBuffer { channel.allocator.buffer(capacity: capacity) }

    /// Waits for every write, then for the drop's one-line reply (`OK …` or `ERR …`).
    public func finishAndReadLine() throws(SendFailure) -> String {
        for write in pendingWrites {
            do { try write.wait() } catch { throw writeFailure(error) }
        }
        pendingWrites.removeAll()
        let channel = self.channel
        let timeout = channel.eventLoop.scheduleTask(in: Self.replyTimeout) { channel.close(promise: nil) }
        defer { timeout.cancel() }
        let bytes = try? reply.closed.wait()
        if let line = reply.firstLine { return line }
        throw .connectionLost(detail: bytes == nil ? "no reply" : "the drop closed the connection without a reply")
    }

    /// Waits until the drop closes the connection and returns everything it sent (for `KEYS`).
    public func readAll() throws(SendFailure) -> [UInt8] {
        for write in pendingWrites { _ = try? write.wait() }
        pendingWrites.removeAll()
        let channel = self.channel
        let timeout = channel.eventLoop.scheduleTask(in: Self.replyTimeout) { channel.close(promise: nil) }
        defer { timeout.cancel() }
        do {
            var all = try reply.closed.wait()
            return all.readBytes(length: all.readableBytes) ?? []
        } catch let error as SendFailure {
            throw error
        } catch {
            throw .connectionLost(detail: "\(error)")
        }
    }

    /// Closes the connection at once (an upload that cannot be completed: the drop discards it).
    public func abort() { channel.close(promise: nil) }

    /// A write failed: the drop's reply, if it sent one before closing, says why.
    private func writeFailure(_ error: any Error) -> SendFailure {
        _ = try? reply.closed.wait()
        if let line = reply.firstLine { return .replyBeforeEnd(line) }
        return .connectionLost(detail: "\(error)")
    }
}

/// Completes a promise when `SOCKSClientHandler` reports the proxy connected to the drop, or
/// fails it with the first error in the pipeline.
private final class EstablishedSignal: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let promise: EventLoopPromise<Void>

    init(_ promise: EventLoopPromise<Void>) { self.promise = promise }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is SOCKSProxyEstablishedEvent { promise.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(SendFailure.connectionLost(detail: "the proxy closed the connection before the drop answered"))
        context.fireChannelInactive()
    }
}

/// Gathers what the drop sends (up to ``DropConnection/replyLimit`` bytes): its first line as
/// soon as it is complete, everything once the connection closes.
final class ReplyCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private var received: ByteBuffer?
    private let line = NIOLockedValueBox<String?>(nil)
    private var closedPromise: EventLoopPromise<ByteBuffer>?
    private let closedFuture = NIOLockedValueBox<EventLoopFuture<ByteBuffer>?>(nil)

    /// The first line the drop sent (without its line end), once complete.
    var firstLine: String? { line.withLockedValue { $0 } }

    /// Everything received, when the connection has closed.
    var closed: EventLoopFuture<ByteBuffer> { closedFuture.withLockedValue { $0! } }

    func handlerAdded(context: ChannelHandlerContext) {
        let promise = context.eventLoop.makePromise(of: ByteBuffer.self)
        closedPromise = promise
        closedFuture.withLockedValue { $0 = promise.futureResult }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if received == nil { received = context.channel.allocator.buffer(capacity: bytes.readableBytes) }
        guard received!.readableBytes + bytes.readableBytes <= DropConnection.replyLimit else {
            closedPromise?.fail(SendFailure.connectionLost(detail: "the drop sent more than a reply"))
            context.close(promise: nil)
            return
        }
        received!.writeBuffer(&bytes)
        if firstLine == nil, let end = received!.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            var text = received!.getString(at: received!.readerIndex, length: end - received!.readerIndex) ?? ""
            if text.hasSuffix("\r") { text.removeLast() }
            line.withLockedValue { $0 = text }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closedPromise?.succeed(received ?? context.channel.allocator.buffer(capacity: 0))
        closedPromise = nil
    }

    /// A channel that never became active (its connection failed) closes without `channelInactive`.
    func handlerRemoved(context: ChannelHandlerContext) {
        closedPromise?.succeed(received ?? context.channel.allocator.buffer(capacity: 0))
        closedPromise = nil
    }
}
