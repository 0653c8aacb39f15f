import ArgumentParser
import Foundation
import Logging
import SealDropFormat
import SealDropServer
import SealDropWeb
import ServiceLifecycle

/// `sealdropd`: the upload daemon, and the operator's commands around it. Everything but
/// argument parsing and messages lives in SealDropServer (see its Configuration article for
/// every setting). The setting flags come from the settings table
/// (`DaemonConfiguration.Setting`): one flag per setting, named as its YAML key, listed in the
/// help with its default.
@main
struct SealDropD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sealdropd",
        abstract: "Receive uploads over TCP and store them sealed to the newsroom's public keys.",
        usage: """
            sealdropd [serve] [--config <file>] [--<setting> <value> ...]
              sealdropd drop-key (--output <file> | --show <file>)
              sealdropd address [--config <file>] [--<setting> <value> ...] (--onion-hostname-file <file> | --public-host <host:port>)
              sealdropd check-config [--config <file>] [--<setting> <value> ...] [--torrc <file>]
              sealdropd status [--config <file>] [--<setting> <value> ...] [--json]
              sealdropd reload [--config <file>] [--<setting> <value> ...]
              sealdropd export --to <dir> [--move] [--config <file>] [--<setting> <value> ...]
            """,
        discussion: """
            Without a command, sealdropd serves. Settings come from the built-in defaults, then \
            --config FILE (YAML), then flags (--name VALUE or --name=VALUE); every command but \
            drop-key takes them all. Each command's --help has an example and its exit statuses.

            SETTINGS:
            \(DaemonConfiguration.Setting.allCases.map(\.helpLine).joined(separator: "\n"))
            """,
        version: SealDropVersion.line(for: "sealdropd"),
        subcommands: [Serve.self, DropKeyCommand.self, Address.self, CheckConfig.self, Status.self, Reload.self, Export.self],
        defaultSubcommand: Serve.self
    )
}

/// The daemon's settings, as every subcommand that reads a configuration takes them.
struct DaemonSettings: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("YAML configuration file (every key optional; see SETTINGS in sealdropd serve --help).", valueName: "file"))
    var config: String?

    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("Settings, as listed under SETTINGS.", visibility: .hidden))
    var settings: [String] = []

    /// The settings given as flags, in order: `--name VALUE` or `--name=VALUE`.
    func settingFlags() throws -> [(DaemonConfiguration.Setting, String)] {
        var pairs: [(DaemonConfiguration.Setting, String)] = []
        var index = 0
        while index < settings.count {
            let word = settings[index]
            guard word.hasPrefix("--") else { throw ValidationError("unexpected argument '\(word)'") }
            var name = String(word.dropFirst(2)), value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let setting = DaemonConfiguration.Setting(flag: name) else {
                throw ValidationError("unknown option '--\(name)'; the settings are listed in sealdropd --help")
            }
            if value == nil {
                index += 1
                guard index < settings.count else { throw ValidationError("missing value for '--\(name) <\(setting.valueName)>'") }
                value = settings[index]
            }
            pairs.append((setting, value!))
            index += 1
        }
        return pairs
    }

    func validate() throws {
        _ = try settingFlags()
    }

    /// Defaults, then the file, then the flags.
    func resolved() async throws(StartupError) -> DaemonConfiguration {
        var configuration = DaemonConfiguration()
        if let config { try await configuration.load(yamlFile: config) }
        let flags = (try? settingFlags()) ?? []
        let keys = flags.filter { $0.0 == .recipients }.map(\.1)
        for (setting, value) in flags where setting != .recipients {
            do { try configuration.apply(setting, value: value) } catch {
                throw StartupError("--\(error.message)", hint: error.hint)
            }
        }
        if !keys.isEmpty { configuration.recipients = keys }
        return configuration
    }
}

/// Prints a startup error as `sealdropd: error:` and `sealdropd: hint:` lines and exits 1.
func fail(_ error: StartupError) -> Never {
    report(error)
    Foundation.exit(1)
}

/// Prints an error as its `sealdropd: error:` and `sealdropd: hint:` lines on standard error.
func report(_ error: StartupError) {
    FileHandle.standardError.write(Data("sealdropd: error: \(error.message)\nsealdropd: hint: \(error.hint)\n".utf8))
}

/// `sealdropd serve` (the default): the daemon.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve uploads (the default when no command is given).",
        usage: "sealdropd [serve] [--config <file>] [--<setting> <value> ...]",
        discussion: """
            Settings come from the built-in defaults, then --config FILE (YAML), then these flags \
            (each as --name VALUE or --name=VALUE). Sizes take K, M, G, T suffixes (powers of \
            1024); durations take ms, s, m, h. SIGTERM or SIGINT stop the daemon gracefully; SIGHUP \
            re-reads the recipients file or the signed recipients list (a change to it is also \
            noticed within --recipients-poll). When ready it prints "listening on HOST:PORT" on \
            standard error, and with --web-listen, "upload page on http://HOST:PORT/" once the \
            page is listening too.

            Example:
              sealdropd --spool /var/lib/sealdrop --signing-key sealdropsign1… --signed-recipients /etc/sealdrop/recipients.signed

            SETTINGS:
            \(DaemonConfiguration.Setting.allCases.map(\.helpLine).joined(separator: "\n"))

            Exit status: 0 on a clean shutdown; 1 when it refused to start (configuration, spool, \
            recipients, drop key); 64 for a usage error.
            """
    )

    @OptionGroup var settings: DaemonSettings

    func run() async throws {
        let configuration: DaemonConfiguration
        do {
            configuration = try await settings.resolved()
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
        let frontDoors: [any Service] = configuration.webListen.map { web in
            [WebFrontDoor(host: web.host, port: web.port, uploadServer: daemon.server, logger: logger) { url in
                FileHandle.standardError.write(Data("upload page on \(url)\n".utf8))
                daemon.reportReady()
            }]
        } ?? []
        if frontDoors.isEmpty { daemon.reportReady() }
        do {
            try await daemon.run(alongside: frontDoors)
        } catch let error as StartupError {
            fail(error)
        } catch {
            logger.critical("the daemon stopped with an error", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
    }
}
