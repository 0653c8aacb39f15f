import Foundation
import SealDropTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// What this machine lets the tests do. A test that needs what is missing is disabled with a
/// trait (`.enabled(if: Machine.canMountTmpfs, "…")`), so the runner reports it as skipped, with
/// the reason, instead of passing without having run. `Scripts/test` installs and creates what
/// these need, so CI skips nothing.
enum Machine {
    /// Mounting a small tmpfs (a disk that fills, a file system with few inodes) needs root and
    /// a kernel that allows it here: checked once by mounting one.
    static let canMountTmpfs: Bool = {
        guard geteuid() == 0, let folder = try? TemporaryDirectory("mount-probe") else { return false }
        guard (try? runProcess("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", folder.path]))?.status == 0 else { return false }
        _ = try? runProcess("/usr/bin/umount", [folder.path])
        return true
    }()

    /// Injecting faults into the daemon's system calls needs strace and ptrace.
    static let canInjectFaults: Bool = {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/strace"),
              let probe = try? runProcess("/usr/bin/strace", ["-f", "-qq", "-o", "/dev/null", "/bin/true"]) else { return false }
        return probe.status == 0
    }()

    /// Running the daemon as an unprivileged user needs root, setpriv (util-linux) and the user
    /// `sealdrop-test` (Scripts/test creates it).
    static var hasUnprivilegedUser: Bool { unprivilegedUser() != nil }

    /// Whether the daemon's resident memory is its own: not under a sanitizer, whose allocator,
    /// quarantine and shadow memory would be measured instead. The plain run checks memory.
    static let measuresRealMemory = activeSanitizer == nil
}
