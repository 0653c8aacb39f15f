import Foundation
public import Logging
import NIOCore
import NIOPosix
import SealDropCrypto
public import SealDropStore
public import ServiceLifecycle
import UnixSignals
#if canImport(Glibc)
import Glibc
#endif

/// The whole daemon, started the way `sealdropd` starts it: ``prepare(_:logger:)`` checks
/// everything and binds the socket (refusing to start with a ``StartupError`` on any problem),
/// then ``run()`` serves until SIGTERM or SIGINT, re-reading the recipients on SIGHUP and when
/// their file changes.
public final class Daemon: Sendable {
    /// The upload server.
    public let server: UploadServer
    /// The recipients in force.
    public let recipients: RecipientStore
    /// The open spool.
    public let spool: Spool
    private let signals: UnixSignalsSequence
    private let recipientsPoll: Duration
    private let retention: Duration
    private let retentionCheck: Duration
    private let notifier = ServiceManagerNotifier()
    private let logger: Logger

    private init(server: UploadServer, recipients: RecipientStore, spool: Spool, signals: UnixSignalsSequence,
                 configuration: DaemonConfiguration, logger: Logger) {
        self.server = server
        self.recipients = recipients
        self.spool = spool
        self.signals = signals
        recipientsPoll = configuration.recipientsPoll
        retention = configuration.retention
        retentionCheck = configuration.retentionCheck
        self.logger = logger
    }

    /// Hardens the process, loads the recipients, opens and sweeps the spool, and binds. A signed
    /// recipients list is verified against the pinned signing key and its serial against the
    /// one recorded in the spool (`recipients-serial`), after the spool is opened.
    ///
    /// Process-wide effects: core dumps off, file mode creation mask 077, the soft limit on open
    /// files raised to the hard limit, and SIGTERM, SIGINT and SIGHUP trapped.
    public static func prepare(_ configuration: DaemonConfiguration, logger: Logger) async throws(StartupError) -> Daemon {
        if !disableCoreDumps() {
            logger.warning("could not disable core dumps; a crash could write memory (plaintext in transit) to disk")
        }
        umask(0o077)
        raiseOpenFileLimit(logger: logger)
        // Trap the signals before anyone can learn the port, so none of them kills the process.
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup)

        // Keys and a plain recipients file are checked before the spool is touched; a signed
        // list needs the open (locked) spool, where the highest serial accepted is kept.
        let source = try RecipientStore.source(for: configuration)
        let recipients: RecipientStore, spool: Spool
        switch source {
        case .keys(let keys, let file):
            recipients = try RecipientStore(keys: keys, file: file)
            spool = try openSpool(configuration.spool, logger: logger)
        case .signedList(let file, let signingKey):
            spool = try openSpool(configuration.spool, logger: logger)
            recipients = try RecipientStore(signedList: file, signingKey: signingKey, serialRecord: AcceptedSerialFile(folder: spool.rootPath))
        }
        let dropKey = try DropSigner.forDaemon(configured: configuration.dropKey, spoolRoot: spool.rootPath)
        let server: UploadServer
        do {
            server = try await UploadServer.bind(host: configuration.host, port: configuration.port, spool: spool,
                                                 recipients: recipients, dropKey: dropKey.signer, limits: configuration.limits, logger: logger)
        } catch let error as StartupError {
            throw error
        } catch {
            throw StartupError.cannotListen(on: configuration.host, port: configuration.port, setting: "listen", error: error)
        }
        // Resumable uploads that expired while the daemon was down go before anyone can resume them.
        await server.sweepPartialUploads()
        // So do submissions past their retention.
        removeExpiredSubmissions(spool, retention: configuration.retention, logger: logger)
        do { try ReloadOutcome(pid: getpid(), generation: 0, result: "started").write(spoolRoot: spool.rootPath) } catch {
            throw StartupError("cannot write \(ReloadOutcome.fileName) in the spool \(spool.rootPath): \(error.localizedDescription)",
                               hint: "the spool must be writable by the daemon's user")
        }
        if let ip = server.localAddress.ipAddress, !DaemonConfiguration.isLoopback(ip) {
            logger.warning("listening on a non-loopback address; run the daemon behind a Tor onion service on 127.0.0.1",
                           metadata: ["listen": "\(server.listeningDescription)"])
        }
        var metadata = recipients.currentSet.logMetadata
        if case .signedList(_, let signingKey) = source {
            metadata["recipients.signing_key"] = "\(signingKey.fingerprint)"
        }
        logger.info(dropKey.created ? "made a new drop key in the spool; pin it with keyholder trust-drop" : "drop key loaded",
                    metadata: ["drop_key": "\(dropKey.signer.publicKey.text)", "drop_key.fingerprint": "\(dropKey.signer.publicKey.fingerprint)"])
        logger.info("recipients loaded", metadata: metadata)
        if geteuid() == 0 {
            logger.warning("running as root: a flaw in the daemon would then hold the whole machine; run it as its own user, as the unit sealdropd.service does (User=sealdrop)")
        }
        recipients.currentSet.logExpiry(logger)
        return Daemon(server: server, recipients: recipients, spool: spool, signals: signals,
                      configuration: configuration, logger: logger)
    }

    /// Opens the spool, sweeps what a previous run left in `tmp`, cuts kept uploads back to their
    /// recorded durable offsets, and logs its state.
    public static func openSpool(_ path: String, logger: Logger) throws(StartupError) -> Spool {
        let spool: Spool
        do {
            spool = try Spool.open(root: path)
            let swept = try spool.sweepTemporaryFiles()
            if swept > 0 { logger.notice("removed unfinished uploads left by a previous run", metadata: ["spool.swept": "\(swept)"]) }
            let kept = try spool.recoverKeptUploads()
            if kept > 0 { logger.info("kept uploads cut back to their durable offsets", metadata: ["spool.kept": "\(kept)"]) }
        } catch {
            throw StartupError(error.description, hint: error.hint)
        }
        return spool
    }

    /// Removes the submissions that arrived more than `retention` ago (none when it is zero),
    /// logging how many, never which.
    private static func removeExpiredSubmissions(_ spool: Spool, retention: Duration, logger: Logger, now: Date = Date()) {
        guard retention > .zero else { return }
        do {
            let removed = try spool.removeSubmissions(arrivedBefore: now.addingTimeInterval(-TimeInterval(retention.components.seconds)))
            if removed > 0 {
                logger.notice("removed submissions past their retention", metadata: ["retention.removed": "\(removed)"])
            }
        } catch {
            logger.error("could not remove submissions past their retention", metadata: ["error": "\(error)"])
        }
    }

    /// Tells systemd (`Type=notify`) that the daemon serves; call once every front door listens.
    /// Does nothing when the daemon was not started by systemd.
    public func reportReady() {
        notifier.ready(status: "listening on \(server.listeningDescription)")
    }

    /// Re-reads the recipients on SIGHUP, telling systemd around it, and records the outcome in
    /// the spool (``ReloadOutcome``) for `sealdropd reload`.
    private func reloadOnSignal(generation: Int) {
        notifier.reloading()
        let refusal = recipients.reload(logger: logger)
        let set = recipients.currentSet
        let inForce = "\(set.keys.count) key(s), key ID \(set.keys.map(\.keyID.description).joined(separator: ", "))"
            + (set.serial.map { ", serial \($0)" } ?? "")
        let result = refusal.map { "refused: \($0.message); keeping \(inForce)" } ?? "ok: \(inForce)"
        do {
            try ReloadOutcome(pid: getpid(), generation: generation, result: result.replacingOccurrences(of: "\n", with: " "))
                .write(spoolRoot: spool.rootPath)
        } catch {
            logger.error("could not record the reload's outcome in the spool", metadata: ["error": "\(error.localizedDescription)"])
        }
        notifier.ready(status: "listening on \(server.listeningDescription)")
    }

    /// Serves until SIGTERM or SIGINT (graceful: in-flight uploads get the grace period; a
    /// second signal discards them at once). SIGHUP re-reads the recipients file or the signed
    /// list; so does a change to that file, noticed within `recipients-poll`. `services` run
    /// beside the upload server and stop with it (the upload page: `SealDropWeb`'s front door,
    /// which this module does not know).
    public func run(alongside services: [any Service] = []) async throws {
        let group = ServiceGroup(configuration: .init(services: [FrontDoors(services: [server] + services)], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            if recipientsPoll > .zero, recipients.watchedFile != nil {
                tasks.addTask { [recipientsPoll, recipients, logger] in
                    // Ends only when cancelled, after the server has stopped.
                    while (try? await Task.sleep(for: recipientsPoll)) != nil {
                        recipients.reloadIfChanged(logger: logger)
                    }
                }
            }
            // Resumable uploads past their time are removed while the daemon runs, not only at start.
            tasks.addTask { [server] in
                while (try? await Task.sleep(for: server.partialSweepInterval)) != nil {
                    await server.sweepPartialUploads()
                }
            }
            if retention > .zero {
                tasks.addTask { [spool, retention, retentionCheck, logger, server] in
                    while (try? await Task.sleep(for: retentionCheck)) != nil {
                        try? await server.pipeline.threadPool.runIfActive {
                            Self.removeExpiredSubmissions(spool, retention: retention, logger: logger)
                        }
                    }
                }
            }
            // The signed list's expiry is checked again every six hours, so that a daemon that
            // runs for months warns before its list expires, not only at start and on reload.
            tasks.addTask { [recipients, logger] in
                while (try? await Task.sleep(for: .seconds(6 * 3600))) != nil {
                    recipients.currentSet.logExpiry(logger)
                }
            }
            tasks.addTask { [signals, logger, notifier] in
                var shuttingDown = false
                var reloads = 0
                for await signal in signals {
                    switch signal {
                    case .sighup:
                        reloads += 1
                        self.reloadOnSignal(generation: reloads)
                    default:
                        if shuttingDown {
                            logger.notice("second shutdown signal; discarding uploads in progress now")
                            throw ImmediateShutdown()
                        }
                        shuttingDown = true
                        notifier.stopping()
                        logger.info("shutting down", metadata: ["signal": "\(signal)"])
                        await group.triggerGracefulShutdown()
                    }
                }
            }
            do {
                try await tasks.next()
            } catch is ImmediateShutdown {
                tasks.cancelAll()
                try? await tasks.next()
                return
            }
            tasks.cancelAll()
        }
    }

    private struct ImmediateShutdown: Error {}

    /// The front doors side by side, so that a shutdown reaches them all at once: each stops
    /// accepting and gives its uploads in progress the same grace period. (A `ServiceGroup`
    /// shuts its services down one after another, so the TCP listener would go on accepting
    /// while the page's uploads finished.) One that fails stops the others.
    private struct FrontDoors: Service {
        let services: [any Service]

        func run() async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for service in services {
                    group.addTask { try await service.run() }
                }
                // The first failure ends the group at once (`waitForAll` would wait for the others).
                while try await group.next() != nil {}
            }
        }
    }

    /// With up to 512 connections, each with a socket and a temporary file, the usual soft limit
    /// of 1024 descriptors is tight: use the hard limit.
    private static func raiseOpenFileLimit(logger: Logger) {
        var limit = rlimit()
        #if os(Linux)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        if setrlimit(resource, &limit) != 0 {
            logger.debug("could not raise the open file limit")
        }
    }
}
