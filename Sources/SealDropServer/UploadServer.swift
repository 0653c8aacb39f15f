import NIOConcurrencyHelpers
public import Logging
public import NIOCore
public import NIOPosix
public import SealDropStore
public import ServiceLifecycle
import SealDropWire
import Synchronization

/// The upload daemon's network side as a `Service`: it accepts connections, serves one request
/// on each (the protocol article of SealDropWire), and on graceful shutdown stops accepting, lets uploads in
/// progress finish within ``ServerLimits/shutdownGracePeriod``, and discards the rest.
///
/// Create it with ``bind(host:port:spool:recipients:limits:logger:eventLoopGroup:threadPool:makeSubmissionID:)``
/// (port 0 picks a free port, see ``localAddress``), then run it, usually in a `ServiceGroup`.
public final class UploadServer: Service, Sendable {
    /// The address the server listens on, with the real port.
    public let localAddress: SocketAddress
    private let serverChannel: NIOAsyncChannel<Connection, Never>
    private let handler: RequestHandler
    /// Set once the server stops accepting (graceful shutdown or cancellation).
    private let stopping = Synchronization.Atomic(false)
    /// Connections being served, counted together for every front door.
    package let tracker: ConnectionTracker
    /// The limits every front door enforces.
    package let limits: ServerLimits
    private let logger: Logger

    /// Binds the listening socket. The spool must be open and swept (see ``Daemon/openSpool(_:logger:)``).
    ///
    /// - Parameters:
    ///   - host: The address to listen on, e.g. `127.0.0.1`.
    ///   - port: The port; 0 picks a free one.
    ///   - spool: The open spool.
    ///   - recipients: The keys uploads are sealed to.
    ///   - dropKey: Signs each submission's provenance record.
    ///   - limits: The limits to enforce.
    ///   - logger: Where the server logs; it never logs a client's address.
    ///   - eventLoopGroup: The event loops for the sockets.
    ///   - threadPool: The threads for blocking file I/O.
    ///   - makeSubmissionID: Makes the ID of each new upload (tests may fix it).
    public static func bind(
        host: String,
        port: Int,
        spool: Spool,
        recipients: RecipientStore,
        dropKey: DropSigner,
        limits: ServerLimits = ServerLimits(),
        logger: Logger,
        eventLoopGroup: MultiThreadedEventLoopGroup = .singleton,
        threadPool: NIOThreadPool = .singleton,
        makeSubmissionID: @escaping @Sendable () -> SubmissionID = { SubmissionID.random() }
    ) async throws -> UploadServer {
        let pipeline = try await UploadPipeline.open(spool: spool, recipients: recipients, limits: limits, dropKey: dropKey, logger: logger,
                                                     threadPool: threadPool, makeSubmissionID: makeSubmissionID)
        let handler = RequestHandler(pipeline: pipeline, limits: limits, logger: logger)
        let channel = try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AcceptPauseHandler(logger: logger))
                }
            }
            // No child channel options here: NIO reports a failure to apply one to the listening
            // channel's stream, which would end the accept loop. Connection.configure sets them,
            // and a failure there closes that one connection. (TCP_NODELAY, which NIO sets on
            // the listening socket, is inherited by accepted sockets.)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    do {
                        return try Connection.configure(channel, limits: limits)
                    } catch {
                        channel.close(promise: nil)
                        throw error
                    }
                }
            }
        guard let address = channel.channel.localAddress else {
            try? await channel.channel.close()
            throw StartupError("the listening socket has no address", hint: "check --listen")
        }
        return UploadServer(localAddress: address, serverChannel: channel, handler: handler, limits: limits, logger: logger)
    }

    private init(localAddress: SocketAddress, serverChannel: NIOAsyncChannel<Connection, Never>, handler: RequestHandler,
                 limits: ServerLimits, logger: Logger) {
        self.localAddress = localAddress
        self.serverChannel = serverChannel
        self.handler = handler
        self.tracker = ConnectionTracker(limit: limits.maxConnections, refusalLimit: 64)
        self.limits = limits
        self.logger = logger
    }

    /// The one way into the spool, shared with every other front door (the web page).
    package var pipeline: UploadPipeline { handler.pipeline }

    /// The listening address as `HOST:PORT` (`[HOST]:PORT` for IPv6).
    public var listeningDescription: String { Self.describe(localAddress) }

    package static func describe(_ address: SocketAddress) -> String {
        let host = address.ipAddress ?? "?"
        let port = address.port ?? 0
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Removes resumable uploads past their expiry or idle limit, and old records of finished or
    /// expired ones (see ``UploadPipeline/sweepPartialUploads(now:)``).
    @discardableResult
    public func sweepPartialUploads() async -> (expired: Int, removed: Int) {
        await handler.pipeline.sweepPartialUploads()
    }

    /// How often ``sweepPartialUploads()`` should run: an eighth of the shorter of the expiry
    /// and the idle limit, between a second and ten minutes.
    public var partialSweepInterval: Duration {
        min(max(min(limits.partialExpiry, limits.partialIdleLimit) / 8, .seconds(1)), .seconds(600))
    }

    /// Connections being served right now (not counting `ERR busy` refusals).
    public var activeConnections: Int { tracker.active }

    /// Accepts and serves connections until graceful shutdown or cancellation.
    ///
    /// On graceful shutdown the listening socket is closed rather than the loop cancelled: the
    /// loop then still takes the connections already accepted (each must be closed through its
    /// async channel) and closes them, while uploads in progress get the grace period.
    public func run() async throws {
        do {
            // Cancelled (another front door failed to start, or a second signal): stop accepting too.
            try await withTaskCancellationHandler {
                try await withGracefulShutdownHandler {
                    try await withThrowingDiscardingTaskGroup { group in
                        try await serverChannel.executeThenClose { inbound in
                            for try await connection in inbound {
                                let admission: ConnectionTracker.Admission = stopping.load(ordering: .relaxed) ? .drop : tracker.admit()
                                switch admission {
                                case .serve:
                                    group.addTask {
                                        await self.handler.serve(connection)
                                        self.tracker.leave(.serve)
                                    }
                                case .refuse:
                                    group.addTask {
                                        await self.handler.refuseBusy(connection)
                                        self.tracker.leave(.refuse)
                                    }
                                case .drop:
                                    group.addTask { await self.handler.close(connection) }
                                }
                            }
                        }
                        // Not accepting any more. Give uploads in progress the grace period.
                        let inFlight = tracker.active
                        guard inFlight > 0, !Task.isCancelled else { return }
                        logger.info("stopped accepting connections; waiting for uploads in progress", metadata: [
                            "connections.active": "\(inFlight)", "shutdown.grace_seconds": "\(limits.shutdownGracePeriod.components.seconds)",
                        ])
                        group.addTask {
                            let deadline = ContinuousClock.now + self.limits.shutdownGracePeriod
                            while self.tracker.active + self.tracker.refusing > 0 {
                                guard ContinuousClock.now < deadline else { throw GracePeriodExpired() }
                                try await Task.sleep(for: .milliseconds(20))
                            }
                        }
                    }
                } onGracefulShutdown: {
                    self.stopAccepting()
                }
            } onCancel: {
                self.stopAccepting()
            }
        } catch is GracePeriodExpired {
            logger.warning("shutdown grace period over; unfinished uploads were discarded")
        }
        logger.info("server stopped")
    }

    /// Closes the listening socket; connections already accepted but not yet taken are closed
    /// unserved.
    private func stopAccepting() {
        stopping.store(true, ordering: .relaxed)
        serverChannel.channel.close(promise: nil)
    }
}

private struct GracePeriodExpired: Error {}

/// Counts connections being served and connections being refused, against their limits.
package final class ConnectionTracker: Sendable {
    package enum Admission { case serve, refuse, drop }

    private struct Counts {
        var active = 0
        var refusing = 0
    }

    private let limit: Int
    private let refusalLimit: Int
    private let counts = NIOLockedValueBox(Counts())

    init(limit: Int, refusalLimit: Int) {
        self.limit = limit
        self.refusalLimit = refusalLimit
    }

    var active: Int { counts.withLockedValue { $0.active } }
    var refusing: Int { counts.withLockedValue { $0.refusing } }

    /// Serve it if under the limit; else refuse it with `ERR busy` while few refusals are under
    /// way; else just close it (a flood must not tie up the daemon in polite refusals).
    package func admit() -> Admission {
        counts.withLockedValue { counts in
            if counts.active < limit {
                counts.active += 1
                return .serve
            }
            if counts.refusing < refusalLimit {
                counts.refusing += 1
                return .refuse
            }
            return .drop
        }
    }

    package func leave(_ admission: Admission) {
        counts.withLockedValue { counts in
            switch admission {
            case .serve: counts.active -= 1
            case .refuse: counts.refusing -= 1
            case .drop: break
            }
        }
    }
}
