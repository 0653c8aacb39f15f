import ArgumentParser
import SealDropCLISupport
import SealDropCrypto
import SealDropKeys

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a new key pair: a passphrase-protected secret key file and its public key.",
        discussion: """
        The secret key file is created with mode 0600 and never replaces an existing file. Its \
        passphrase is stretched with Argon2id (libsodium's MODERATE limits). The public key is \
        the last line of the output, so that --recipient "$(keyholder keygen ... | tail -n 1)" \
        works; the lines before it start with '#'.

        With --signing it makes the newsroom's offline signing key instead (Ed25519): it signs \
        the recipients list (keyholder sign-recipients) and its public key (sealdropsign1…) is \
        what sources and the daemon pin.
        """
    )

    @Flag(help: "Make a signing key (signs recipients lists) instead of a decryption key.")
    var signing = false

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the secret key file.", valueName: "keyfile"))
    var output: String

    @Option(help: ArgumentHelp("Read the passphrase from the first line of this file instead of asking twice on the terminal.", valueName: "file"))
    var passphraseFile: String?

    func run() throws {
        try reportingErrors(status: ExitStatus.submissionFailed) { () throws(CLIError) in
            let passphrase = if let passphraseFile {
                try PassphraseInput.fromFile(passphraseFile)
            } else {
                try PassphraseInput.fromTerminal(prompt: "Passphrase for the new key: ", confirm: true)
            }
            if signing {
                try makeSigningKey(passphrase: passphrase)
                return
            }
            let key = SecretKey.generate()
            let file: KeyFile
            do { file = try KeyFile.protect(key, passphrase: passphrase) } catch {
                throw CLIError("could not derive a key from the passphrase (Argon2id needs 256 MiB of memory)", hint: "free some memory and try again")
            }
            try SecretKeyFiles.create(output, contents: file.text)
            let publicKey = key.publicKey
            print("# secret key written to \(escapeForDisplay(output)) (keep it offline; it is protected by your passphrase)")
            print("# key ID: \(publicKey.keyID)")
            print("# fingerprint: \(publicKey.fingerprint)")
            print(publicKey.text)
        }
    }

    private func makeSigningKey(passphrase: SecureBytes) throws(CLIError) {
        let key = SigningSecretKey.generate()
        let file: SigningKeyFile
        do { file = try SigningKeyFile.protect(key, passphrase: passphrase) } catch {
            throw CLIError("could not derive a key from the passphrase (Argon2id needs 256 MiB of memory)", hint: "free some memory and try again")
        }
        try SecretKeyFiles.create(output, contents: file.text)
        print("# signing key written to \(escapeForDisplay(output)) (keep it offline, apart from the server)")
        print("# fingerprint: \(key.publicKey.fingerprint)")
        print(key.publicKey.text)
    }
}

struct Pubkey: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the public key of a secret key file (no passphrase needed).",
        discussion: "Add --fingerprint to print the key ID and fingerprint too, for comparing over the phone."
    )

    @Argument(help: ArgumentHelp("The secret key file.", valueName: "keyfile"))
    var keyFile: String

    @Flag(help: "Also print the key ID and the fingerprint, as '#' lines before the key.")
    var fingerprint = false

    func run() throws {
        try reportingErrors(status: ExitStatus.submissionFailed) { () throws(CLIError) in
            let file = try SecretKeyFiles.read(keyFile)
            if fingerprint {
                print("# key ID: \(file.publicKey.keyID)")
                print("# fingerprint: \(file.publicKey.fingerprint)")
            }
            print(file.publicKey.text)
        }
    }
}
