import ArgumentParser
import Foundation
import SealDropCLISupport
import SealDropKeyholder
import SealDropKeys

struct TrustDrop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trust-drop",
        abstract: "Pin a drop's public key, so that its provenance records are believed.",
        discussion: """
        Every submission a drop stores has a provenance record (<id>.record) signed with the \
        drop key: which front door delivered it, the server's time, the receipt and a hash of \
        the stored bytes. Pin the drop key once, at setup, by typing or pasting the \
        sealdropdrop1… line that 'sealdropd drop-key --show' printed on the server, and compare \
        the fingerprint this prints with the one printed there. It is never read from a medium: \
        whoever can write to the medium could put his own key there. The pinned keys are kept \
        in the keyring folder's trusted-drops file; without any, records are shown as \
        unverified. With no KEY, the pinned keys are listed.

        Example:
          keyholder trust-drop sealdropdrop1…
          keyholder trust-drop

        \(simpleExitStatuses)
        """
    )

    @Option(help: ArgumentHelp("The keyring folder (default ~/.sealdrop/keys).", valueName: "dir"))
    var keyring: String?

    @Argument(help: ArgumentHelp("The drop's public key (sealdropdrop1…), typed or pasted.", valueName: "key"))
    var key: String?

    func run() throws {
        try reportingErrors(status: ExitStatus.submissionFailed) { () throws(CLIError) in
            let folder = keyring ?? Keyring.defaultFolder
            guard let key else {
                let pinned = try TrustedDrops.load(folder: folder)
                if pinned.isEmpty { diagnostics.note("no drop key is pinned in \(folder)") }
                for drop in pinned { printLine("\(drop.text)  fingerprint \(drop.fingerprint)") }
                return
            }
            if fileExistsOrLink(key) {
                throw CLIError("\(key) is a file: a drop key is pinned from the text you type or paste, never read from a file",
                               hint: "run sealdropd drop-key --show on the server and type or paste its last line here")
            }
            let drop: DropPublicKey
            do { drop = try DropPublicKey(text: key) } catch {
                throw CLIError("\(String(key.prefix(80))): \(error)", hint: "copy the drop key again, exactly, as sealdropd drop-key --show prints it (sealdropdrop1…)")
            }
            let added = try TrustedDrops.add(drop, folder: folder)
            printLine(added ? "pinned drop key \(drop.text)" : "drop key \(drop.text) was pinned already")
            printLine("fingerprint: \(drop.fingerprint): compare it with the one sealdropd drop-key printed on the server")
        }
    }
}
