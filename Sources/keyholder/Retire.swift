import Foundation
import ArgumentParser
import SealDropCLISupport
import SealDropKeyholder
import SealDropKeys

struct Retire: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Destroy a retired key, once nothing still needs it.",
        discussion: """
        A destroyed key can never open anything again, so keyholder examines first, and lists \
        what it examined: every submission of the archive, and the record of every import \
        since the key was retired. It refuses while a submission of the archive is sealed to \
        the key and to none of your other keys (re-key it first); while no medium holding \
        submissions has been imported since the key was retired (the server's inbox may still \
        hold submissions sealed to it); while a submission seen on such a medium needs the key \
        and is missing from the archive; and when it examined no submission at all. Folders \
        given as PATH are examined too. It refuses a current key (rotate first).

        Then it asks for the key ID to be typed back on the terminal; off a terminal, \
        --confirm KEYID says it instead. The key file is overwritten with zeros, synced and \
        removed, and the destruction is recorded in the keyring. On SSDs and copy-on-write \
        file systems the old blocks may survive: keep keyrings on encrypted storage.

        Example:
          keyholder retire --destroy 95616309b18efd7c

        Exit status: 0 when the key was destroyed; 2 when it was refused or kept; 64 for a \
        usage error.
        """
    )

    @Option(help: ArgumentHelp("The key ID to destroy (16 hex digits).", valueName: "keyid"))
    var destroy: String

    @Option(help: ArgumentHelp("Off a terminal: the key ID again, to confirm the destruction.", valueName: "keyid"))
    var confirm: String?

    @Option(help: ArgumentHelp("The keyring folder (default ~/.sealdrop/keys).", valueName: "dir"))
    var keyring: String?

    @Option(help: ArgumentHelp("The archive folder (default ~/.sealdrop/archive).", valueName: "dir"))
    var archive: String?

    @Argument(help: ArgumentHelp("More folders or files of submissions to examine.", valueName: "path"))
    var paths: [String] = []

    func validate() throws {
        guard KeyID(hex: destroy) != nil else { throw ValidationError("--destroy takes a key ID: 16 hex digits") }
        if let confirm, KeyID(hex: confirm) == nil { throw ValidationError("--confirm takes the key ID again: 16 hex digits") }
    }

    func run() throws {
        try reportingErrors { () throws(CLIError) in
            let keyID = KeyID(hex: destroy)!
            let folder = keyring ?? Keyring.defaultFolder
            let archive = try Archive.open(self.archive ?? Archive.defaultPath, create: false)
            let check = try Retirement.check(keyID: keyID, keyringFolder: folder, archive: archive, extraPaths: paths)
            printLine("key ID \(keyID) (\(check.key.path)), retired \(formatUTC(check.retiredAt)) UTC")
            printLine("examined \(check.archiveCount) submission(s) in the archive \(archive.path): none needs the key")
            for record in check.importsSince {
                printLine("examined the import of \(formatUTC(record.time)) UTC from \(record.medium): \(record.entries.count) submission(s), all in the archive or not needing the key")
            }
            if check.extraCount > 0 { printLine("examined \(check.extraCount) submission(s) in \(paths.joined(separator: ", "))") }
            if !check.newKeySeen {
                diagnostics.warn("no submission imported since the retirement is sealed to a current key: make sure the daemon seals to the new key before you destroy the old one")
            }
            try confirmDestruction(keyID)
            try Retirement.destroy(check.key, keyringFolder: folder)
            printLine("destroyed key ID \(keyID) (\(check.key.path))")
        }
    }

    private func confirmDestruction(_ keyID: KeyID) throws(CLIError) {
        if let confirm {
            guard KeyID(hex: confirm) == keyID else {
                throw CLIError("--confirm \(confirm) is not the key ID to destroy (\(keyID)); the key was kept", hint: "give the same key ID to --destroy and --confirm")
            }
            return
        }
        guard hasTerminal() else {
            throw CLIError("no terminal to confirm the destruction of key ID \(keyID); the key was kept",
                           hint: "type it back on a terminal, or add --confirm \(keyID)")
        }
        try PassphraseInput.sayOnTerminal("Destroying key ID \(keyID) cannot be undone: whatever still needs it will never open again.")
        let typed = try PassphraseInput.readLineOnTerminal(prompt: "Type the key ID to destroy it: ")
        guard KeyID(hex: typed.trimmingCharacters(in: .whitespaces)) == keyID else {
            throw CLIError("that is not key ID \(keyID); the key was kept", hint: "run the command again and type the key ID exactly")
        }
    }
}
