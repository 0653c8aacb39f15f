import ArgumentParser
import Foundation
import SealDropCLISupport
import SealDropCrypto
import SealDropKeys

/// Options that choose the secret keys, shared by every command that opens submissions.
struct KeyOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("A secret key file to use; repeat for several. Without it, every *.key file in the keyring folder is used.", valueName: "keyfile"))
    var key: [String] = []

    @Option(help: ArgumentHelp("The keyring folder (default ~/.sealdrop/keys).", valueName: "dir"))
    var keyring: String?

    @Option(help: ArgumentHelp("Read passphrases from the first line of this file; keys it does not open are asked for on the terminal.", valueName: "file"))
    var passphraseFile: String?

    func validate() throws {
        if !key.isEmpty && keyring != nil {
            throw ValidationError("--key and --keyring exclude each other: --key uses only the keys it names")
        }
    }

    func makeKeyRing() throws(CLIError) -> KeyRing {
        try KeyRing(keyPaths: key, keyringFolder: keyring, passphraseFile: passphraseFile)
    }
}

/// The secret keys a run may use: those named with `--key`, or else every key file in the
/// keyring folder. Key files are checked and parsed up front (owner, mode, public part: no
/// passphrase needed); a key is unlocked the first time a submission needs it, once per run.
final class KeyRing {
    private struct Entry {
        let path: String
        let file: KeyFile
        var unlocked: SecretKey?
    }

    private var entries: [Entry]
    private let passphraseFile: String?
    private var filePassphrase: SecureBytes?
    /// Passphrase attempts on the terminal before giving up on a key.
    static let terminalAttempts = 3

    /// The default keyring folder: `~/.sealdrop/keys` (`~` is `$HOME`, as in a shell).
    static var defaultFolder: String {
        let home = ProcessInfo.processInfo.environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(".sealdrop/keys")
    }

    init(keyPaths: [String], keyringFolder: String?, passphraseFile: String?) throws(CLIError) {
        self.passphraseFile = passphraseFile
        let paths = keyPaths.isEmpty ? try Self.keyFiles(in: keyringFolder ?? Self.defaultFolder) : keyPaths
        var entries: [Entry] = []
        for path in paths {
            let file = try SecretKeyFiles.read(path)
            // The same key under two names is one key.
            if entries.contains(where: { $0.file.publicKey == file.publicKey }) { continue }
            entries.append(Entry(path: path, file: file, unlocked: nil))
        }
        self.entries = entries
    }

    /// The `*.key` files of a keyring folder, which must be a folder only its owner can change.
    private static func keyFiles(in folder: String) throws(CLIError) -> [String] {
        let shown = escapeForDisplay(folder)
        var info = stat()
        guard stat(folder, &info) == 0 else {
            throw CLIError("no keys: --key was not given and the keyring folder \(shown) cannot be read: \(errnoText())",
                           hint: "pass --key KEYFILE, or keep your key files in ~/.sealdrop/keys (or --keyring DIR)")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw CLIError("the keyring \(shown) is not a folder", hint: "--keyring takes the folder that holds your *.key files")
        }
        guard info.st_mode & 0o022 == 0 else {
            throw CLIError("the keyring folder \(shown) can be changed by others (mode \(String(info.st_mode & 0o777, radix: 8)))",
                           hint: "run: chmod 700 \(shown)")
        }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw CLIError("cannot read the keyring folder \(shown)", hint: "check its permissions")
        }
        // Signing keys (which sign recipients lists) may live beside the decryption keys.
        let paths = names.filter { !$0.hasPrefix(".") && $0.hasSuffix(".key") }.sorted()
            .map { (folder as NSString).appendingPathComponent($0) }
            .filter { path in
                guard let bytes = try? readSmallFile(path, limit: 64 * 1024) else { return true }
                return !String(decoding: bytes, as: UTF8.self).contains(SigningKeyFile.magic)
            }
        guard !paths.isEmpty else {
            throw CLIError("no keys: the keyring folder \(shown) holds no *.key files", hint: "pass --key KEYFILE, or put your key files there")
        }
        return paths
    }

    /// The key IDs of every key in the ring.
    var keyIDs: [KeyID] { entries.map(\.file.publicKey.keyID) }

    /// A key able to open a submission sealed to `wanted`, unlocking it if none is unlocked
    /// yet (the first matching key, in the order the keys were given). Empty when the ring
    /// holds none of them. Unlock failures (wrong passphrase, no terminal) are thrown: the run
    /// cannot go on without the key.
    func secretKeys(for wanted: [KeyID]) throws(CLIError) -> [SecretKey] {
        let matching = entries.indices.filter { wanted.contains(entries[$0].file.publicKey.keyID) }
        if let ready = matching.first(where: { entries[$0].unlocked != nil }) {
            return [entries[ready].unlocked!]
        }
        guard let first = matching.first else { return [] }
        return [try unlock(first)]
    }

    private func unlock(_ index: Int) throws(CLIError) -> SecretKey {
        let entry = entries[index]
        let shownPath = escapeForDisplay(entry.path)
        let keyID = entry.file.publicKey.keyID
        var lastError: CLIError?
        if let passphraseFile {
            if filePassphrase == nil { filePassphrase = try PassphraseInput.fromFile(passphraseFile) }
            do throws(CLIError) {
                let key = try SecretKeyFiles.unlock(entry.file, path: entry.path, passphrase: filePassphrase!)
                entries[index].unlocked = key
                return key
            } catch {
                // Keys the passphrase file does not open are asked for on the terminal, if any.
                guard hasTerminal() else { throw error }
                diagnostics.note("the passphrase file does not open \(shownPath) (key ID \(keyID))")
                lastError = error
            }
        }
        for attempt in 1...Self.terminalAttempts {
            let passphrase = try PassphraseInput.fromTerminal(prompt: "Passphrase for \(shownPath) (key ID \(keyID)): ")
            do throws(CLIError) {
                let key = try SecretKeyFiles.unlock(entry.file, path: entry.path, passphrase: passphrase)
                entries[index].unlocked = key
                return key
            } catch {
                lastError = error
                if attempt < Self.terminalAttempts { diagnostics.note("wrong passphrase, try again") }
            }
        }
        throw lastError!
    }
}

/// Whether this process can open its controlling terminal to ask a question.
func hasTerminal() -> Bool {
    let fd = open("/dev/tty", O_RDWR | O_CLOEXEC)
    guard fd >= 0 else { return false }
    close(fd)
    return true
}
