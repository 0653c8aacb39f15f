import HTTPTypes
public import HummingbirdCore
public import Logging
public import NIOCore
import NIOHTTP1
public import NIOHTTPTypes
import NIOHTTPTypesHTTP1
package import SealDropServer

extension HTTPRequestPart: TimedRequestPart {
    package var timedKind: TimedPartKind {
        switch self {
        case .head: .head
        case .body(let bytes): .body(byteCount: bytes.readableBytes)
        case .end: .end
        }
    }
}

/// One accepted connection of the upload page: HTTP parts in and out, and a handle on the
/// pipeline's own handlers (the timers and the drain the TCP protocol uses too).
public struct WebConnection: ServerChildChannelValue {
    let asyncChannel: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>
    let control: ConnectionControl<HTTPRequestPart>
    /// The connection's channel.
    public var channel: any Channel { asyncChannel.channel }
}

/// The upload page's child channel for HummingbirdCore's `Server`: NIO's HTTP/1 decoder with
/// the daemon's head limits, HTTP types, the daemon's timers (head timeout, idle timeout,
/// minimum rate), and a drain in front of it all so that a refusal is read rather than reset.
/// One request per connection (every response says `Connection: close`), served by a
/// ``WebResponder``.
///
/// Unlike Hummingbird's `HTTP1Channel`, it answers a request the HTTP decoder refuses (both
/// `Content-Length` and `Transfer-Encoding`, two lengths, a bad chunk size, a head over the
/// limits) with the page's own 400 and headers, not a bare one.
public struct WebChannel: ServerChildChannel {
    public typealias Value = WebConnection

    let responder: WebResponder

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<WebConnection> {
        let limits = responder.limits
        return channel.eventLoop.makeCompletedFuture {
            let (asyncChannel, control) = try ConnectionControl<HTTPRequestPart>.configure(channel, limits: limits, replies: HTTPResponsePart.self) { sync in
                try Self.addHTTPFraming(to: sync, limits: limits)
            }
            return WebConnection(asyncChannel: asyncChannel, control: control)
        }
    }

    /// Adds NIO's HTTP/1 decoder and encoder, with the daemon's head limits, and the conversion
    /// to HTTP types: the handlers that turn a connection's bytes into ``HTTPRequestPart``s.
    static func addHTTPFraming(to sync: ChannelPipeline.SynchronousOperations, limits: ServerLimits) throws {
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderFieldSize = limits.maxHeaderLineBytes
        decoderLimits.maxHeaderFieldCount = limits.maxHeaderLines
        decoderLimits.maxHeaderListSize = limits.maxHeaderLineBytes * limits.maxHeaderLines
        try sync.configureHTTPServerPipeline(
            withPipeliningAssistance: false,
            withErrorHandling: false,
            withOutboundHeaderValidation: false,
            withEncoderConfiguration: .init(),
            withDecoderLimitConfiguration: decoderLimits
        )
        try sync.addHandler(HTTP1ToHTTPServerCodec(secure: false))
    }

    public func handle(value connection: WebConnection, logger: Logger) async {
        await withTaskCancellationHandler {
            await responder.serve(connection)
        } onCancel: {
            connection.channel.close(promise: nil)
        }
    }
}
