import Foundation
public import SealDropCLISupport
public import SealDropCrypto
import SealDropKeys

/// `keyholder rotate`: a new current key, and every previous current key retired, kept (under
/// its own name) to read old submissions.
public enum Rotation {
    /// What a rotation did.
    public struct Result {
        /// The new key.
        public let publicKey: PublicKey
        /// Its file.
        public let path: String
        /// The keys retired, with the file each now has.
        public let retired: [(key: Keyring.Key, path: String)]
    }

    /// Makes a new key protected by `passphrase` in the keyring `folder` (created 0700 if
    /// missing) as `NAME.key`, where NAME is `name`, or the name of the one current key, or
    /// `key`. Each current key becomes `NAME.KEYID.retired.key`, and its retirement is recorded.
    public static func rotate(folder: String, name: String?, passphrase: SecureBytes) throws(CLIError) -> Result {
        try Keyring.ensureFolder(folder)
        let previous = try Keyring.keys(in: folder).filter { !$0.retired }
        let newName = name ?? (previous.count == 1 ? previous[0].name : "key")
        guard !newName.isEmpty, !newName.contains("/"), !newName.hasPrefix("."), safeFileName(newName) == newName else {
            throw CLIError("\(newName) cannot name a key file", hint: "give --name a plain name such as alice")
        }
        let key = SecretKey.generate()
        let file: KeyFile
        do { file = try KeyFile.protect(key, passphrase: passphrase) } catch {
            throw CLIError("could not derive a key from the passphrase (Argon2id needs 256 MiB of memory)", hint: "free some memory and try again")
        }
        // The new key is written under a hidden name (never loaded), the old keys retired, and
        // then the new one named: a crash in between leaves the old keys usable.
        let hidden = (folder as NSString).appendingPathComponent(".\(newName).key.new-\(key.publicKey.keyID)")
        try SecretKeyFiles.create(hidden, contents: file.text)
        var retired: [(key: Keyring.Key, path: String)] = []
        for old in previous {
            let target = (folder as NSString).appendingPathComponent("\(old.name).\(old.file.publicKey.keyID)\(Keyring.retiredSuffix)")
            guard link(old.path, target) == 0, unlink(old.path) == 0 else {
                throw CLIError("cannot mark \(old.path) retired: \(errnoText())", hint: "rename it to \(target) by hand; the new key is \(hidden)")
            }
            try Keyring.record(Keyring.Retirement(keyID: old.file.publicKey.keyID.description, event: "retired", time: Date(),
                                                  file: (target as NSString).lastPathComponent), in: folder)
            retired.append((old, target))
        }
        let path = (folder as NSString).appendingPathComponent("\(newName).key")
        guard link(hidden, path) == 0 else {
            throw CLIError("cannot name the new key \(path): \(errnoText())", hint: "the new key is \(hidden): rename it by hand")
        }
        unlink(hidden)
        syncParentFolder(of: path)
        return Result(publicKey: key.publicKey, path: path, retired: retired)
    }
}
