public import NIOCore

/// Username/password authentication (RFC 1929) for `NIOSOCKS`' `SOCKSClientHandler`, which
/// speaks only "no authentication". Placed between the socket and that handler, it turns the
/// handler's greeting (`05 01 00`: no authentication) into `05 01 02` (username/password only),
/// answers the proxy's choice with the credentials, and once the proxy accepts them tells the
/// handler that the proxy chose "no authentication", so that the handler goes on with its
/// `CONNECT` exactly as before. From then on it passes every byte through.
///
/// Only username/password is offered: a proxy that would take the connection without them
/// (and so could not keep this run's circuits apart) is refused, as is one that refuses them.
public final class SOCKSAuthenticationHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum State {
        case awaitingGreeting, awaitingMethod, awaitingStatus, passThrough, failed
    }

    private let credentials: SOCKSCredentials
    private var state = State.awaitingGreeting
    private var received: ByteBuffer?

    /// A handler that authenticates with `credentials`.
    public init(credentials: SOCKSCredentials) {
        self.credentials = credentials
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard state == .awaitingGreeting else {
            context.write(data, promise: promise)
            return
        }
        let greeting = unwrapOutboundIn(data)
        guard greeting.readableBytesView.elementsEqual([5, 1, 0]) else {
            fail(context: context, .protocolViolation)
            promise?.fail(SOCKSAuthenticationError.protocolViolation)
            return
        }
        state = .awaitingMethod
        var offer = context.channel.allocator.buffer(capacity: 3)
        offer.writeBytes([5, 1, 2])
        context.write(wrapOutboundOut(offer), promise: promise)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        switch state {
        case .passThrough:
            context.fireChannelRead(data)
            return
        case .failed:
            return
        case .awaitingGreeting, .awaitingMethod, .awaitingStatus:
            if received == nil { received = bytes } else { received!.writeBuffer(&bytes) }
        }
        while let pair = received?.getBytes(at: received!.readerIndex, length: 2) {
            received!.moveReaderIndex(forwardBy: 2)
            switch state {
            case .awaitingMethod:
                guard pair[0] == 5 else { return fail(context: context, .protocolViolation) }
                guard pair[1] == 2 else { return fail(context: context, pair[1] == 0xFF ? .noAcceptableMethod : .protocolViolation) }
                state = .awaitingStatus
                var request = context.channel.allocator.buffer(capacity: 3 + credentials.username.count + credentials.password.count)
                request.writeInteger(UInt8(1))
                request.writeInteger(UInt8(credentials.username.count))
                request.writeBytes(credentials.username)
                request.writeInteger(UInt8(credentials.password.count))
                request.writeBytes(credentials.password)
                context.writeAndFlush(wrapOutboundOut(request), promise: nil)
            case .awaitingStatus:
                guard pair[0] == 1 else { return fail(context: context, .protocolViolation) }
                guard pair[1] == 0 else { return fail(context: context, .credentialsRefused) }
                state = .passThrough
                // What SOCKSClientHandler expects after its greeting: "no authentication" chosen.
                var chosen = context.channel.allocator.buffer(capacity: 2)
                chosen.writeBytes([5, 0])
                let rest = received!
                received = nil
                context.fireChannelRead(wrapInboundOut(chosen))
                if rest.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(rest)) }
                return
            case .awaitingGreeting, .passThrough, .failed:
                return fail(context: context, .protocolViolation)
            }
        }
    }

    private func fail(context: ChannelHandlerContext, _ error: SOCKSAuthenticationError) {
        state = .failed
        received = nil
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }
}

/// Why the proxy's authentication failed.
public enum SOCKSAuthenticationError: Error, Equatable, Sendable {
    /// The proxy takes none of the offered methods (username/password).
    case noAcceptableMethod
    /// The proxy refused the username and password.
    case credentialsRefused
    /// The proxy answered something that is not SOCKS5.
    case protocolViolation
}
