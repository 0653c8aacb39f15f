#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import SealDropCrypto
public import SealDropKeys

/// Reading secret key files the way ssh reads private keys: refused when another user owns
/// them or when group or others may read or write them.
public enum SecretKeyFiles {
    /// Parses a secret key file after checking its owner and mode.
    public static func read(_ path: String) throws(CLIError) -> KeyFile {
        let text = try readPrivateText(path)
        if text.contains(SigningKeyFile.magic) {
            throw CLIError("\(path) is a signing key file (it signs recipients lists); it cannot decrypt", hint: "give the secret key file made by keyholder keygen")
        }
        do {
            return try KeyFile(text: text)
        } catch .unsupportedVersion(let tag) {
            throw CLIError("key file \(path) has an unknown format (\(tag))", hint: "it was written by a newer SealDrop")
        } catch .unacceptableLimits {
            throw CLIError("key file \(path) asks for Argon2id limits outside what SealDrop accepts", hint: "the file is corrupt or was not made by keyholder")
        } catch {
            throw CLIError("\(path) is not a SealDrop secret key file, or it is corrupt", hint: "keyholder keygen writes key files; a public key (sealdrop1…) cannot decrypt")
        }
    }

    /// Parses a signing key file (`keyholder keygen --signing`) after the same owner and mode checks.
    public static func readSigning(_ path: String) throws(CLIError) -> SigningKeyFile {
        do {
            return try SigningKeyFile(text: try readPrivateText(path))
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("\(path) is not a SealDrop signing key file, or it is corrupt", hint: "keyholder keygen --signing writes signing key files")
        }
    }

    /// Unlocks a signing key file, turning a wrong passphrase into its own message.
    public static func unlockSigning(_ file: SigningKeyFile, path: String, passphrase: SecureBytes) throws(CLIError) -> SigningSecretKey {
        do {
            return try file.unlock(passphrase: passphrase)
        } catch .wrongPassphrase {
            throw CLIError("wrong passphrase for signing key file \(path)", hint: "check the passphrase (from a file, its first line is used, without the newline)")
        } catch {
            throw CLIError("signing key file \(path) is corrupt", hint: "restore it from a backup")
        }
    }

    /// Reads a private key file's text after checking, as ssh does, that this user owns it and
    /// that nobody else may read or write it.
    static func readPrivateText(_ path: String) throws(CLIError) -> String {
        let check = { (owner: UInt32, mode: UInt32) throws(CLIError) in
            guard owner == UInt32(geteuid()) else {
                throw CLIError("key file \(path) is owned by another user", hint: "a secret key must belong to whoever uses it: chown it to yourself")
            }
            guard mode & 0o077 == 0 else {
                throw CLIError("key file \(path) is accessible by others (mode \(String(mode & 0o777, radix: 8)))", hint: "run: chmod 600 \(path)")
            }
        }
        // Checked on the path first (a file we may not even open still gets the right message),
        // then again on the descriptor that is read, so a swapped file cannot slip through.
        var probe = stat()
        guard stat(path, &probe) == 0 else {
            throw CLIError("cannot read key file \(path): \(errnoText())", hint: "check the path given with --key")
        }
        try check(UInt32(probe.st_uid), UInt32(probe.st_mode))
        var bytes = try readSmallFile(path, limit: 64 * 1024, check: check)
        defer { secureZero(&bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Unlocks a key file with a passphrase, turning a wrong passphrase into its own message.
    public static func unlock(_ file: KeyFile, path: String, passphrase: SecureBytes) throws(CLIError) -> SecretKey {
        do {
            return try file.unlock(passphrase: passphrase)
        } catch .wrongPassphrase {
            throw CLIError("wrong passphrase for key file \(path) (key ID \(file.publicKey.keyID))", hint: "check the passphrase (from a file, its first line is used, without the newline); if it is right, the key file is damaged: restore it from a backup")
        } catch {
            throw CLIError("key file \(path) is corrupt: its secret and public key do not match", hint: "restore the key file from a backup")
        }
    }

    /// Creates a new secret key file: `O_EXCL` (never replaces anything), `O_NOFOLLOW`,
    /// mode 0600 whatever the umask, synced to disk with its folder.
    public static func create(_ path: String, contents: String) throws(CLIError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw CLIError("\(path) already exists", hint: "SealDrop never overwrites a key file; choose another name") }
            throw CLIError("cannot create key file \(path): \(errnoText())")
        }
        defer { close(fd) }
        fchmod(fd, 0o600)
        var bytes = Array(contents.utf8)
        defer { secureZero(&bytes) }
        do throws(CLIError) {
            try writeAll(fd, bytes)
            guard fsync(fd) == 0 else { throw CLIError("cannot sync key file \(path): \(errnoText())") }
        } catch {
            unlink(path)
            throw error
        }
        syncParentFolder(of: path)
    }
}

/// fsyncs the folder holding `path`, so a new name in it survives a crash.
public func syncParentFolder(of path: String) {
    let slash = path.lastIndex(of: "/")
    let folder = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
    let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { return }
    fsync(fd)
    close(fd)
}
