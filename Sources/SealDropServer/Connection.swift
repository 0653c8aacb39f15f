import NIOCore
import SealDropWire

/// One accepted connection as the accept loop hands it to a connection task: the async channel
/// of decoded request parts, and a handle on the pipeline's own handlers.
struct Connection: Sendable {
    let channel: NIOAsyncChannel<RequestPart, Never>
    let control: ConnectionControl

    /// Builds a child channel's pipeline; runs on its event loop.
    static func configure(_ channel: any Channel, limits: ServerLimits) throws -> Connection {
        if let options = channel.syncOptions {
            // The daemon replies after the client half-closed (`nc -N`).
            try options.setOption(.allowRemoteHalfClosure, value: true)
            // Small reads, one per wake-up: a fast client cannot make a connection buffer much
            // (an upload in one of the `FastLanes` later reads more at a time).
            try options.setOption(.recvAllocator, value: FastLanes.standardReads)
            try options.setOption(.maxMessagesPerRead, value: 1)
        }
        let drain = DrainHandler()
        let connectionGuard = ConnectionGuard(limits: limits)
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(drain)
        try sync.addHandler(ByteToMessageHandler(RequestDecoder(limits: limits.wireLimits)))
        try sync.addHandler(connectionGuard)
        // Low watermarks: at most a few received buffers wait for the connection task.
        let asyncChannel = try NIOAsyncChannel<RequestPart, Never>(
            wrappingChannelSynchronously: channel,
            configuration: .init(backPressureStrategy: .init(lowWatermark: 2, highWatermark: 4))
        )
        let control = ConnectionControl(
            eventLoop: channel.eventLoop,
            drain: NIOLoopBound(drain, eventLoop: channel.eventLoop),
            connectionGuard: NIOLoopBound(connectionGuard, eventLoop: channel.eventLoop)
        )
        return Connection(channel: asyncChannel, control: control)
    }
}

/// Thread-safe access to a connection's handlers; every call hops to the channel's event loop.
struct ConnectionControl: Sendable {
    let eventLoop: any EventLoop
    let drain: NIOLoopBound<DrainHandler>
    let connectionGuard: NIOLoopBound<ConnectionGuard>

    /// Whether the decoder saw bytes after the end of the body.
    func trailingDataSeen() async -> Bool {
        (try? await eventLoop.submit { connectionGuard.value.trailingDataSeen }.get()) ?? false
    }

    /// Stops the request timers (the server is about to reply).
    func stopTimers() {
        eventLoop.execute { connectionGuard.value.stop() }
    }

    /// Writes `reply`, closing the connection if it cannot be handed to the socket within
    /// `timeout` (a client that never reads); then shuts the write side so the client sees the
    /// end of the reply.
    func send(_ reply: Reply, on channel: any Channel, timeout: TimeAmount) async {
        var encoded = channel.allocator.buffer(capacity: 64)
        reply.write(into: &encoded)
        let buffer = encoded
        let written = eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
            let write = channel.writeAndFlush(buffer)
            let deadline = eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
            write.whenComplete { _ in deadline.cancel() }
            return write
        }
        guard (try? await written.get()) != nil else { return }
        try? await channel.close(mode: .output).get()
    }

    /// Reads and discards input until the client closes, `maxBytes` arrived, or `timeout`.
    func drainInput(timeout: TimeAmount, maxBytes: Int) async {
        let done = eventLoop.flatSubmit {
            drain.value.startDrain(timeout: timeout, maxBytes: maxBytes, eventLoop: eventLoop)
        }
        _ = try? await done.get()
    }
}
