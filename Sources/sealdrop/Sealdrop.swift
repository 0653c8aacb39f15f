import ArgumentParser
import SealDropFormat
import SealDropCLISupport
import SealDropCrypto

/// The source's client: it seals on the source's own machine, so nothing readable ever leaves it.
@main
struct Sealdrop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sealdrop",
        abstract: "Seal files for a newsroom on your own machine, and send them to its drop through Tor.",
        discussion: "Exit status: 0 on success, 1 on an error, 64 for a usage error.",
        version: SealDropVersion.line(for: "sealdrop"),
        subcommands: [Seal.self, Send.self]
    )

    static func main() {
        disableCoreDumps()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

let diagnostics = Diagnostics(tool: "sealdrop")

/// Runs `body`, printing a `CLIError` as `sealdrop: error:` / `hint:` and exiting 1.
func reportingErrors(_ body: () throws(CLIError) -> Void) throws(ExitCode) {
    do {
        try body()
    } catch {
        diagnostics.report(error)
        throw ExitCode.failure
    }
}
