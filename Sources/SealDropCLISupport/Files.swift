#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import SealDropFormat

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

    /// Opens `path` read-only; `"-"` means standard input.
    public init(path: String) throws(CLIError) {
        self.path = path
        if path == "-" { fd = 0; return }
        let opened = open(path, O_RDONLY | O_CLOEXEC)
        guard opened >= 0 else { throw CLIError("cannot open \(path): \(errnoText())", hint: "check the path and that you may read it") }
        var info = stat()
        if fstat(opened, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
            close(opened)
            throw CLIError("\(path) is a folder, not a file")
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

    /// The size of a regular file; nil for pipes and terminals.
    public func regularFileSize() -> UInt64? {
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        return UInt64(info.st_size)
    }
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

/// An output folder opened without following symlinks: files are created, linked and removed
/// relative to its descriptor, so nothing can redirect them elsewhere.
public final class OutputFolder {
    /// The descriptor of the folder.
    public let fd: Int32
    /// The path it was opened from.
    public let path: String
    /// For each preferred name published here, the first suffix not yet found taken: a batch of
    /// outputs that share a name (a thousand `photo.jpg`) costs one attempt each, not a search
    /// from the start every time.
    private var nextAttempt: [String: Int] = [:]

    /// Opens `path`, creating it with mode 0700 if it does not exist. Refuses a symlink, or
    /// anything but a folder.
    public init(path: String) throws(CLIError) {
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
    }

    deinit { close(fd) }

    /// Checks, without creating anything, that `path` could be used as an output folder: it
    /// is a folder (not a symbolic link to one), or it does not exist yet and its parent does.
    /// ``init(path:)`` checks again when it opens the folder.
    public static func check(path: String) throws(CLIError) {
        let shown = escapeForDisplay(path)
        var info = stat()
        if lstat(path, &info) == 0 {
            switch info.st_mode & S_IFMT {
            case S_IFLNK:
                throw CLIError("output folder \(shown) is a symbolic link", hint: "give the real folder's path; SealDrop never writes through a link")
            case S_IFDIR:
                return
            default:
                throw CLIError("output path \(shown) is not a folder", hint: "--out takes a folder")
            }
        }
        guard errno == ENOENT else { throw CLIError("cannot use output folder \(shown): \(errnoText())") }
        var parentInfo = stat()
        guard stat(parentFolder(of: path), &parentInfo) == 0, parentInfo.st_mode & S_IFMT == S_IFDIR else {
            throw CLIError("cannot create output folder \(shown): its parent folder does not exist", hint: "create the parent folder first")
        }
    }

    /// Creates a new hidden temporary file (0600, `O_EXCL`, no symlink followed).
    public func createTemporaryFile() throws(CLIError) -> (name: String, fd: Int32) {
        for _ in 0..<16 {
            let name = ".sealdrop-\(randomHex(8)).partial"
            let fileFD = openat(fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fileFD >= 0 {
                fchmod(fileFD, 0o600)
                return (name, fileFD)
            }
            guard errno == EEXIST else { throw CLIError("cannot create a file in \(path): \(errnoText())") }
        }
        throw CLIError("cannot create a temporary file in \(path)")
    }

    /// What ``publish(temporary:as:)`` did: the name it used and the names it passed over.
    public struct Published: Sendable {
        /// The output's final name in the folder.
        public let name: String
        /// Names that were already taken by a symbolic link (left untouched).
        public let symlinksPassed: [String]
    }

    /// Like ``publish(temporary:as:)``, and also reports the names taken by symbolic links,
    /// so the caller can warn about a link planted where an output would go.
    public func publishReporting(temporary: String, as preferred: String) throws(CLIError) -> Published {
        var attempt = nextAttempt[preferred] ?? 0
        var symlinks: [String] = []
        while attempt < 10_000 {
            let candidate = attempt == 0 ? preferred : numberedVariant(of: preferred, attempt)
            if linkat(fd, temporary, fd, candidate, 0) == 0 {
                unlinkat(fd, temporary, 0)
                fsync(fd)
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

    /// The folder's device and inode, to recognise it under another name.
    public func identity() -> (device: UInt64, inode: UInt64)? { fileIdentity(fd: fd) }

    /// Gives the temporary file `temporary` its final name: `preferred`, or `preferred (1)`,
    /// `(2)`, … if that name is taken by anything (a file, a folder, a symlink). An existing
    /// name is never replaced: `linkat` fails rather than overwrite. Then the temporary name is
    /// removed and the folder synced. Returns the name used.
    public func publish(temporary: String, as preferred: String) throws(CLIError) -> String {
        try publishReporting(temporary: temporary, as: preferred).name
    }

    /// Removes a file created in this folder (a failed output).
    public func remove(_ name: String) {
        unlinkat(fd, name, 0)
    }
}

func randomHex(_ bytes: Int) -> String {
    var generator = SystemRandomNumberGenerator()
    return (0..<bytes).map { _ in String(UInt8.random(in: 0...255, using: &generator), radix: 16).leftPadded(2) }.joined()
}

extension String {
    func leftPadded(_ width: Int, with pad: Character = "0") -> String {
        String(repeating: pad, count: Swift.max(0, width - count)) + self
    }
}
