import Foundation
public import SealDropCrypto
public import SealDropFormat
public import SealDropKeys
#if canImport(Glibc)
import Glibc
#endif

/// The drop key in the daemon's memory (guarded, zeroed when released): the daemon's one
/// secret. It signs each submission's provenance record and opens nothing. Loaded from
/// `--drop-key FILE`, or from `drop.key` in the spool, made there on first start.
public final class DropSigner: @unchecked Sendable {
    // Sendable: the key is never changed after it is made, and libsodium's signing only reads it.
    private let key: SigningSecretKey
    /// The drop's public key, which keyholders pin (`keyholder trust-drop`).
    public let publicKey: DropPublicKey

    /// The name of the drop key made in the spool root when no `--drop-key` is given.
    public static let spoolFileName = "drop.key"

    /// Wraps a key.
    public init(_ key: SigningSecretKey) {
        self.key = key
        publicKey = DropPublicKey(key.publicKey)
    }

    /// A fresh key, kept only in memory (for tests).
    public static func generate() -> DropSigner { DropSigner(.generate()) }

    /// The record signed and sealed to `recipients`, as the daemon stores it.
    func seal(_ record: ProvenanceRecord, to recipients: [PublicKey]) throws -> [UInt8] {
        try record.sealed(with: key, to: recipients)
    }

    /// The manifest file of an export, signed with the drop key (see ``ExportManifest``).
    public func sign(_ manifest: ExportManifest) -> [UInt8] {
        manifest.signed(with: key)
    }

    /// Makes a new drop key file at `path`: mode 0600, `O_EXCL` (never over an existing file),
    /// synced with its folder.
    public static func create(at path: String) throws(StartupError) -> DropSigner {
        let key = SigningSecretKey.generate()
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let code = errno
            throw StartupError("cannot create the drop key \(path): \(String(cString: strerror(code)))",
                               hint: code == EEXIST ? "a drop key is never written over; print its public key with sealdropd drop-key --show \(path)"
                                                    : "choose a writable folder; the file is made with mode 0600")
        }
        defer { close(fd) }
        let text = DropKeyFile.text(for: key)
        let written = text.withUnsafeBytes { bytes in
            fchmod(fd, 0o600) == 0 && write(fd, bytes.baseAddress!, bytes.count) == bytes.count && fsync(fd) == 0
        }
        guard written else {
            let code = errno
            unlink(path)
            throw StartupError("cannot write the drop key \(path): \(String(cString: strerror(code)))", hint: "check the disk and try again")
        }
        let folder = open((path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent,
                          O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
        return DropSigner(key)
    }

    /// Reads the drop key file at `path`: a regular file (not a link), owned by this user, that
    /// group and others cannot access, read only into guarded memory.
    public static func load(from path: String) throws(StartupError) -> DropSigner {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let code = errno
            throw StartupError("cannot open the drop key \(path): \(String(cString: strerror(code)))",
                               hint: code == ENOENT ? "make one with sealdropd drop-key --output \(path), or leave --drop-key out to use the spool's"
                                                    : "the drop key must be a regular file readable by the daemon's user")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw StartupError("the drop key \(path) is not a regular file", hint: "give the file sealdropd drop-key made")
        }
        guard info.st_mode & 0o077 == 0, info.st_uid == geteuid() else {
            throw StartupError("the drop key \(path) is readable by others or owned by another user (mode \(String(info.st_mode & 0o777, radix: 8)))",
                               hint: "chown it to the daemon's user and chmod 600 \(path)")
        }
        guard info.st_size <= 4096 else { throw StartupError("the drop key \(path) is too large to be a drop key", hint: "give the file sealdropd drop-key made") }
        let contents = SecureBytes(count: Int(info.st_size))
        let got = contents.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        guard got == Int(info.st_size) else {
            throw StartupError("cannot read the drop key \(path)", hint: "check the file and the disk")
        }
        do { return DropSigner(try DropKeyFile.parse(contents)) } catch {
            throw StartupError("\(path): \(error)", hint: "give the file sealdropd drop-key made; a damaged drop key is replaced by making a new one and pinning it again")
        }
    }

    /// The drop key an export signs with: `configured`, or the spool's `drop.key`. Never made
    /// here: a drop without a key has received nothing to export.
    public static func forExport(configured: String?, spoolRoot: String) throws(StartupError) -> DropSigner {
        let path = configured ?? (spoolRoot as NSString).appendingPathComponent(spoolFileName)
        guard configured != nil || access(path, F_OK) == 0 else {
            throw StartupError("there is no drop key in the spool (\(path))",
                               hint: "export from the spool the daemon uses (--spool or --config), with its --drop-key if it has one")
        }
        return try load(from: path)
    }

    /// The daemon's drop key: `configured` (which must exist) or the spool's `drop.key`, made
    /// on first start. Logs which, with the public key (never the secret).
    static func forDaemon(configured: String?, spoolRoot: String) throws(StartupError) -> (signer: DropSigner, created: Bool) {
        if let configured { return (try load(from: configured), false) }
        let path = (spoolRoot as NSString).appendingPathComponent(spoolFileName)
        if access(path, F_OK) == 0 { return (try load(from: path), false) }
        return (try create(at: path), true)
    }
}
