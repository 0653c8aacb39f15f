import ArgumentParser
import Foundation
import Logging
import SealDropFormat
import SealDropServer

/// The built-in settings, shown in the help.
private let defaults = DaemonConfiguration()

/// `sealdropd`: the upload daemon. Everything but argument parsing and messages lives in
/// SealDropServer (see its Configuration article for every setting).
@main
struct SealDropD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sealdropd",
        abstract: "Receive uploads over TCP and store them sealed to the newsroom's public keys.",
        discussion: """
            Settings come from the built-in defaults, then --config FILE (YAML), then these flags. \
            Sizes take K, M, G, T suffixes (powers of 1024); durations take ms, s, m, h. \
            SIGTERM or SIGINT stop the daemon gracefully; SIGHUP re-reads the recipients file or the \
            signed recipients list (a change to it is also noticed within --recipients-poll). \
            When ready it prints "listening on HOST:PORT" on standard error.
            """,
        version: SealDropVersion.line(for: "sealdropd")
    )

    @Option(name: .long, help: ArgumentHelp("YAML configuration file (every key optional).", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("Address to listen on (default \(defaults.text(of: .listen)!); port 0 picks a free one).", valueName: "host:port"))
    var listen: String?

    @Option(name: .long, help: ArgumentHelp("Spool folder, mode 0700, owned by the daemon's user (default \(defaults.spool)).", valueName: "dir"))
    var spool: String?

    @Option(name: .long, help: ArgumentHelp("A public key to seal uploads to (repeatable).", valueName: "pubkey"))
    var recipient: [String] = []

    @Option(name: .customLong("recipients-file"), help: ArgumentHelp("File of public keys, one per line, # comments; re-read on SIGHUP and when it changes.", valueName: "file"))
    var recipientsFile: String?

    @Option(name: .customLong("signed-recipients"), help: ArgumentHelp("Recipients list signed by the newsroom's offline signing key (keyholder sign-recipients); then the only source of recipients; re-read on SIGHUP and when it changes.", valueName: "file"))
    var signedRecipients: String?

    @Option(name: .customLong("signing-key"), help: ArgumentHelp("The newsroom's signing public key, pinned: the signed list must be signed by it.", valueName: "sealdropsign1..."))
    var signingKey: String?

    @Option(name: .customLong("recipients-poll"), help: ArgumentHelp("How often to check the recipients file or signed list for a change; 0: only on SIGHUP (default \(defaults.text(of: .recipientsPoll)!)).", valueName: "duration"))
    var recipientsPoll: String?

    @Option(name: .customLong("max-body-size"), help: ArgumentHelp("Largest upload (default \(defaults.text(of: .maxBodySize)!)).", valueName: "size"))
    var maxBodySize: String?

    @Option(name: .customLong("max-header-line"), help: ArgumentHelp("Longest request head line in bytes (default \(defaults.text(of: .maxHeaderLine)!)).", valueName: "bytes"))
    var maxHeaderLine: String?

    @Option(name: .customLong("max-header-lines"), help: ArgumentHelp("Most header lines per request (default \(defaults.text(of: .maxHeaderLines)!)).", valueName: "n"))
    var maxHeaderLines: String?

    @Option(name: .customLong("max-connections"), help: ArgumentHelp("Connections served at once (default \(defaults.text(of: .maxConnections)!)).", valueName: "n"))
    var maxConnections: String?

    @Option(name: .customLong("spool-quota"), help: ArgumentHelp("Total size of waiting submissions (default \(defaults.text(of: .spoolQuota)!)).", valueName: "size"))
    var spoolQuota: String?

    @Option(name: .customLong("free-disk-reserve"), help: ArgumentHelp("Space to keep free on the spool's disk (default \(defaults.text(of: .freeDiskReserve)!)).", valueName: "size"))
    var freeDiskReserve: String?

    @Option(name: .customLong("header-timeout"), help: ArgumentHelp("Time to receive the whole request head (default \(defaults.text(of: .headerTimeout)!)).", valueName: "duration"))
    var headerTimeout: String?

    @Option(name: .customLong("idle-timeout"), help: ArgumentHelp("Longest wait for body data (default \(defaults.text(of: .idleTimeout)!)).", valueName: "duration"))
    var idleTimeout: String?

    @Option(name: .customLong("minimum-rate"), help: ArgumentHelp("Slowest accepted upload, bytes per second; 0 turns it off (default \(defaults.text(of: .minimumRate)!)).", valueName: "size"))
    var minimumRate: String?

    @Option(name: .customLong("write-timeout"), help: ArgumentHelp("Time to hand the reply to the client (default \(defaults.text(of: .writeTimeout)!)).", valueName: "duration"))
    var writeTimeout: String?

    @Option(name: .customLong("drain-timeout"), help: ArgumentHelp("Time to read and discard input after a reply (default \(defaults.text(of: .drainTimeout)!)).", valueName: "duration"))
    var drainTimeout: String?

    @Option(name: .customLong("drain-limit"), help: ArgumentHelp("Most bytes discarded after a reply (default \(defaults.text(of: .drainLimit)!)).", valueName: "size"))
    var drainLimit: String?

    @Option(name: .customLong("shutdown-grace"), help: ArgumentHelp("Time uploads in progress get on shutdown (default \(defaults.text(of: .shutdownGrace)!)).", valueName: "duration"))
    var shutdownGrace: String?

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info, notice, warning, error or critical (default \(defaults.text(of: .logLevel)!)).", valueName: "level"))
    var logLevel: String?

    func run() async throws {
        let configuration: DaemonConfiguration
        do {
            configuration = try await resolvedConfiguration()
        } catch {
            fail(error)
        }
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "sealdropd")
        let daemon: Daemon
        do {
            daemon = try await Daemon.prepare(configuration, logger: logger)
        } catch {
            fail(error)
        }
        FileHandle.standardError.write(Data("listening on \(daemon.server.listeningDescription)\n".utf8))
        do {
            try await daemon.run()
        } catch {
            logger.critical("the daemon stopped with an error", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
    }

    /// Defaults, then the file, then the flags.
    private func resolvedConfiguration() async throws(StartupError) -> DaemonConfiguration {
        var configuration = DaemonConfiguration()
        if let config { try await configuration.load(yamlFile: config) }
        let flags: [(DaemonConfiguration.Setting, String?)] = [
            (.listen, listen), (.spool, spool), (.recipientsFile, recipientsFile),
            (.signedRecipients, signedRecipients), (.signingKey, signingKey), (.recipientsPoll, recipientsPoll),
            (.maxBodySize, maxBodySize), (.maxHeaderLine, maxHeaderLine), (.maxHeaderLines, maxHeaderLines),
            (.maxConnections, maxConnections), (.spoolQuota, spoolQuota), (.freeDiskReserve, freeDiskReserve),
            (.headerTimeout, headerTimeout), (.idleTimeout, idleTimeout), (.minimumRate, minimumRate),
            (.writeTimeout, writeTimeout), (.drainTimeout, drainTimeout), (.drainLimit, drainLimit),
            (.shutdownGrace, shutdownGrace), (.logLevel, logLevel),
        ]
        for case let (setting, value?) in flags {
            do { try configuration.apply(setting, value: value) } catch {
                throw StartupError("--\(error.message)", hint: error.hint)
            }
        }
        if !recipient.isEmpty { configuration.recipients = recipient }
        return configuration
    }

    private func fail(_ error: StartupError) -> Never {
        FileHandle.standardError.write(Data("sealdropd: error: \(error.message)\nsealdropd: hint: \(error.hint)\n".utf8))
        Foundation.exit(1)
    }
}
