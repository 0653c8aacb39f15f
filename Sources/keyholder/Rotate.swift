import ArgumentParser
import SealDropCLISupport
import SealDropKeyholder

struct Rotate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a new current key in the keyring and retire the previous ones (kept to read old submissions).",
        discussion: """
        The new key is NAME.key: --name, or the name of the one current key (alice.key stays \
        alice.key), or 'key'. Each previous current key is kept as NAME.KEYID.retired.key, \
        still used to read old submissions, and its retirement is recorded in the keyring \
        (retirements.jsonl). keyholder prints the exact line to remove from the daemon's \
        recipients file and the line to add (the new public key, the last line of the output).

        Then, as the README's runbook says: the operator puts the new key in the recipients \
        list (or the newsroom signs a new list) and reloads the daemon; at the next import \
        'keyholder rekey --to NEWKEY --all' re-wraps the archive; 'keyholder retire --destroy' \
        removes the old key once nothing needs it.

        Example:
          keyholder rotate --keyring ~/.sealdrop/keys

        \(simpleExitStatuses)
        """
    )

    @Option(help: ArgumentHelp("The keyring folder (default ~/.sealdrop/keys); created (mode 0700) if missing.", valueName: "dir"))
    var keyring: String?

    @Option(help: ArgumentHelp("The new key's name (its file is NAME.key).", valueName: "name"))
    var name: String?

    @OptionGroup var passphrase: NewPassphraseOptions

    func run() throws {
        try reportingErrors(status: ExitStatus.submissionFailed) { () throws(CLIError) in
            let folder = keyring ?? Keyring.defaultFolder
            let result = try Rotation.rotate(folder: folder, name: name, passphrase: try passphrase.obtain())
            for (old, path) in result.retired {
                diagnostics.note("retired key ID \(old.file.publicKey.keyID) (kept as \(path) to read old submissions)")
            }
            printLine("# new key ID: \(result.publicKey.keyID)")
            printLine("# fingerprint: \(result.publicKey.fingerprint)")
            printLine("# secret key: \(result.path)")
            if result.retired.isEmpty {
                printLine("# add this line to the daemon's recipients file (or the next signed list):")
            } else {
                printLine("# in the daemon's recipients file (or the next signed list), remove the line\(result.retired.count == 1 ? "" : "s"):")
                for (old, _) in result.retired { printLine("#   \(old.file.publicKey.text)") }
                printLine("# and add this line:")
            }
            printLine(result.publicKey.text)
        }
    }
}
