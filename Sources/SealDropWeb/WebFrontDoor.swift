import HummingbirdCore
public import Logging
import NIOCore
public import NIOPosix
public import SealDropServer
public import ServiceLifecycle

/// The no-JavaScript upload page as a `Service` (<doc:UploadPage>): HummingbirdCore's HTTP/1
/// server with a ``WebChannel``, feeding the ``SealDropServer/UploadServer``'s pipeline and
/// counted against its connection limit. Run it in the daemon's `ServiceGroup` beside the
/// upload server (``SealDropServer/Daemon/run(alongside:)``).
///
/// On graceful shutdown it stops accepting, lets uploads in progress finish within the
/// daemon's shutdown grace period, and then discards the rest, as the TCP listener does.
public final class WebFrontDoor: Service, Sendable {
    private let server: Server<WebChannel>
    private let host: String
    private let port: Int
    private let grace: Duration

    /// A front door on `host:port` (port 0 picks a free one) over `uploadServer`'s pipeline
    /// and limits. `onListening` is called with the page's URL once the socket is bound.
    public init(host: String, port: Int, uploadServer: UploadServer, texts: WebTexts = .english, logger: Logger,
                eventLoopGroup: MultiThreadedEventLoopGroup = .singleton,
                onListening: @escaping @Sendable (String) async -> Void = { _ in }) {
        let limits = uploadServer.limits
        let responder = WebResponder(pipeline: uploadServer.pipeline, tracker: uploadServer.tracker, limits: limits,
                                     pages: WebPages(texts: texts, maxBodyBytes: limits.maxBodyBytes), logger: logger)
        self.host = host
        self.port = port
        grace = limits.shutdownGracePeriod
        server = Server(
            childChannelSetup: WebChannel(responder: responder),
            configuration: ServerConfiguration(address: .hostname(host, port: port), serverName: nil, backlog: 256),
            onServerRunning: { channel in
                let url = "http://\(channel.localAddress.map(UploadServer.describe) ?? "?")/"
                logger.info("upload page listening", metadata: ["web.url": "\(url)"])
                await onListening(url)
            },
            eventLoopGroup: eventLoopGroup,
            logger: logger
        )
    }

    /// Serves until graceful shutdown. Throws a ``SealDropServer/StartupError`` if the socket
    /// cannot be bound.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [server, host, port] in
                do {
                    try await server.run()
                } catch {
                    throw StartupError.cannotListen(on: host, port: port, what: "for the upload page", setting: "web-listen", error: error)
                }
            }
            // After a shutdown request, uploads in progress get the grace period; then they are cut.
            group.addTask { [grace] in
                try await gracefulShutdown()
                try await Task.sleep(for: grace)
                throw GracePeriodExpired()
            }
            do {
                try await group.next()
            } catch is GracePeriodExpired {
                group.cancelAll()
                try? await group.next()
            }
            group.cancelAll()
        }
    }

    private struct GracePeriodExpired: Error {}
}
