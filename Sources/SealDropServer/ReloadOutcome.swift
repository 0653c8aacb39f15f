public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What the running daemon says about its reloads, in `<spool>/reload-outcome`, so that
/// `sealdropd reload` (systemd's `ExecReload`) can signal the daemon and wait for the outcome:
///
///     pid 4242
///     reload 3 refused: signed recipients list /etc/sealdrop/recipients.signed: its serial 6 is below 7
///
/// Line 1: the daemon's process ID. Line 2: how many SIGHUP reloads it has finished since it
/// started (0 at start, with `started`), then `ok: <recipients in force>` or `refused: <why>`.
/// The daemon rewrites the file at start and after each SIGHUP. It says
/// nothing about any upload.
public struct ReloadOutcome: Sendable, Equatable {
    /// The daemon's process ID.
    public var pid: Int32
    /// Reloads finished since the daemon started.
    public var generation: Int
    /// `started`, `ok: …` or `refused: …`.
    public var result: String

    /// The file's name in the spool root.
    public static let fileName = "reload-outcome"

    /// An outcome.
    public init(pid: Int32, generation: Int, result: String) {
        self.pid = pid
        self.generation = generation
        self.result = result
    }

    /// Whether the reload was refused (the daemon kept its previous recipients).
    public var refused: Bool { result.hasPrefix("refused") }

    /// The file's text.
    public var text: String { "pid \(pid)\nreload \(generation) \(result)\n" }

    /// Reads the file in the spool `root`; nil when it is missing or not in this form (also when
    /// caught half-written: the whole text ends with its line feed).
    public static func read(spoolRoot root: String) -> ReloadOutcome? {
        let path = (root as NSString).appendingPathComponent(fileName)
        guard let text = readTextFile(path, limit: 64 * 1024), text.hasSuffix("\n") else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 2, lines[0].hasPrefix("pid "), let pid = Int32(lines[0].dropFirst(4)),
              lines[1].hasPrefix("reload ") else { return nil }
        let rest = lines[1].dropFirst(7)
        guard let space = rest.firstIndex(of: " "), let generation = Int(rest[..<space]) else { return nil }
        return ReloadOutcome(pid: pid, generation: generation, result: String(rest[rest.index(after: space)...]))
    }

    /// Writes the file in the spool `root` in place (mode 0600, one `write`): no rename and no
    /// `fsync`, which belong to submissions alone (a reader that catches it half-written finds no
    /// outcome and reads again; after a crash the next start writes it anew).
    func write(spoolRoot root: String) throws {
        let path = (root as NSString).appendingPathComponent(Self.fileName)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard fchmod(fd, 0o600) == 0, Glibc.write(fd, bytes, bytes.count) == bytes.count else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }
}
