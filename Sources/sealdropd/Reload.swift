import ArgumentParser
import Foundation
import SealDropServer
#if canImport(Glibc)
import Glibc
#endif

/// `sealdropd reload`: signals the running daemon to re-read its recipients and waits for the
/// outcome (systemd's `ExecReload`; bookworm's systemd 252 has no `Type=notify-reload`).
struct Reload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make the running daemon re-read its recipients, and wait for the outcome.",
        discussion: """
            Takes the daemon's settings (the same --config and flags) to find its spool, where \
            the daemon keeps its process ID and the outcome of its last reload \
            (reload-outcome). Sends the daemon SIGHUP, waits until it has reloaded, and prints \
            the outcome: the recipients now in force, or why the new list or file was refused \
            (the daemon then keeps serving with the previous recipients). Under systemd, \
            $MAINPID must be the same process. The unit's ExecReload runs it, so that \
            systemctl reload sealdropd fails when the reload was refused.

            Example:
              sealdropd reload --config /etc/sealdrop/sealdropd.yaml

            Exit status: 0 when the daemon reloaded; 1 when it refused the reload, is not \
            running, or did not answer within --timeout; 64 for a usage error.
            """
    )

    @Option(help: ArgumentHelp("How long to wait for the daemon's outcome, in seconds.", valueName: "seconds"))
    var timeout: Double = 30

    @OptionGroup var settings: DaemonSettings

    func run() async throws {
        let configuration: DaemonConfiguration
        do { configuration = try await settings.resolved() } catch { fail(error) }
        let spool = configuration.spool
        // The daemon rewrites the file in place: one caught half-written is read again.
        var found = ReloadOutcome.read(spoolRoot: spool)
        for _ in 0..<10 where found == nil {
            try await Task.sleep(for: .milliseconds(100))
            found = ReloadOutcome.read(spoolRoot: spool)
        }
        guard let before = found else {
            fail(StartupError("no daemon has recorded its process ID in \(spool)/\(ReloadOutcome.fileName)",
                              hint: "start the daemon first (systemctl start sealdropd), and give reload the daemon's own --config"))
        }
        if let main = ProcessInfo.processInfo.environment["MAINPID"], let mainPID = Int32(main), mainPID != before.pid {
            fail(StartupError("systemd's main process is \(mainPID), but the daemon on \(spool) recorded \(before.pid)",
                              hint: "give reload the same --config as the daemon's ExecStart"))
        }
        guard Self.isRunningDaemon(before.pid) else {
            fail(StartupError("the daemon that used \(spool) (process \(before.pid)) is not running",
                              hint: "start it (systemctl start sealdropd); a stopped daemon reads its recipients when it starts"))
        }
        guard kill(before.pid, SIGHUP) == 0 else {
            fail(StartupError("cannot signal the daemon (process \(before.pid)): \(String(cString: strerror(errno)))",
                              hint: "run reload as the daemon's user (sudo -u sealdrop) or as root"))
        }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let after = ReloadOutcome.read(spoolRoot: spool), after.pid == before.pid, after.generation > before.generation {
                if after.refused {
                    fail(StartupError("the daemon refused the reload: \(after.result.dropFirst("refused: ".count))",
                                      hint: "it serves on with the previous recipients; fix the file (check it with sealdropd check-config) and reload again"))
                }
                print("reloaded: \(after.result.dropFirst("ok: ".count))")
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        fail(StartupError("the daemon (process \(before.pid)) did not report a reload within \(Int(timeout)) s",
                          hint: "see its log (journalctl -u sealdropd); it may be stopping, or stuck"))
    }

    /// Whether `pid` is a live `sealdropd` process (a process ID can be reused after the daemon stopped).
    static func isRunningDaemon(_ pid: Int32) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM,
              let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8) else { return false }
        return comm.trimmingCharacters(in: .whitespacesAndNewlines) == "sealdropd"
    }
}
