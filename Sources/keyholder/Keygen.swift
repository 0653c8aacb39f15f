import ArgumentParser
import SealDropCLISupport
import SealDropCrypto
import SealDropKeyholder
import SealDropKeys

/// How a command that makes a key gets its passphrase.
struct NewPassphraseOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Read the new passphrase from the first line of this file instead of asking twice on the terminal.", valueName: "file"))
    var passphraseFile: String?

    @Flag(help: "Make a passphrase of six random words, show it on the terminal once, and ask for it to be typed back.")
    var generatePassphrase = false

    func validate() throws {
        if passphraseFile != nil && generatePassphrase {
            throw ValidationError("--passphrase-file and --generate-passphrase exclude each other")
        }
    }

    func obtain() throws(CLIError) -> SecureBytes {
        if let passphraseFile { return try NewPassphrase.obtain(from: .file(passphraseFile)) }
        return try NewPassphrase.obtain(from: generatePassphrase ? .generated : .terminal)
    }
}

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a new key pair: a passphrase-protected secret key file and its public key.",
        discussion: """
        The secret key file is created with mode 0600 and never replaces an existing file; \
        missing folders on its path are created with mode 0700. Its passphrase is stretched \
        with Argon2id (libsodium's MODERATE limits) and must be strong: about 64 bits by \
        keyholder's estimate (see the README, "Passphrases"), e.g. five random words; \
        --generate-passphrase makes one of six words. The public key is the last line of the \
        output, so that --recipient "$(keyholder keygen ... | tail -n 1)" works; the lines \
        before it start with '#'.

        With --signing it makes the newsroom's offline signing key instead (Ed25519): it signs \
        the recipients list (keyholder sign-recipients) and its public key (sealdropsign1…) is \
        what sources and the daemon pin.

        Example:
          keyholder keygen --output ~/.sealdrop/keys/alice.key --generate-passphrase

        \(simpleExitStatuses)
        """
    )

    @Flag(help: "Make a signing key (signs recipients lists) instead of a decryption key.")
    var signing = false

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the secret key file.", valueName: "keyfile"))
    var output: String

    @OptionGroup var passphrase: NewPassphraseOptions

    func run() throws {
        try reportingErrors(status: ExitStatus.submissionFailed) { () throws(CLIError) in
            if fileExistsOrLink(output) {
                throw CLIError("\(output) already exists", hint: "SealDrop never overwrites a key file; choose another name")
            }
            let secret = try passphrase.obtain()
            let folder = parentFolder(of: output)
            if try Keyring.ensureFolder(folder) { diagnostics.note("created the folder \(folder) (mode 0700)") }
            if signing {
                try makeSigningKey(passphrase: secret)
                return
            }
            let key = SecretKey.generate()
            let file: KeyFile
            do { file = try KeyFile.protect(key, passphrase: secret) } catch {
                throw CLIError("could not derive a key from the passphrase (Argon2id needs 256 MiB of memory)", hint: "free some memory and try again")
            }
            try SecretKeyFiles.create(output, contents: file.text)
            let publicKey = key.publicKey
            printLine("# secret key written to \(output) (keep it offline; it is protected by your passphrase)")
            printLine("# key ID: \(publicKey.keyID)")
            printLine("# fingerprint: \(publicKey.fingerprint)")
            printLine(publicKey.text)
        }
    }

    private func makeSigningKey(passphrase: SecureBytes) throws(CLIError) {
        let key = SigningSecretKey.generate()
        let file: SigningKeyFile
        do { file = try SigningKeyFile.protect(key, passphrase: passphrase) } catch {
            throw CLIError("could not derive a key from the passphrase (Argon2id needs 256 MiB of memory)", hint: "free some memory and try again")
        }
        try SecretKeyFiles.create(output, contents: file.text)
        printLine("# signing key written to \(output) (keep it offline, apart from the server)")
        printLine("# fingerprint: \(key.publicKey.fingerprint)")
        printLine(key.publicKey.text)
    }
}

struct Pubkey: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the public key of a secret or signing key file (no passphrase needed).",
        discussion: """
        Add --fingerprint to print the key ID (decryption keys) and the fingerprint too, as '#' \
        lines before the key, for comparing over the phone.

        Example:
          keyholder pubkey --fingerprint ~/.sealdrop/keys/alice.key

        \(simpleExitStatuses)
        """
    )

    @Argument(help: ArgumentHelp("The secret key file or signing key file.", valueName: "keyfile"))
    var keyFile: String

    @Flag(help: "Also print the key ID and the fingerprint, as '#' lines before the key.")
    var fingerprint = false

    func run() throws {
        try reportingErrors(status: ExitStatus.submissionFailed) { () throws(CLIError) in
            switch try KeyDescription(keyFileAt: keyFile) {
            case .decryption(let key):
                if fingerprint {
                    printLine("# key ID: \(key.keyID)")
                    printLine("# fingerprint: \(key.fingerprint)")
                }
                printLine(key.text)
            case .signing(let key):
                if fingerprint { printLine("# signing key fingerprint: \(key.fingerprint)") }
                printLine(key.text)
            case .drop(let key):
                if fingerprint { printLine("# drop key fingerprint: \(key.fingerprint)") }
                printLine(key.text)
            }
        }
    }
}

struct Fingerprint: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the key ID and fingerprint of a public key, given as text or as a key file.",
        discussion: """
        KEY is a public key as text (sealdrop1… for a decryption key, sealdropsign1… for a \
        signing key, sealdropdrop1… for a drop key), or a secret or signing key file. Compare the fingerprint with the one the \
        key's owner reads to you over the phone before you trust a key.

        Example:
          keyholder fingerprint sealdropsign1…

        \(simpleExitStatuses)
        """
    )

    @Argument(help: ArgumentHelp("A public key (sealdrop1…, sealdropsign1…, sealdropdrop1…) or a key file.", valueName: "key"))
    var key: String

    func run() throws {
        try reportingErrors(status: ExitStatus.submissionFailed) { () throws(CLIError) in
            let described = if key.hasPrefix(PublicKey.textPrefix), !fileExistsOrLink(key) {
                try KeyDescription(text: key)
            } else {
                try KeyDescription(keyFileAt: key)
            }
            switch described {
            case .decryption(let publicKey):
                printLine("decryption key (sealdrop1…)")
                printLine("key ID:       \(publicKey.keyID)")
                printLine("fingerprint:  \(publicKey.fingerprint)")
            case .signing(let publicKey):
                printLine("signing key (sealdropsign1…)")
                printLine("fingerprint:  \(publicKey.fingerprint)")
            case .drop(let publicKey):
                printLine("drop key (sealdropdrop1…): signs the drop's provenance records")
                printLine("fingerprint:  \(publicKey.fingerprint)")
            }
        }
    }
}

/// A public key of either kind, from text or from a key file.
enum KeyDescription {
    case decryption(PublicKey)
    case signing(SigningPublicKey)
    case drop(DropPublicKey)

    /// Parses public key text of any kind.
    init(text: String) throws(CLIError) {
        let shown = String(text.prefix(80))
        if text.hasPrefix(DropPublicKey.textPrefix) {
            do { self = .drop(try DropPublicKey(text: text)) } catch {
                throw CLIError("\(shown): \(error)", hint: "copy the drop key again, exactly, as sealdropd drop-key --show prints it")
            }
        } else if text.hasPrefix(SigningPublicKey.textPrefix) {
            do { self = .signing(try SigningPublicKey(text: text)) } catch {
                throw CLIError("\(shown): \(error)", hint: "copy the signing key again, exactly")
            }
        } else {
            do { self = .decryption(try PublicKey(text: text)) } catch {
                throw CLIError("\(shown): \(error)", hint: "copy the public key again, exactly")
            }
        }
    }

    /// Reads the public part of a secret key file or a signing key file (owner and mode checked).
    init(keyFileAt path: String) throws(CLIError) {
        if let bytes = try? readSmallFile(path, limit: 64 * 1024), String(decoding: bytes, as: UTF8.self).contains(SigningKeyFile.magic) {
            self = .signing(try SecretKeyFiles.readSigning(path).publicKey)
        } else {
            self = .decryption(try SecretKeyFiles.read(path).publicKey)
        }
    }
}
