import ArgumentParser
import SealDropCLISupport
import SealDropCrypto

/// The newsroom's offline tool. It has no network code and never links NIO.
@main
struct Keyholder: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keyholder",
        abstract: "The newsroom's offline tool: keys, and opening what sources sent.",
        discussion: """
        keyholder runs on an air-gapped machine. It reads copies of the daemon's inbox and never \
        touches the network.

        Exit status: 0 when everything succeeded; 1 when anything failed (for several \
        submissions: when at least one failed; the others are still processed); 64 for a usage \
        error.
        """,
        subcommands: [Keygen.self, Pubkey.self, Decrypt.self]
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

let diagnostics = Diagnostics(tool: "keyholder")

/// Runs `body`, printing a `CLIError` as `keyholder: error:` / `hint:` and exiting 1.
func reportingErrors(_ body: () throws(CLIError) -> Void) throws(ExitCode) {
    do {
        try body()
    } catch {
        diagnostics.report(error)
        throw ExitCode.failure
    }
}
