import Foundation
import SealDropCrypto
#if canImport(Glibc)
import Glibc
#endif

/// A file's device and inode: the inbox file an export copied, recognised again before `--move`
/// removes it.
struct FileIdentity: Hashable, Sendable {
    let device: UInt64
    let inode: UInt64

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}

/// The text of `errno`.
func errnoDescription(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

/// Opens folder `name` inside `parent` (or the path itself when `parent` is `AT_FDCWD`) without
/// following a symbolic link.
func openFolder(_ name: String, in parent: Int32 = AT_FDCWD) -> Int32 {
    openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
}

/// Writes all of `bytes` to `fd`.
func writeFully(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0 {
            if errno == EINTR { continue }
            return false
        }
        offset += written
    }
    return true
}

/// Copies everything `source` holds into a new file `name` in `folder` (mode 0600, never over
/// an existing name), hashing it as it goes, and `fsync`s the copy. Returns its size and
/// BLAKE2b-256; removes the copy on failure.
func copyHashing(_ source: Int32, to name: String, in folder: Int32, folderPath: String) throws(StartupError) -> (bytes: UInt64, hash: [UInt8]) {
    let target = openat(folder, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard target >= 0 else {
        throw StartupError("cannot create \(name) in \(folderPath): \(errnoDescription())", hint: "export to an empty folder on a writable medium")
    }
    defer { close(target) }
    let hasher = BLAKE2b.Hasher(outputLength: 32)
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    var total: UInt64 = 0
    while true {
        let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        let failure: String? = if count < 0 {
            "cannot read the inbox's copy of \(name): \(errnoDescription())"
        } else if count > 0, !buffer.withUnsafeBytes({ writeFully(target, UnsafeRawBufferPointer(rebasing: $0[..<count])) }) {
            "cannot write \(name) to \(folderPath): \(errnoDescription())"
        } else {
            nil
        }
        if let failure {
            unlinkat(folder, name, 0)
            throw StartupError(failure, hint: "check the medium (free space, errors in the kernel log) and export again into an empty folder")
        }
        if count == 0 { break }
        buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        total += UInt64(count)
    }
    guard fsync(target) == 0 else {
        let text = errnoDescription()
        unlinkat(folder, name, 0)
        throw StartupError("cannot sync \(name) on \(folderPath): \(text)", hint: "check the medium and export again into an empty folder")
    }
    return (total, hasher.finalize())
}

/// Writes `bytes` as the file `name` in `folder` atomically: a temporary file, written and
/// synced, then renamed to `name` (over an older one only when `replacing`), then the folder
/// synced. A reader finds the old file or the whole new one, never a part.
func writeAtomically(_ bytes: [UInt8], as name: String, in folder: Int32, folderPath: String, replacing: Bool) throws(StartupError) {
    let temporary = ".\(name).\(Hex.encode(randomBytes(count: 6))).tmp"
    let fd = openat(folder, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw StartupError("cannot create \(name) in \(folderPath): \(errnoDescription())", hint: "check that the folder is writable") }
    let written = bytes.withUnsafeBytes { writeFully(fd, $0) } && fsync(fd) == 0
    let code = errno
    close(fd)
    guard written else {
        unlinkat(folder, temporary, 0)
        throw StartupError("cannot write \(name) in \(folderPath): \(errnoDescription(code))", hint: "check the disk's free space and errors")
    }
    let placed = replacing ? renameat(folder, temporary, folder, name) == 0 : linkat(folder, temporary, folder, name, 0) == 0
    let placeCode = errno
    if !placed || !replacing { unlinkat(folder, temporary, 0) }
    guard placed else {
        throw StartupError("cannot name \(name) in \(folderPath): \(errnoDescription(placeCode))", hint: "check the folder; nothing is ever written over an export")
    }
    guard fsync(folder) == 0 else {
        throw StartupError("cannot sync the folder \(folderPath): \(errnoDescription())", hint: "check the disk")
    }
}

/// The whole of a small regular file `name` in `folder`; nil when it does not exist.
func readWholeFile(_ name: String, in folder: Int32, limit: Int) throws(StartupError) -> [UInt8]? {
    let fd = openat(folder, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else {
        if errno == ENOENT { return nil }
        throw StartupError("cannot read \(name): \(errnoDescription())", hint: "it must be a regular file the daemon's user may read")
    }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size <= limit else {
        throw StartupError("\(name) is not a regular file of at most \(limit) bytes", hint: "it is written only by sealdropd export")
    }
    var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
    let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard count == Int(info.st_size) else { throw StartupError("cannot read \(name): \(errnoDescription())", hint: "check the disk") }
    return bytes
}
