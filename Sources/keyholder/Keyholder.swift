import ArgumentParser
import SealDropCLISupport
import SealDropCrypto
import SealDropFormat
import SealDropKeyholder

/// The newsroom's offline tool. It has no network code and never links NIO. Each subcommand is
/// a small struct in its own file that parses its arguments, calls the `SealDropKeyholder`
/// library and prints.
@main
struct Keyholder: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keyholder",
        abstract: "The newsroom's offline tool: keys, the archive, and opening what sources sent.",
        discussion: """
        keyholder runs on an air-gapped machine and never touches the network. Submissions \
        arrive on removable media: 'keyholder import MEDIA' copies them into the local archive \
        (~/.sealdrop/archive, or --archive DIR), verifying each as it copies it, and every \
        command that writes (decrypt, rekey, retire) works on the archive and never writes to \
        a medium. Nothing goes back from this machine to the server.

        Keys: --key KEYFILE (repeatable) uses only those keys; otherwise every *.key file in the \
        keyring folder (--keyring DIR, default ~/.sealdrop/keys). The key ID in each submission \
        picks the key; a key is unlocked once per run (once per session in 'keyholder shell'), \
        and only when a submission needs it. Passphrases are read from the terminal without \
        echo, or from the first line of --passphrase-file.

        Submissions are named by ID (or a unique prefix of at least 4 characters), looked up in \
        the archive or in the folders given with --in, or by path (a .sealdrop file, an inbox \
        folder, or a spool root whose inbox is read).

        Example, the everyday path:
          keyholder import /media/usb/spool
          keyholder list
          keyholder decrypt --out ~/opened --all

        Exit status:
          0   everything succeeded
          1   a submission failed (no match, header failure, payload failure,
              bad metadata, read error); the others were still processed
          2   keyholder could not do its work: no usable key, a wrong passphrase,
              a key file others can read or another user owns, a refused output
              folder, a path or ID that does not exist, a write error
          64  usage error (a wrong option or argument)
          keygen, pubkey and fingerprint exit 0 on success and 1 on any error.
        """,
        version: SealDropVersion.line(for: "keyholder"),
        subcommands: [Keygen.self, Pubkey.self, Fingerprint.self, Keys.self, Import.self, List.self, Show.self, Verify.self,
                      Inspect.self, Decrypt.self, Rotate.self, Rekey.self, Retire.self, SignRecipients.self, TrustDrop.self, Shell.self]
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
    /// At least one submission failed; the others were processed. Also any error of keygen,
    /// pubkey and fingerprint.
    static let submissionFailed = ExitCode(1)
    /// keyholder could not do its work (keys, passphrases, output folder, paths, writing).
    static let cannotRun = ExitCode(2)
}

/// The exit-status paragraph of a command that works on submissions.
let submissionExitStatuses = """
    Exit status: 0 when every submission succeeded; 1 when one failed (the others were still \
    processed); 2 when keyholder could not do its work (keys, passphrase, output folder, a \
    missing path or ID); 64 for a usage error.
    """

/// The exit-status paragraph of a command that does one thing.
let simpleExitStatuses = "Exit status: 0 on success; 1 on any error; 64 for a usage error."

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

/// A progress bar for one file's bytes (drawn only on a terminal, for large files).
func progressBar(for file: SubmissionFile, size: UInt64) -> ProgressBar {
    ProgressBar(label: escapeForDisplay(file.label), total: size)
}

/// Runs `work` on each file with a progress bar over its bytes. A failure of one submission is
/// reported (in the words `describe` gives it) and counted, and the others go on; a fatal one
/// ends the run. Returns how many failed.
func eachSubmission(_ files: [SubmissionFile],
                    describe: (SubmissionFile, SubmissionFailure) -> CLIError = { file, failure in failure.report(for: file) },
                    _ work: (SubmissionFile, ProgressBar) throws(KeyholderError) -> Void) throws(CLIError) -> Int {
    var failures = 0
    for file in files {
        let bar = progressBar(for: file, size: fileSize(file.path))
        do throws(KeyholderError) {
            try work(file, bar)
            bar.finish()
        } catch {
            bar.finish()
            switch error {
            case .fatal(let fatal): throw fatal
            case .submission(let failure):
                failures += 1
                diagnostics.report(describe(file, failure))
            }
        }
    }
    return failures
}
