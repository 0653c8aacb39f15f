import Foundation
import SealDropCLISupport
import SealDropCrypto
import SealDropKeys

/// The secret keys a run may use: those named with `--key`, or else every key file in the
/// keyring folder. Key files are parsed up front (public part only); a key is unlocked the
/// first time a submission needs it, once per run.
final class KeyRing {
    private struct Entry {
        let path: String
        let file: KeyFile
        var unlocked: SecretKey?
    }

    private var entries: [Entry]
    private let passphraseFile: String?
    private var filePassphrase: SecureBytes?

    /// The default keyring folder: `~/.sealdrop/keys`.
    static var defaultFolder: String {
        (NSHomeDirectory() as NSString).appendingPathComponent(".sealdrop/keys")
    }

    init(keyPaths: [String], keyringFolder: String?, passphraseFile: String?) throws(CLIError) {
        self.passphraseFile = passphraseFile
        var paths = keyPaths
        if paths.isEmpty {
            let folder = keyringFolder ?? Self.defaultFolder
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
                throw CLIError("no keys: --key was not given and the keyring folder \(folder) cannot be read",
                               hint: "pass --key KEYFILE, or --keyring DIR with your key files")
            }
            paths = names.filter { !$0.hasPrefix(".") && $0.hasSuffix(".key") }.sorted().map { (folder as NSString).appendingPathComponent($0) }
            guard !paths.isEmpty else {
                throw CLIError("no keys: the keyring folder \(folder) holds no *.key files", hint: "pass --key KEYFILE")
            }
        }
        var entries: [Entry] = []
        for path in paths {
            entries.append(Entry(path: path, file: try SecretKeyFiles.read(path), unlocked: nil))
        }
        self.entries = entries
    }

    /// The key IDs of every key in the ring.
    var keyIDs: [KeyID] { entries.map(\.file.publicKey.keyID) }

    /// The unlocked keys among `wanted`, unlocking each on first use. Empty when the ring holds
    /// none of them.
    func secretKeys(for wanted: [KeyID]) throws(CLIError) -> [SecretKey] {
        var keys: [SecretKey] = []
        for index in entries.indices where wanted.contains(entries[index].file.publicKey.keyID) {
            keys.append(try unlock(index))
        }
        return keys
    }

    private func unlock(_ index: Int) throws(CLIError) -> SecretKey {
        if let key = entries[index].unlocked { return key }
        let entry = entries[index]
        var key: SecretKey?
        if let passphraseFile {
            if filePassphrase == nil { filePassphrase = try PassphraseInput.fromFile(passphraseFile) }
            let passphrase = filePassphrase!
            do throws(CLIError) {
                key = try SecretKeyFiles.unlock(entry.file, path: entry.path, passphrase: passphrase)
            } catch {
                // Keys the passphrase file does not open are asked for on the terminal, if any.
                guard hasTerminal() else { throw error }
            }
        }
        if key == nil {
            let passphrase = try PassphraseInput.fromTerminal(prompt: "Passphrase for \(escapeForDisplay(entry.path)) (key ID \(entry.file.publicKey.keyID)): ")
            key = try SecretKeyFiles.unlock(entry.file, path: entry.path, passphrase: passphrase)
        }
        entries[index].unlocked = key
        return key!
    }
}

/// Whether this process can open its controlling terminal to ask a question.
func hasTerminal() -> Bool {
    let fd = open("/dev/tty", O_RDWR | O_CLOEXEC)
    guard fd >= 0 else { return false }
    close(fd)
    return true
}
