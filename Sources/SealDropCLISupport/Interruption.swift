#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Removes the output file being written if the process is interrupted (SIGINT, SIGTERM,
/// SIGHUP), so Ctrl-C in the middle of a decrypt leaves no partial plaintext behind. Only one
/// file is guarded at a time; the handler does nothing but `unlinkat` (async-signal-safe) and
/// then dies of the same signal with the default action.
public enum PartialFileGuard {
    private static let nameCapacity = 256
    nonisolated(unsafe) private static var folderFD: Int32 = -1
    nonisolated(unsafe) private static var armed: sig_atomic_t = 0
    nonisolated(unsafe) private static let name: UnsafeMutablePointer<CChar> = {
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: nameCapacity)
        buffer.initialize(repeating: 0, count: nameCapacity)
        return buffer
    }()
    nonisolated(unsafe) private static var installed = false

    /// Guards `name` in the folder open as `folder` until ``disarm()``.
    public static func arm(folder: Int32, name newName: String) {
        install()
        armed = 0
        let bytes = Array(newName.utf8.prefix(nameCapacity - 1))
        for (index, byte) in bytes.enumerated() { name[index] = CChar(bitPattern: byte) }
        name[bytes.count] = 0
        folderFD = folder
        armed = 1
    }

    /// Creates a pending file in `folder` and, when it has a temporary name, guards it, with
    /// SIGINT, SIGTERM and SIGHUP held back in between: a signal can no longer land after the
    /// file exists but before it is guarded. A signal that arrived meanwhile is handled (the
    /// file removed) on return. A file without a name needs no guard: it vanishes with the
    /// process.
    public static func createGuarded(in folder: OutputFolder) throws(CLIError) -> PendingFile {
        install()
        var held = sigset_t(), previous = sigset_t()
        sigemptyset(&held)
        for sig in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&held, sig) }
        sigprocmask(SIG_BLOCK, &held, &previous)
        defer { sigprocmask(SIG_SETMASK, &previous, nil) }
        let created = try folder.createPendingFile()
        if let name = created.temporaryName { arm(folder: folder.fd, name: name) }
        return created
    }

    /// Stops guarding: the file was published or already removed.
    public static func disarm() {
        armed = 0
    }

    private static func install() {
        guard !installed else { return }
        installed = true
        _ = name
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            let previous = signal(sig) { sig in
                if PartialFileGuard.armed == 1 {
                    unlinkat(PartialFileGuard.folderFD, PartialFileGuard.name, 0)
                }
                signal(sig, SIG_DFL)
                raise(sig)
            }
            // A signal the parent chose to ignore (nohup, a background job) stays ignored.
            if let previous, unsafeBitCast(previous, to: Int.self) == 1 {
                signal(sig, SIG_IGN)
            } else {
                sigaddset(&unblock, sig)
            }
        }
        // A signal mask inherited blocked would hold the signal until the work is done.
        sigprocmask(SIG_UNBLOCK, &unblock, nil)
    }
}
