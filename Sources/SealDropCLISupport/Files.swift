#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import SealDropFormat
import SealDropCrypto

/// The text of `errno`, e.g. "No such file or directory".
public func errnoText() -> String { String(cString: strerror(errno)) }

/// A file opened for reading, as a ``SealDropFormat/ByteSource``. Closed on release.
public final class FileReader: ByteSource {
    /// The open descriptor.
    public let fd: Int32
    /// The path it was opened from (for messages).
    public let path: String
    /// Bytes read so far (for progress).
    public private(set) var bytesRead: UInt64 = 0

    /// Opens `path` read-only; `"-"` means standard input. With `requireRegularFile` (for
    /// submissions, which are files in an inbox) anything but a regular file is refused, as
    /// found on the opened descriptor: the open does not block (a FIFO named `x.sealdrop`
    /// would otherwise wait for a writer for ever) and follows no trick between check and use.
    public init(path: String, requireRegularFile: Bool = false) throws(CLIError) {
        self.path = path
        if path == "-" && !requireRegularFile { fd = 0; return }
        let flags = requireRegularFile ? O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY : O_RDONLY | O_CLOEXEC
        let opened = open(path, flags)
        guard opened >= 0 else { throw CLIError("cannot open \(path): \(errnoText())", hint: "check the path and that you may read it") }
        var info = stat()
        guard fstat(opened, &info) == 0 else {
            let text = errnoText()
            close(opened)
            throw CLIError("cannot read \(path): \(text)")
        }
        let type = info.st_mode & S_IFMT
        if type == S_IFDIR {
            close(opened)
            throw CLIError("\(path) is a folder, not a file")
        }
        if requireRegularFile {
            guard type == S_IFREG else {
                close(opened)
                throw CLIError("\(path) is not a regular file (\(fileTypeName(type)))",
                               hint: "a submission is a regular file; something else was planted under its name")
            }
            _ = fcntl(opened, F_SETFL, O_RDONLY)
        }
        fd = opened
    }

    deinit { if fd > 2 { close(fd) } }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { bytesRead += UInt64(n); return n }
            if errno == EINTR { continue }
            throw CLIError("cannot read \(path): \(errnoText())")
        }
    }

    /// The file's device and inode, to recognise the same file under two names.
    public func identity() -> (device: UInt64, inode: UInt64)? { fileIdentity(fd: fd) }

    /// Moves to `offset` from the start (a regular file only), to read from there again.
    public func seek(to offset: UInt64) throws(CLIError) {
        guard lseek(fd, off_t(offset), SEEK_SET) >= 0 else { throw CLIError("cannot read \(path) again from byte \(offset): \(errnoText())") }
        bytesRead = offset
    }

    /// The size of a regular file; nil for pipes and terminals.
    public func regularFileSize() -> UInt64? {
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        return UInt64(info.st_size)
    }
}

/// A name for a file type from `st_mode`, for messages.
func fileTypeName(_ type: mode_t) -> String {
    switch type {
    case S_IFIFO: "a FIFO"
    case S_IFCHR: "a character device"
    case S_IFBLK: "a block device"
    case S_IFSOCK: "a socket"
    case S_IFLNK: "a symbolic link"
    case S_IFDIR: "a folder"
    default: "not a regular file"
    }
}

/// Whether something (a file, a folder, a link, even a dangling one) is at `path`.
public func fileExistsOrLink(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

/// The folder holding `path`: what comes before its last `/` (trailing slashes ignored), `.`
/// when there is none, `/` for a path directly under the root.
public func parentFolder(of path: String) -> String {
    var trimmed = Substring(path)
    while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
    guard let slash = trimmed.lastIndex(of: "/") else { return "." }
    return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
}

/// The device and inode of an open file descriptor.
public func fileIdentity(fd: Int32) -> (device: UInt64, inode: UInt64)? {
    var info = stat()
    guard fstat(fd, &info) == 0 else { return nil }
    return (UInt64(info.st_dev), UInt64(info.st_ino))
}

/// The device and inode of the file at `path` (following symbolic links); nil if it is missing.
public func fileIdentity(path: String) -> (device: UInt64, inode: UInt64)? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return (UInt64(info.st_dev), UInt64(info.st_ino))
}

/// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
public func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(CLIError) {
    var offset = 0
    while offset < bytes.count {
        let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if n < 0 {
            if errno == EINTR { continue }
            throw CLIError("write failed: \(errnoText())")
        }
        offset += n
    }
}

/// Writes all of `bytes` to `fd`.
public func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(CLIError) {
    let failure = bytes.withUnsafeBytes { buffer -> CLIError? in
        do throws(CLIError) { try writeAll(fd, buffer); return nil } catch { return error }
    }
    if let failure { throw failure }
}

/// Reads a whole small file (key files, passphrase files, recipients files), refusing anything
/// over `limit` bytes before reading it.
///
/// `check` sees the file's owner (uid) and mode from the open descriptor (not the path, which
/// could be swapped between a check and the open) before anything is read.
public func readSmallFile(_ path: String, limit: Int = 1 << 20,
                          check: (_ owner: UInt32, _ mode: UInt32) throws(CLIError) -> Void = { _, _ in }) throws(CLIError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw CLIError("cannot open \(path): \(errnoText())", hint: "check the path and that you may read it") }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw CLIError("cannot read \(path): \(errnoText())") }
    guard info.st_mode & S_IFMT != S_IFDIR else { throw CLIError("\(path) is a folder, not a file") }
    try check(UInt32(info.st_uid), UInt32(info.st_mode))
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; throw CLIError("cannot read \(path): \(errnoText())") }
        if n == 0 { break }
        out += chunk[0..<n]
        guard out.count <= limit else { throw CLIError("\(path) is too large (over \(limit) bytes)") }
    }
    return out
}

/// Linux's `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`), a macro Swift does not import:
/// `__O_TMPFILE` is 0o20000000 on every Linux architecture.
public let openUnnamed: Int32 = 0o20_000_000 | O_DIRECTORY

/// An output folder opened without following symlinks: files are created, linked and removed
/// relative to its descriptor, so nothing can redirect them elsewhere.
///
/// A new output is a ``PendingFile``: where the file system allows (`O_TMPFILE`: ext4, XFS,
/// Btrfs, tmpfs) it has no name at all until ``publish(_:as:)`` links it by its descriptor, so
/// nobody can rename another file over it while it is written, and an interrupted run leaves
/// nothing behind. Elsewhere (FAT, exFAT, NFS) it is a hidden temporary file, which
/// ``PartialFileGuard`` removes on Ctrl-C; ``publishesByDescriptor`` says which.
public final class OutputFolder {
    /// The descriptor of the folder.
    public let fd: Int32
    /// The path it was opened from.
    public let path: String
    /// Whether new files are created without a name and published by descriptor (`O_TMPFILE`);
    /// false once the file system has refused that.
    public private(set) var publishesByDescriptor = true
    /// For each preferred name published here, the first suffix not yet found taken: a batch of
    /// outputs that share a name (a thousand `photo.jpg`) costs one attempt each, not a search
    /// from the start every time.
    private var nextAttempt: [String: Int] = [:]

    /// Opens `path`, creating it with mode 0700 if it does not exist. Refuses a symlink, or
    /// anything but a folder. With `privateToOwner`, an existing folder must also belong to
    /// this user and be writable by nobody else (as the keyring folder is checked): another
    /// user who can write there could swap files while they are written.
    public init(path: String, privateToOwner: Bool = false) throws(CLIError) {
        self.path = path
        var info = stat()
        if lstat(path, &info) != 0 {
            guard errno == ENOENT else { throw CLIError("cannot use output folder \(path): \(errnoText())") }
            guard mkdir(path, 0o700) == 0 else { throw CLIError("cannot create output folder \(path): \(errnoText())") }
        } else if info.st_mode & S_IFMT == S_IFLNK {
            throw CLIError("output folder \(path) is a symbolic link", hint: "give the real folder's path; SealDrop never writes through a link")
        }
        let opened = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard opened >= 0 else {
            if errno == ENOTDIR || errno == ELOOP {
                throw CLIError("output path \(path) is not a folder", hint: "--out takes a folder")
            }
            throw CLIError("cannot open output folder \(path): \(errnoText())")
        }
        fd = opened
        if privateToOwner {
            do { try Self.checkPrivate(fd: opened, path: path) } catch {
                close(opened)
                throw error
            }
        }
    }

    deinit { close(fd) }

    /// Refuses a folder another user owns or may write to.
    private static func checkPrivate(fd: Int32, path: String) throws(CLIError) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw CLIError("cannot check output folder \(path): \(errnoText())") }
        guard info.st_uid == geteuid() else {
            throw CLIError("output folder \(path) belongs to another user",
                           hint: "decrypt into a folder of your own; its owner could swap the files being written")
        }
        guard info.st_mode & 0o022 == 0 else {
            throw CLIError("output folder \(path) can be written by others (mode \(String(info.st_mode & 0o777, radix: 8)))",
                           hint: "run: chmod go-w \(path), or decrypt into a new folder (it is created with mode 0700)")
        }
    }

    /// Checks, without creating anything, that `path` could be used as an output folder: it
    /// is a folder (not a symbolic link to one), or it does not exist yet and its parent does.
    /// ``init(path:privateToOwner:)`` checks again when it opens the folder.
    public static func check(path: String) throws(CLIError) {
        var info = stat()
        if lstat(path, &info) == 0 {
            switch info.st_mode & S_IFMT {
            case S_IFLNK:
                throw CLIError("output folder \(path) is a symbolic link", hint: "give the real folder's path; SealDrop never writes through a link")
            case S_IFDIR:
                return
            default:
                throw CLIError("output path \(path) is not a folder", hint: "--out takes a folder")
            }
        }
        guard errno == ENOENT else { throw CLIError("cannot use output folder \(path): \(errnoText())") }
        var parentInfo = stat()
        guard stat(parentFolder(of: path), &parentInfo) == 0, parentInfo.st_mode & S_IFMT == S_IFDIR else {
            throw CLIError("cannot create output folder \(path): its parent folder does not exist", hint: "create the parent folder first")
        }
    }

    /// Creates a new file to write an output into (0600, nothing followed or replaced):
    /// without a name where the file system allows, else under a hidden temporary name.
    public func createPendingFile() throws(CLIError) -> PendingFile {
        if publishesByDescriptor {
            let fileFD = openat(fd, ".", openUnnamed | O_WRONLY | O_CLOEXEC, 0o600)
            if fileFD >= 0 {
                fchmod(fileFD, 0o600)
                return PendingFile(fd: fileFD, temporaryName: nil)
            }
            // EOPNOTSUPP (FAT, NFS), EISDIR (a kernel without O_TMPFILE): fall back to a name.
            guard errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL else {
                throw CLIError("cannot create a file in \(path): \(errnoText())")
            }
            publishesByDescriptor = false
        }
        for _ in 0..<16 {
            let name = ".sealdrop-\(randomHex(8)).partial"
            let fileFD = openat(fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fileFD >= 0 {
                fchmod(fileFD, 0o600)
                return PendingFile(fd: fileFD, temporaryName: name)
            }
            guard errno == EEXIST else { throw CLIError("cannot create a file in \(path): \(errnoText())") }
        }
        throw CLIError("cannot create a temporary file in \(path)")
    }

    /// What ``publish(_:as:)`` did: the name it used and the names it passed over.
    public struct Published: Sendable {
        /// The output's final name in the folder.
        public let name: String
        /// Names that were already taken by a symbolic link (left untouched).
        public let symlinksPassed: [String]
    }

    /// Gives a written (and synced) pending file its final name: `preferred`, or
    /// `preferred (1)`, `(2)`, … if that name is taken by anything (a file, a folder, a
    /// symlink). An existing name is never replaced: `linkat` fails rather than overwrite. An
    /// unnamed file is linked by its descriptor (`/proc/self/fd`), so what gets the name is
    /// exactly the file this process wrote. Then the folder is synced and the file closed.
    public func publish(_ file: PendingFile, as preferred: String) throws(CLIError) -> Published {
        var attempt = nextAttempt[preferred] ?? 0
        var symlinks: [String] = []
        while attempt < 10_000 {
            let candidate = attempt == 0 ? preferred : numberedVariant(of: preferred, attempt)
            let linked = if let temporary = file.temporaryName {
                linkat(fd, temporary, fd, candidate, 0)
            } else {
                linkat(AT_FDCWD, "/proc/self/fd/\(file.fd)", fd, candidate, AT_SYMLINK_FOLLOW)
            }
            if linked == 0 {
                if let temporary = file.temporaryName { unlinkat(fd, temporary, 0) }
                fsync(fd)
                file.close()
                nextAttempt[preferred] = attempt + 1
                return Published(name: candidate, symlinksPassed: symlinks)
            }
            guard errno == EEXIST else { throw CLIError("cannot name the output \(candidate): \(errnoText())") }
            var info = stat()
            if fstatat(fd, candidate, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT == S_IFLNK {
                symlinks.append(candidate)
            }
            attempt += 1
        }
        throw CLIError("no free name for \(preferred) in \(path)")
    }

    /// Gives a written (and synced) pending file exactly the name `name`, which must be free:
    /// nothing is ever replaced. Then the folder is synced and the file closed.
    public func publish(_ file: PendingFile, exactlyAs name: String) throws(CLIError) {
        let linked = if let temporary = file.temporaryName {
            linkat(fd, temporary, fd, name, 0)
        } else {
            linkat(AT_FDCWD, "/proc/self/fd/\(file.fd)", fd, name, AT_SYMLINK_FOLLOW)
        }
        guard linked == 0 else { throw CLIError("cannot create \(name) in \(path): \(errnoText())") }
        if let temporary = file.temporaryName { unlinkat(fd, temporary, 0) }
        fsync(fd)
        file.close()
    }

    /// Puts a written (and synced) pending file in place of the file `name` in one atomic
    /// rename, so the name always holds either the old file or the whole new one. An unnamed
    /// file is first linked under a hidden temporary name. Then the folder is synced.
    public func replace(_ name: String, with file: PendingFile) throws(CLIError) {
        var temporary = file.temporaryName
        if temporary == nil {
            let hidden = ".sealdrop-\(randomHex(8)).replacing"
            guard linkat(AT_FDCWD, "/proc/self/fd/\(file.fd)", fd, hidden, AT_SYMLINK_FOLLOW) == 0 else {
                throw CLIError("cannot name the new \(name) in \(path): \(errnoText())")
            }
            temporary = hidden
        }
        guard renameat(fd, temporary!, fd, name) == 0 else {
            let text = errnoText()
            unlinkat(fd, temporary!, 0)
            throw CLIError("cannot replace \(name) in \(path): \(text)")
        }
        fsync(fd)
        file.close()
    }

    /// Closes and removes a pending file that will not be published (a failed output).
    public func discard(_ file: PendingFile) {
        file.close()
        if let temporary = file.temporaryName { unlinkat(fd, temporary, 0) }
    }

    /// The folder's device and inode, to recognise it under another name.
    public func identity() -> (device: UInt64, inode: UInt64)? { fileIdentity(fd: fd) }
}

/// An output being written into an ``OutputFolder``, with no final name yet.
public final class PendingFile {
    /// The descriptor to write to; -1 once closed.
    public private(set) var fd: Int32
    /// The hidden name it has while written, or nil when it has none (`O_TMPFILE`).
    public let temporaryName: String?

    init(fd: Int32, temporaryName: String?) {
        self.fd = fd
        self.temporaryName = temporaryName
    }

    deinit { close() }

    /// `fsync`s what was written.
    public func sync() throws(CLIError) {
        guard fsync(fd) == 0 else { throw CLIError("cannot sync the output: \(errnoText())") }
    }

    /// Closes the descriptor (once).
    public func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }
}

func randomHex(_ bytes: Int) -> String {
    Hex.encode(randomBytes(count: bytes))
}

extension String {
    func leftPadded(_ width: Int, with pad: Character = "0") -> String {
        String(repeating: pad, count: Swift.max(0, width - count)) + self
    }
}
