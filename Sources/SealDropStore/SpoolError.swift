#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the spool cannot be used, or why one operation on it failed. Each case reads as a
/// sentence a person can act on; ``hint`` says what to do about it.
public enum SpoolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The spool folder does not exist.
    case missing(path: String)
    /// The path exists but is not a folder (or, for `tmp`/`inbox`, is a symbolic link).
    case notADirectory(path: String)
    /// The folder belongs to another user than the one the daemon runs as.
    case wrongOwner(path: String, owner: UInt32, expected: UInt32)
    /// The folder's group or other users have some access to it.
    case accessibleToOthers(path: String, mode: UInt32)
    /// The daemon cannot create files in the folder.
    case notWritable(path: String)
    /// The daemon may not open the folder (or a folder on the way to it).
    case permissionDenied(path: String)
    /// Another process (most likely another daemon) holds the spool's lock.
    case locked(path: String)
    /// A system call failed; `errno` says why.
    case system(operation: String, path: String, errno: Int32)

    /// Whether the failure means the disk (or the user's disk quota) is full.
    public var isOutOfSpace: Bool {
        if case .system(_, _, let code) = self { return code == ENOSPC || code == EDQUOT }
        return false
    }

    /// The errno of a failed system call, if that is what this is.
    public var errno: Int32? {
        if case .system(_, _, let code) = self { return code }
        return nil
    }

    public var description: String {
        switch self {
        case .missing(let path): "spool folder \(path) does not exist"
        case .notADirectory(let path): "\(path) is not a folder"
        case .wrongOwner(let path, let owner, let expected):
            "spool folder \(path) belongs to uid \(owner), but the daemon runs as uid \(expected)"
        case .accessibleToOthers(let path, let mode):
            "spool folder \(path) is accessible to group or others (mode \(String(mode & 0o7777, radix: 8)))"
        case .notWritable(let path): "spool folder \(path) is not writable by the daemon"
        case .permissionDenied(let path): "spool folder \(path) cannot be opened by the daemon's user (permission denied)"
        case .locked(let path): "spool folder \(path) is in use by another process (is another sealdropd running?)"
        case .system(let operation, let path, let code):
            "\(operation) \(path) failed: \(String(cString: strerror(code)))"
        }
    }

    /// What a person can do about it.
    public var hint: String {
        switch self {
        case .missing(let path):
            "create it for the daemon's user with: install -d -m 0700 \(path)"
        case .notADirectory:
            "point --spool at a folder; its tmp and inbox entries must be real folders, not links"
        case .wrongOwner(let path, _, _):
            "run the daemon as the folder's owner, or hand it over: chown -R <daemon user> \(path)"
        case .accessibleToOthers(let path, _):
            "only the daemon's user may enter the spool: chmod 0700 \(path)"
        case .notWritable(let path):
            "give the daemon's user write access: chmod u+rwx \(path)"
        case .permissionDenied(let path):
            "the daemon's user must own the folder and be able to reach it: chown <daemon user> \(path)"
        case .locked:
            "run one daemon per spool; stop the other one or pick another --spool"
        case .system:
            "check the file system (permissions, free space, mount options) and try again"
        }
    }
}
