import Logging
import NIOCore
package import SealDropWire
#if canImport(Glibc)
import Glibc
#endif

/// First handler of a connection's pipeline, next to the socket. It passes everything through
/// until the server has replied; then ``startDrain(context:timeout:maxBytes:)`` makes it read and
/// discard whatever the client still sends (so the client reads the reply rather than a reset
/// caused by closing a socket with unread data), until the client closes its side, `maxBytes`
/// have been discarded, or `timeout` passes. Its future then completes and the connection is
/// closed.
final class DrainHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = Any
    typealias OutboundOut = Any

    private enum Mode {
        case passThrough
        case draining(remaining: Int, deadline: Scheduled<Void>?, promise: EventLoopPromise<Void>)
        case done
    }

    private var mode = Mode.passThrough
    private var inputClosed = false
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish()
        self.context = nil
    }

    /// Starts draining; the future completes when draining ends (it never fails).
    func startDrain(timeout: TimeAmount, maxBytes: Int, eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        guard let context, case .passThrough = mode, !inputClosed, context.channel.isActive else {
            return eventLoop.makeSucceededFuture(())
        }
        let promise = eventLoop.makePromise(of: Void.self)
        let deadline = eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in finish() }
        mode = .draining(remaining: maxBytes, deadline: deadline, promise: promise)
        context.read()
        return promise.futureResult
    }

    private func finish() {
        guard case .draining(_, let deadline, let promise) = mode else { return }
        mode = .done
        deadline?.cancel()
        promise.succeed(())
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch mode {
        case .passThrough:
            context.fireChannelRead(data)
        case .draining(let remaining, let deadline, let promise):
            let count = unwrapInboundIn(data).readableBytes
            if count >= remaining {
                mode = .draining(remaining: 0, deadline: deadline, promise: promise)
                finish()
            } else {
                mode = .draining(remaining: remaining - count, deadline: deadline, promise: promise)
            }
        case .done:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        switch mode {
        case .passThrough: context.fireChannelReadComplete()
        case .draining: context.read()
        case .done: break
        }
    }

    func read(context: ChannelHandlerContext) {
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            inputClosed = true
            if case .draining = mode { finish() }
        }
        guard case .passThrough = mode else { return }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard case .passThrough = mode else {
            finish()
            return
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }
}

/// What ``ConnectionGuard`` needs to know of a decoded request part: the end of the head, body
/// bytes, or the end of the request. The TCP protocol's parts and the web page's HTTP parts both
/// have this shape.
package enum TimedPartKind {
    case head
    case body(byteCount: Int)
    case end
}

/// A decoded request part the ``ConnectionGuard`` can time. (Its type is passed between the
/// connection task and the channel's event loop, hence `SendableMetatype`.)
package protocol TimedRequestPart: SendableMetatype {
    /// Which kind of part this is.
    var timedKind: TimedPartKind { get }
}

extension RequestPart: TimedRequestPart {
    package var timedKind: TimedPartKind {
        switch self {
        case .head: .head
        case .body(let bytes): .body(byteCount: bytes.readableBytes)
        case .end: .end
        }
    }
}

/// Sits between the request decoder and the `NIOAsyncChannel`, sees every decoded part, and
/// enforces the time limits (for the TCP protocol and for the web page alike):
///
/// - the header timeout: the whole head must arrive within `headerTimeout` of the connection;
/// - the idle timeout and minimum rate, counted only while the daemon is waiting for the client
///   (a read is outstanding). While back-pressure holds reads back (the daemon is busy encrypting
///   or writing) the clock stops, so a slow disk never times out an honest client.
///
/// A timeout is raised as a ``ProtocolError`` through `errorCaught`, which ends the inbound
/// stream with it. The handler also remembers whether the decoder refused bytes after the end of
/// the body (``trailingDataSeen``), which the server checks just before it commits an upload.
final class ConnectionGuard<Part: TimedRequestPart>: ChannelDuplexHandler {
    typealias InboundIn = Part
    typealias InboundOut = Part
    typealias OutboundIn = Any
    typealias OutboundOut = Any

    private enum Phase { case head, body, ended, stopped }

    private let limits: ServerLimits
    private var phase = Phase.head
    private var headerDeadline: Scheduled<Void>?
    private var ticker: Scheduled<Void>?
    /// When the current outstanding read was issued, if one is outstanding (body phase).
    private var waitingSince: NIODeadline?
    /// Time spent waiting since the last byte.
    private var idleWaited = TimeAmount.zero
    /// Time spent waiting, and bytes received, in the current rate window.
    private var windowWaited = TimeAmount.zero
    private var windowBytes = 0
    private(set) var trailingDataSeen = false
    private var reportedError = false
    private var context: ChannelHandlerContext?

    init(limits: ServerLimits) {
        self.limits = limits
    }

    /// Raises `error` now, unless an error was already raised (see ``ConnectionControl/interrupt(_:)``).
    func interrupt(_ error: ProtocolError) {
        guard let context else { return }
        raise(error, context: context)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        headerDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(limits.headerTimeout)) { [self] in
            guard phase == .head else { return }
            raise(ProtocolError(.headerTimeout), context: context)
        }
        scheduleTick(context: context)
    }

    private func scheduleTick(context: ChannelHandlerContext) {
        let tick = min(TimeAmount.seconds(1), .nanoseconds(TimeAmount(limits.idleTimeout).nanoseconds / 4))
        ticker = context.eventLoop.assumeIsolated().scheduleTask(in: tick) { [self] in
            ticker = nil
            checkBodyTimers(context: context)
            if phase == .head || phase == .body { scheduleTick(context: context) }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    /// Stops every timer: the request is complete, or the server is replying.
    func stop() {
        phase = .stopped
        headerDeadline?.cancel()
        headerDeadline = nil
        ticker?.cancel()
        ticker = nil
        waitingSince = nil
    }

    func read(context: ChannelHandlerContext) {
        if phase == .body, waitingSince == nil { waitingSince = .now() }
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data).timedKind {
        case .head:
            if phase == .head {
                phase = .body
                headerDeadline?.cancel()
                headerDeadline = nil
            }
        case .body(let byteCount):
            accrueWaiting(now: .now())
            waitingSince = nil
            idleWaited = .zero
            windowBytes += byteCount
        case .end:
            if phase != .stopped { stop() }
            phase = .ended
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? ProtocolError, error.code == .trailingData { trailingDataSeen = true }
        // After the decoder failed once, it reports every later read as an error: one is enough.
        guard !reportedError else { return }
        reportedError = true
        context.fireErrorCaught(error)
    }

    private func raise(_ error: ProtocolError, context: ChannelHandlerContext) {
        stop()
        guard !reportedError else { return }
        reportedError = true
        context.fireErrorCaught(error)
    }

    private func accrueWaiting(now: NIODeadline) {
        guard let since = waitingSince else { return }
        let waited = now - since
        idleWaited = idleWaited + waited
        windowWaited = windowWaited + waited
        waitingSince = now
    }

    private func checkBodyTimers(context: ChannelHandlerContext) {
        guard phase == .body else { return }
        accrueWaiting(now: .now())
        let idle = TimeAmount(limits.idleTimeout)
        if idleWaited >= idle {
            raise(ProtocolError(.idleTimeout, "no data received for too long"), context: context)
            return
        }
        guard limits.minimumBytesPerSecond > 0, windowWaited >= idle else { return }
        let seconds = Double(windowWaited.nanoseconds) / 1e9
        if Double(windowBytes) < Double(limits.minimumBytesPerSecond) * seconds {
            raise(ProtocolError(.idleTimeout, "upload slower than the minimum rate"), context: context)
            return
        }
        windowWaited = .zero
        windowBytes = 0
    }
}

extension TimeAmount {
    /// The same span as a NIO time amount (nanosecond precision, saturating).
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        self = overflow ? .nanoseconds(.max) : .nanoseconds(whole + attoseconds / 1_000_000_000)
    }
}

/// First handler of the listening channel. When `accept` fails for lack of resources (EMFILE,
/// ENFILE, ENOBUFS, ENOMEM) the waiting connection stays in the backlog and the level-triggered
/// listening socket stays readable; NIO keeps its read pending, so without this handler the event
/// loop retries `accept` in a tight loop (NIO's `AcceptBackoffHandler` only delays *new* read
/// requests). This turns `autoRead` off, which removes the socket from the poll set, and back on
/// after `pause`.
final class AcceptPauseHandler: ChannelInboundHandler {
    typealias InboundIn = Any
    typealias InboundOut = Any

    private let pause: TimeAmount
    private let logger: Logger
    private var resume: Scheduled<Void>?
    private var lastWarning: NIODeadline?

    init(pause: TimeAmount = .seconds(1), logger: Logger) {
        self.pause = pause
        self.logger = logger
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? IOError, Self.isResourceShortage(error.errnoCode), resume == nil {
            let now = NIODeadline.now()
            if lastWarning.map({ now - $0 >= .seconds(60) }) ?? true {
                lastWarning = now
                logger.warning("cannot accept connections: out of file descriptors or memory; pausing accepts", metadata: [
                    "error.errno": "\(error.errnoCode)", "accept.pause_ms": "\(pause.nanoseconds / 1_000_000)",
                ])
            }
            try? context.channel.syncOptions?.setOption(.autoRead, value: false)
            resume = context.eventLoop.assumeIsolated().scheduleTask(in: pause) { [self] in
                resume = nil
                try? context.channel.syncOptions?.setOption(.autoRead, value: true)
            }
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        resume?.cancel()
        resume = nil
        context.fireChannelInactive()
    }

    private static func isResourceShortage(_ code: Int32) -> Bool {
        code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM
    }
}
