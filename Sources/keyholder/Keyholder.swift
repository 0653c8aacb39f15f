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

        Keys: --key KEYFILE (repeatable) uses only those keys; otherwise every *.key file in the \
        keyring folder (--keyring DIR, default ~/.sealdrop/keys). The key ID in each submission \
        picks the key; a key is unlocked once per run, and only when a submission needs it. \
        Passphrases are read from the terminal without echo, or from the first line of \
        --passphrase-file (keys it does not open are then asked for on the terminal).

        Submissions are named by path (a .sealdrop file, an inbox folder, or a spool root whose \
        inbox is read) or by submission ID (or a unique prefix of one), looked up in the folders \
        given with --in, or else in the current folder.

        Exit status:
          0   everything succeeded
          1   a submission failed (no match, header failure, payload failure,
              read error); the others were still processed
          2   keyholder could not do its work: no usable key, a wrong passphrase,
              a key file others can read or another user owns, a refused output
              folder, a path or ID that does not exist, a write error
          64  usage error (a wrong option or argument)
          keygen and pubkey exit 0 on success and 1 on any error.
        """,
        subcommands: [Keygen.self, Pubkey.self, Keys.self, List.self, Show.self, Decrypt.self, Verify.self, Inspect.self,
                      Rotate.self, Rekey.self, Retire.self, SignRecipients.self]
    )

    static func main() {
        disableCoreDumps()
        // Listing thousands of submissions allocates and releases small guarded buffers for
        // each one; reusing them (zeroed, still guarded) keeps list near one sealed-box open
        // per submission.
        GuardedMemoryPool.enable()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

let diagnostics = Diagnostics(tool: "keyholder")

/// Exit statuses, documented in the root command's help.
enum ExitStatus {
    /// At least one submission failed; the others were processed. Also any error of keygen
    /// and pubkey.
    static let submissionFailed = ExitCode(1)
    /// keyholder could not do its work (keys, passphrases, output folder, paths, writing).
    static let cannotRun = ExitCode(2)
}

/// Runs `body`, printing a `CLIError` as `keyholder: error:` / `hint:` and exiting with
/// `status`: 2 (the run could not be done) for the commands that open submissions, whose
/// per-submission failures (exit 1) they report themselves; 1 for keygen and pubkey.
func reportingErrors(status: ExitCode = ExitStatus.cannotRun, _ body: () throws(CLIError) -> Void) throws(ExitCode) {
    do {
        try body()
    } catch {
        diagnostics.report(error)
        throw status
    }
}
