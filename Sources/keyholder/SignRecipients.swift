import ArgumentParser
import Foundation
import SealDropCLISupport
import SealDropCrypto
import SealDropKeyholder
import SealDropKeys

struct SignRecipients: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign-recipients",
        abstract: "Sign the recipients list with the newsroom's offline signing key.",
        discussion: """
        Writes a signed list (recipients, a serial number, the date and an expiry) for the \
        daemon's --signed-recipients. The daemon serves it unchanged to clients, which check it \
        against the signing key their drop address pins and refuse it once it has expired; the \
        daemon refuses a list whose serial goes backwards, and warns from 14 days before the \
        expiry. --serial must grow with every list; --previous LIST takes the previous list's \
        serial plus one. The first list of a drop takes --serial 1. Sign a new list before the \
        old one expires (the default lifetime is 90 days).

        Example:
          keyholder sign-recipients --signing-key sign.key --serial 1 --output list.1 sealdrop1A… sealdrop1B…
          keyholder sign-recipients --signing-key sign.key --previous list.1 --output list.2 --recipients-file recipients

        \(simpleExitStatuses)
        """
    )

    @Option(help: ArgumentHelp("The signing key file (keyholder keygen --signing).", valueName: "file"))
    var signingKey: String

    @Option(help: ArgumentHelp("Read the signing key's passphrase from the first line of this file.", valueName: "file"))
    var passphraseFile: String?

    @Option(help: ArgumentHelp("The list's serial number.", valueName: "n"))
    var serial: UInt64?

    @Option(help: ArgumentHelp("The list now in force; the new serial is its serial plus one.", valueName: "list"))
    var previous: String?

    @Option(help: ArgumentHelp("A recipients file (one public key per line) instead of keys as arguments.", valueName: "file"))
    var recipientsFile: String?

    @Option(help: ArgumentHelp("Days until the list expires (1 to 366).", valueName: "days"))
    var expiresIn: Int = 90

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the signed list (never overwritten).", valueName: "file"))
    var output: String

    @Argument(help: ArgumentHelp("The recipients' public keys (sealdrop1…).", valueName: "pubkey"))
    var recipients: [String] = []

    func validate() throws {
        guard (serial == nil) != (previous == nil) else { throw ValidationError("give exactly one of --serial N and --previous LIST") }
        guard !recipients.isEmpty || recipientsFile != nil else { throw ValidationError("give the recipients' public keys, or --recipients-file") }
        guard (1...366).contains(expiresIn) else { throw ValidationError("--expires-in takes 1 to 366 days; a list is re-signed before it expires") }
    }

    func run() throws {
        try reportingErrors(status: ExitStatus.submissionFailed) { () throws(CLIError) in
            var keys: [PublicKey] = []
            for text in recipients {
                do { keys.append(try PublicKey(text: text)) } catch { throw CLIError("\(String(text.prefix(80))): \(error)", hint: "copy the public key again, exactly") }
            }
            if let recipientsFile {
                do { keys += try Recipients.parse(bytes: try readSmallFile(recipientsFile)) } catch let error as CLIError {
                    throw error
                } catch {
                    throw CLIError("\(recipientsFile): \(error)", hint: "one public key (sealdrop1…) per line")
                }
            }
            let file = try SecretKeyFiles.readSigning(signingKey)
            var number = serial ?? 0
            if let previous {
                let text = String(decoding: try readSmallFile(previous), as: UTF8.self)
                let previousSerial: UInt64
                do { previousSerial = try SignedRecipients.parse(text, pinnedKey: file.publicKey).serial } catch {
                    throw CLIError("\(previous): \(error)", hint: "give the list now in force, signed by this signing key")
                }
                number = try RecipientsSigning.serial(after: previousSerial)
            }
            let passphrase = if let passphraseFile {
                try PassphraseInput.fromFile(passphraseFile)
            } else {
                try PassphraseInput.fromTerminal(prompt: "Passphrase for the signing key: ")
            }
            let key = try SecretKeyFiles.unlockSigning(file, path: signingKey, passphrase: passphrase)
            var unique: [PublicKey] = []
            for key in keys where !unique.contains(key) { unique.append(key) }
            let list: SignedRecipients
            let now = Date()
            let expires = now.addingTimeInterval(Double(expiresIn) * 86_400)
            do { list = try SignedRecipients.sign(recipients: unique, serial: number, date: now, expires: expires, with: key) } catch {
                throw CLIError("cannot sign: \(error)", hint: "give 1 to 32 recipients")
            }
            let fd = open(output, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw CLIError("cannot create \(output): \(errnoText())", hint: "the signed list is never written over an existing file; choose a new name")
            }
            defer { close(fd) }
            try writeAll(fd, Array(list.text.utf8))
            fsync(fd)
            printLine("# signed recipients list, serial \(number), \(unique.count) recipient(s): key ID \(unique.map { $0.keyID.description }.joined(separator: ", "))")
            printLine("# expires \(formatUTC(list.expires)) UTC (in \(expiresIn) days): sign the next list before then")
            printLine("# signing key fingerprint: \(key.publicKey.fingerprint)")
            printLine(output)
        }
    }
}
