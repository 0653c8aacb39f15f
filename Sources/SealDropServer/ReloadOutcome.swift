public import Foundation

/// What the running daemon says about its reloads, in `<spool>/reload-outcome`, so that
/// `sealdropd reload` (systemd's `ExecReload`) can signal the daemon and wait for the outcome:
///
///     pid 4242
///     reload 3 refused: signed recipients list /etc/sealdrop/recipients.signed: its serial 6 is below 7
///
/// Line 1: the daemon's process ID. Line 2: how many SIGHUP reloads it has finished since it
/// started (0 at start, with `started`), then `ok: <recipients in force>` or `refused: <why>`.
/// The daemon replaces the file (write, rename) at start and after each SIGHUP. It says
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

    /// Reads the file in the spool `root`; nil when it is missing or not in this form.
    public static func read(spoolRoot root: String) -> ReloadOutcome? {
        let path = (root as NSString).appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: path), data.count < 64 * 1024,
              let text = String(data: data, encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 2, lines[0].hasPrefix("pid "), let pid = Int32(lines[0].dropFirst(4)),
              lines[1].hasPrefix("reload ") else { return nil }
        let rest = lines[1].dropFirst(7)
        guard let space = rest.firstIndex(of: " "), let generation = Int(rest[..<space]) else { return nil }
        return ReloadOutcome(pid: pid, generation: generation, result: String(rest[rest.index(after: space)...]))
    }

    /// Replaces the file in the spool `root` (a new file renamed over the old one, mode 0600).
    func write(spoolRoot root: String) throws {
        let url = URL(fileURLWithPath: (root as NSString).appendingPathComponent(Self.fileName))
        try Data(text.utf8).write(to: url, options: .atomic)
        chmod(url.path, 0o600)
    }
}
