public import NIOCore

/// Frames one SealDrop v1 request from a TCP connection into ``RequestPart``s.
///
/// Wrap it in a `ByteToMessageHandler`:
///
/// ```swift
/// try channel.pipeline.syncOperations.addHandler(
///     ByteToMessageHandler(RequestDecoder(limits: limits))
/// )
/// ```
///
/// The decoder produces ``RequestPart/head(_:)``, then the body as
/// ``RequestPart/body(_:)`` slices of the received buffers (never copied, never accumulated, never
/// longer than what remains of the declared length), then ``RequestPart/end``. For `KEYS` and for a
/// zero length, `end` follows the head in the same read.
///
/// It refuses bad input by throwing ``ProtocolError``, which the handler passes on through
/// `errorCaught`:
/// - head problems as soon as the bytes received prove them (an over-long line before its line
///   end arrives; a length before any byte of the body);
/// - any byte after the declared end of the body with ``ErrorCode/trailingData`` (after `end` has
///   been produced);
/// - an input that ends (EOF, including a half-close after which a reply can still be written)
///   before `end` with ``ErrorCode/truncated``, including a connection that sends nothing.
///
/// The decoder only frames: it does not look inside the body, so a `SEALED` request with a zero
/// length is delivered like any other and the server refuses it.
public struct RequestDecoder: ByteToMessageDecoder, Sendable {
    /// The decoder's output.
    public typealias InboundOut = RequestPart

    private var parser: RequestParser

    /// The limits this decoder enforces.
    public var limits: WireLimits { self.parser.limits }

    /// Creates a decoder for one connection.
    ///
    /// - Parameter limits: The head and body-length limits; by default ``WireLimits``'s defaults.
    public init(limits: WireLimits = WireLimits()) {
        self.parser = RequestParser(limits: limits)
    }

    /// Decodes every part available in `buffer` and fires each one down the pipeline.
    ///
    /// - Throws: ``ProtocolError`` when the input is refused.
    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        while let part = try self.parser.next(&buffer) {
            context.fireChannelRead(Self.wrapInboundOut(part))
        }
        return .needMoreData
    }

    /// Decodes what is left when the input ends.
    ///
    /// - Throws: ``ProtocolError``, with ``ErrorCode/truncated`` if `seenEOF` is `true` and the
    ///   request is incomplete. When the handler is only being removed (`seenEOF` is `false`),
    ///   an incomplete request is not an error.
    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        while let part = try self.parser.next(&buffer) {
            context.fireChannelRead(Self.wrapInboundOut(part))
        }
        if seenEOF {
            try self.parser.finish()
        }
        return .needMoreData
    }
}
