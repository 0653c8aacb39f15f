import ArgumentParser
import SealDropCLISupport
import SealDropKeyholder

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the keyring's keys: key ID, status (current or retired), fingerprint and file.",
        discussion: """
        Current keys are NAME.key; retired keys, kept to read old submissions, are \
        NAME.KEYID.retired.key. No passphrase is needed.

        Example:
          keyholder keys --keyring ~/.sealdrop/keys

        \(simpleExitStatuses)
        """
    )

    @Option(help: ArgumentHelp("The keyring folder (default ~/.sealdrop/keys).", valueName: "dir"))
    var keyring: String?

    func run() throws {
        try reportingErrors(status: ExitStatus.submissionFailed) { () throws(CLIError) in
            let folder = keyring ?? Keyring.defaultFolder
            let keys = try Keyring.keys(in: folder)
            guard !keys.isEmpty else { throw CLIError("no keys in \(folder)", hint: "keyholder keygen --output \(folder)/NAME.key makes one") }
            for key in keys {
                printLine("\(key.file.publicKey.keyID)  \(key.retired ? "retired" : "current")  \(key.file.publicKey.fingerprint)  \(key.path)")
            }
        }
    }
}
