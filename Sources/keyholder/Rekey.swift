import ArgumentParser
import SealDropCLISupport
import SealDropCrypto
import SealDropKeyholder

struct Rekey: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-wrap the archive's submissions for new recipients, in place.",
        discussion: """
        Works on the archive only: a medium or the server's inbox is never written to (import \
        first). Only the header changes: the file key is opened with your key and sealed to \
        every --to key; the payload is copied byte for byte as it is authenticated, in one \
        pass. The new file is synced, its header read back, and it replaces the original \
        atomically, so a failure leaves the original as it was. A submission already sealed to \
        exactly the --to keys is skipped (no passphrase is asked for it). --full re-encrypts the \
        payload under a fresh file key instead, for a file key that may have leaked (after a \
        compromise); nothing is skipped then. On a terminal, large files show progress.

        Example:
          keyholder rekey --to sealdrop1NEW… --all

        \(submissionExitStatuses)
        """
    )

    @OptionGroup var keys: KeyOptions

    @Option(help: ArgumentHelp("The archive folder (default ~/.sealdrop/archive).", valueName: "dir"))
    var archive: String?

    @Option(name: .customLong("to"), help: ArgumentHelp("A new recipient's public key (sealdrop1…); repeat for several.", valueName: "pubkey"))
    var recipients: [String] = []

    @Flag(help: "Re-encrypt the payload under a fresh file key instead of re-wrapping the old one.")
    var full = false

    @Flag(help: "Re-key every submission of the archive.")
    var all = false

    @Argument(help: ArgumentHelp("Submission IDs (or paths of the archive's files).", valueName: "id"))
    var paths: [String] = []

    func validate() throws {
        guard !recipients.isEmpty else { throw ValidationError("give at least one --to PUBKEY") }
        guard all != !paths.isEmpty else { throw ValidationError("name the submissions to re-key, or give --all") }
    }

    func run() throws {
        var failures = 0
        try reportingErrors { () throws(CLIError) in
            var newRecipients: [PublicKey] = []
            for text in recipients {
                do { newRecipients.append(try PublicKey(text: text)) } catch {
                    throw CLIError("--to \(String(text.prefix(80))): \(error)", hint: "copy the new public key again, exactly")
                }
            }
            let archive = try Archive.open(self.archive ?? Archive.defaultPath, create: false)
            let files = all ? try archive.submissionFiles() : try Locator.resolve(paths, lookingIn: [archive.submissionsPath])
            let rekeyer = Rekeyer(archive: archive, ring: try keys.makeKeyring())
            try rekeyer.checkInArchive(files)
            let targets = newRecipients.map { $0.keyID.description }.joined(separator: ", ")
            var skipped = 0
            failures = try eachSubmission(files, describe: { file, failure in
                CLIError("\(file.path): \(failure.message); the original is unchanged", hint: failure.hint)
            }) { file, bar throws(KeyholderError) in
                switch try rekeyer.rekey(file, to: newRecipients, full: full, progress: { done, _ in bar.update(done) }) {
                case .rekeyed:
                    bar.finish()
                    printLine("\(file.label): re-keyed to key ID \(targets)\(full ? " (payload re-encrypted)" : "")")
                case .alreadySealedToTargets:
                    skipped += 1
                }
            }
            if skipped > 0 { diagnostics.note("\(skipped) submission(s) already sealed to exactly key ID \(targets): left as they are") }
        }
        if failures > 0 { throw ExitStatus.submissionFailed }
    }
}
