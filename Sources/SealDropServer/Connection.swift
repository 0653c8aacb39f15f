package import NIOCore
import SealDropWire

/// One accepted connection as the accept loop hands it to a connection task: the async channel
/// of decoded request parts in and replies out, and a handle on the pipeline's own handlers.
struct Connection: Sendable {
    let channel: NIOAsyncChannel<RequestPart, Reply>
    let control: ConnectionControl<RequestPart>

    /// Builds a child channel's pipeline; runs on its event loop.
    static func configure(_ channel: any Channel, limits: ServerLimits) throws -> Connection {
        let (asyncChannel, control) = try ConnectionControl<RequestPart>.configure(channel, limits: limits, replies: Reply.self) { sync in
            // Framing: request lines and lengths refused before they are buffered.
            try sync.addHandler(ByteToMessageHandler(RequestDecoder(limits: limits.wireLimits)))
            // Replies on the wire.
            try sync.addHandler(MessageToByteHandler(ReplyEncoder()))
        }
        return Connection(channel: asyncChannel, control: control)
    }

    /// Writes `reply` and half-closes, giving up (and closing the connection) if the reply
    /// cannot be handed to the socket within `timeout`, as for a client that never reads.
    /// Returns whether it was sent. The reply is written even when the connection's task was
    /// cancelled (the grace period of a shutdown ran out): the client is told why.
    func send(_ reply: Reply, through outbound: NIOAsyncChannelOutboundWriter<Reply>, timeout: Duration) async -> Bool {
        await sendWithin(timeout, closing: channel.channel) {
            try await outbound.write(reply)
            outbound.finish()
        }
    }

    /// Reads larger pieces from now on (an upload in a fast lane). If the option cannot be set
    /// (the connection is closing), reads simply stay small.
    func readLargerPieces() async {
        try? await channel.channel.setOption(.recvAllocator, value: FastLanes.fastReads).get()
    }
}

extension ConnectionControl {
    /// Builds a connection's pipeline as every front door does, on its event loop: small reads,
    /// one per wake-up (a fast client cannot make a connection buffer much; an upload in one of
    /// the `FastLanes` later reads more at a time); the drain next to the socket (after the
    /// reply it reads and discards what the client still sends, so the client reads the reply
    /// rather than a reset); the front door's decoder and encoder, added by `framing`; the
    /// timers (header timeout, idle timeout, minimum rate); and an async channel with low
    /// watermarks (at most two received buffers wait for the connection task: deeper buffering
    /// made no upload faster and hundreds of concurrent ones larger), whose finished writer
    /// half-closes the socket, so the client sees the end of the reply.
    package static func configure<Out>(
        _ channel: any Channel, limits: ServerLimits, replies: Out.Type,
        framing: (ChannelPipeline.SynchronousOperations) throws -> Void
    ) throws -> (NIOAsyncChannel<Part, Out>, ConnectionControl<Part>) {
        if let options = channel.syncOptions {
            // The daemon replies after the client half-closed (`nc -N`).
            try options.setOption(.allowRemoteHalfClosure, value: true)
            try options.setOption(.recvAllocator, value: FastLanes.standardReads)
            try options.setOption(.maxMessagesPerRead, value: 1)
        }
        let drain = DrainHandler()
        let connectionGuard = ConnectionGuard<Part>(limits: limits)
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(drain)
        try framing(sync)
        try sync.addHandler(connectionGuard)
        let asyncChannel = try NIOAsyncChannel<Part, Out>(
            wrappingChannelSynchronously: channel,
            configuration: .init(backPressureStrategy: .init(lowWatermark: 1, highWatermark: 2), isOutboundHalfClosureEnabled: true)
        )
        return (asyncChannel, ConnectionControl(eventLoop: channel.eventLoop, drain: drain, connectionGuard: connectionGuard))
    }
}

/// Thread-safe access to a connection's handlers; every call hops to the channel's event loop.
/// `Part` is what the connection's decoder produces (the TCP protocol's parts, or HTTP's).
package struct ConnectionControl<Part: TimedRequestPart>: Sendable {
    package let eventLoop: any EventLoop
    let drain: NIOLoopBound<DrainHandler>
    let connectionGuard: NIOLoopBound<ConnectionGuard<Part>>

    /// Control over `drain` and `connectionGuard`, handlers of a channel on `eventLoop`.
    init(eventLoop: any EventLoop, drain: DrainHandler, connectionGuard: ConnectionGuard<Part>) {
        self.eventLoop = eventLoop
        self.drain = NIOLoopBound(drain, eventLoop: eventLoop)
        self.connectionGuard = NIOLoopBound(connectionGuard, eventLoop: eventLoop)
    }

    /// Whether the decoder saw bytes after the end of the body.
    func trailingDataSeen() async -> Bool {
        (try? await eventLoop.submit { connectionGuard.value.trailingDataSeen }.get()) ?? false
    }

    /// Ends the request with `error`, as if the decoder had raised it: the connection task
    /// receives it in place of the next part (another connection took its upload over).
    func interrupt(_ error: ProtocolError) {
        eventLoop.execute { connectionGuard.value.interrupt(error) }
    }

    /// Stops the request timers (the server is about to reply).
    package func stopTimers() {
        eventLoop.execute { connectionGuard.value.stop() }
    }

    /// After a reply: reads and discards input until the client closes, or the drain limit or
    /// drain timeout of `limits` is reached.
    package func drainAfterReply(_ limits: ServerLimits) async {
        await drainInput(timeout: TimeAmount(limits.drainTimeout), maxBytes: limits.drainMaxBytes)
    }

    /// After an `ERR busy` (or the page's `503`): the same, but for at most a second and 64 KiB,
    /// since the refusal slots are few (see `ConnectionTracker`).
    package func drainAfterBusy(_ limits: ServerLimits) async {
        await drainInput(timeout: TimeAmount(min(limits.drainTimeout, .seconds(1))), maxBytes: 64 * 1024)
    }

    /// Reads and discards input until the client closes, `maxBytes` arrived, or `timeout`.
    func drainInput(timeout: TimeAmount, maxBytes: Int) async {
        let done = eventLoop.flatSubmit {
            drain.value.startDrain(timeout: timeout, maxBytes: maxBytes, eventLoop: eventLoop)
        }
        _ = try? await done.get()
    }
}

/// Runs `write` (a reply handed to a connection's outbound writer), giving up and closing
/// `channel` if it has not finished within `timeout`. Returns whether it finished. It runs even
/// when the calling task was cancelled (the grace period of a shutdown ran out), so that the
/// client is told why. Every front door replies through it.
package func sendWithin(_ timeout: Duration, closing channel: any Channel, _ write: @escaping @Sendable () async throws -> Void) async -> Bool {
    let sent = await Task {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await write()
                    return true
                } catch {
                    return false
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }.value
    if !sent { channel.close(promise: nil) }
    return sent
}
