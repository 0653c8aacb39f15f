public import SealDropCLISupport
public import SealDropCrypto

/// The passphrase that protects a new key (keygen, rotate): strong enough by
/// ``PassphrasePolicy``, typed twice or generated, never weak and never mistyped.
public enum NewPassphrase {
    /// How many times a person may retry a weak, empty or mismatched passphrase on the
    /// terminal before the command gives up.
    public static let attempts = 3

    /// Where the new passphrase comes from.
    public enum Source: Sendable {
        /// The first line of a file.
        case file(String)
        /// Typed on the terminal, twice.
        case terminal
        /// Made by keyholder (six words), shown on the terminal and typed back once.
        case generated
    }

    /// The new passphrase, refused if weak. On the terminal a weak passphrase or a repeat that
    /// does not match asks again, up to ``attempts`` times.
    public static func obtain(from source: Source) throws(CLIError) -> SecureBytes {
        switch source {
        case .file(let path):
            let passphrase = try PassphraseInput.fromFile(path)
            try PassphrasePolicy.check(passphrase, source: "in \(path)")
            return passphrase
        case .terminal:
            return try typed()
        case .generated:
            return try generatedAndConfirmed()
        }
    }

    private static func typed() throws(CLIError) -> SecureBytes {
        var lastError = CLIError("no passphrase")
        for _ in 1...attempts {
            let first: SecureBytes
            do throws(CLIError) {
                first = try PassphraseInput.fromTerminal(prompt: "Passphrase for the new key: ")
                try PassphrasePolicy.check(first, source: "you typed")
            } catch {
                lastError = error
                try PassphraseInput.sayOnTerminal("\(error.message). Try again (or press Ctrl-C and use --generate-passphrase).")
                continue
            }
            let second = try PassphraseInput.fromTerminal(prompt: "Repeat the passphrase: ")
            if first.constantTimeEquals(second) { return first }
            lastError = CLIError("the passphrases do not match", hint: "type the same passphrase twice")
            try PassphraseInput.sayOnTerminal("The passphrases do not match. Try again.")
        }
        throw CLIError("no passphrase after \(attempts) attempts: \(lastError.message)", hint: lastError.hint ?? "run the command again")
    }

    private static func generatedAndConfirmed() throws(CLIError) -> SecureBytes {
        let passphrase = PassphrasePolicy.generate()
        try PassphraseInput.showOnTerminal(
            "Your new passphrase (\(PassphrasePolicy.generatedWordCount) random words, about \(Int(PassphrasePolicy.estimatedBits(passphrase))) bits).\n"
                + "Write it down now, on paper kept apart from the key; it is shown only this once:\n\n    ",
            secret: passphrase)
        for attempt in 1...attempts {
            let typed = try PassphraseInput.fromTerminal(prompt: "\nType it back to show you have it: ")
            if typed.constantTimeEquals(passphrase) { return passphrase }
            if attempt < attempts { try PassphraseInput.sayOnTerminal("That is not it. Try again (words separated by one space).") }
        }
        throw CLIError("the passphrase was not typed back correctly; no key was made", hint: "run the command again; a new passphrase will be generated")
    }
}
