import Foundation
import SealDropTestSupport
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The real `sealdropd` binary, started with arguments, its standard error captured as it runs.
final class DaemonProcess: Sendable {
    let process: Process
    private let stderrText = TextBuffer()

    static var binary: String { TestBinaries.path("sealdropd") }

    /// Starts `sealdropd` with `arguments`, through `wrapper` if given (e.g. `strace ...` or
    /// `sh -c 'umask 000; exec "$0" "$@"'`).
    init(_ arguments: [String], wrapper: [String] = [], environment: [String: String]? = nil) throws {
        process = Process()
        if wrapper.isEmpty {
            process.executableURL = URL(fileURLWithPath: Self.binary)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: wrapper[0])
            process.arguments = Array(wrapper.dropFirst()) + [Self.binary] + arguments
        }
        process.environment = SealDropTestSupport.environment(environment ?? ProcessInfo.processInfo.environment, under: wrapper)
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let handle = pipe.fileHandleForReading
        let box = stderrText
        let reader = Thread {
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                box.text.withLock { $0 += String(decoding: data, as: UTF8.self) }
            }
        }
        try process.run()
        reader.start()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    var pid: Int32 { process.processIdentifier }

    /// Everything written to standard error so far.
    var stderr: String { stderrText.text.withLock { $0 } }

    /// Waits for `listening on HOST:PORT` and returns the port; throws with the output if the
    /// daemon exits or says nothing in time.
    func waitUntilListening(timeout: Double = 30) async throws -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let line = stderr.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }),
               let port = line.split(separator: ":").last.flatMap({ Int($0) }) {
                return port
            }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let exit = process.isRunning ? "still running" : "exited with status \(process.terminationStatus) (\(process.terminationReason == .uncaughtSignal ? "signal" : "exit"))"
        throw TestSupportError.commandFailed("sealdropd did not start (\(exit)): \(stderr)")
    }

    /// Waits for the process to exit; returns its status (128 + signal if killed), or nil on
    /// timeout.
    func waitForExit(timeout: Double = 30) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        // Let the reader thread take the last output.
        try? await Task.sleep(for: .milliseconds(50))
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// The daemon's own pid: the process started, or its child when a wrapper such as strace
    /// started it.
    var daemonPID: Int32 {
        let pid = process.processIdentifier
        guard let children = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8),
              let child = children.split(separator: " ").first.flatMap({ Int32($0) }) else { return pid }
        return child
    }

    /// Waits until standard error contains `text`.
    func waitForOutput(_ text: String, timeout: Double = 10) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if stderr.contains(text) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return stderr.contains(text)
    }

    /// The daemon's peak resident memory (VmHWM) in KiB, read from /proc.
    var peakResidentKiB: Int? { Self.status(pid: pid, field: "VmHWM") }

    /// CPU time (user + system) used so far, in seconds.
    var cpuSeconds: Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    static func status(pid: Int32, field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }
}

final class TextBuffer: Sendable {
    let text = Mutex("")
}

/// Runs `sealdropd` to completion (for start-up refusals) and returns its status and stderr.
func runDaemonExpectingExit(_ arguments: [String], wrapper: [String] = [], timeout: Double = 30) async throws -> (status: Int32, stderr: String) {
    let daemon = try DaemonProcess(arguments, wrapper: wrapper)
    guard let status = await daemon.waitForExit(timeout: timeout) else {
        daemon.signal(SIGKILL)
        _ = await daemon.waitForExit()
        return (-1, daemon.stderr)
    }
    return (status, daemon.stderr)
}

/// The uid/gid of the unprivileged test user (`sealdrop-test`), if it exists and we are root.
func unprivilegedUser() -> (uid: uid_t, gid: gid_t)? {
    guard geteuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
          let entry = getpwnam("sealdrop-test") else { return nil }
    return (entry.pointee.pw_uid, entry.pointee.pw_gid)
}

/// The wrapper that runs a command as `sealdrop-test`.
let asUnprivilegedUser = ["/usr/bin/setpriv", "--reuid=sealdrop-test", "--regid=sealdrop-test", "--clear-groups", "--"]

/// A real `sealdropd` on a fresh (or given) spool, listening on a free port.
struct RealDrop: Sendable {
    let spool: SpoolFolder
    let recipient: Recipient
    let daemon: DaemonProcess
    let port: Int

    /// Starts the daemon with `--listen 127.0.0.1:0 --spool ... --recipient ... --free-disk-reserve 0`
    /// and `extra` arguments.
    static func start(spool: SpoolFolder? = nil, recipient: Recipient = Recipient(), extra: [String] = [],
                      wrapper: [String] = [], environment: [String: String]? = nil) async throws -> RealDrop {
        let spool = try spool ?? SpoolFolder()
        let daemon = try DaemonProcess(
            ["--listen", "127.0.0.1:0", "--spool", spool.path, "--recipient", recipient.text, "--free-disk-reserve", "0"] + extra,
            wrapper: wrapper, environment: environment
        )
        let port = try await daemon.waitUntilListening()
        return RealDrop(spool: spool, recipient: recipient, daemon: daemon, port: port)
    }

    /// Uploads with PUT.
    func put(_ content: [UInt8], headers: [String] = [], source: String? = nil) async throws -> String {
        try await exchange(port: port, request("PUT", body: content, headers: headers), source: source)
    }

    /// Stops the daemon with SIGTERM (to the daemon itself, also when it runs under a wrapper)
    /// and returns its exit status.
    @discardableResult
    func stop() async -> Int32? {
        kill(daemonPID, SIGTERM)
        if let status = await daemon.waitForExit(timeout: 20) { return status }
        daemon.signal(SIGKILL)
        return await daemon.waitForExit()
    }

    /// The daemon's own pid: the process started, or its child when a wrapper such as strace
    /// started it.
    var daemonPID: Int32 { daemon.daemonPID }
}

/// Environment for a daemon whose blocking I/O must run on a single thread (so that strace's
/// per-thread injection counters are predictable).
func singleIOThreadEnvironment() -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    environment["NIO_SINGLETON_BLOCKING_POOL_THREAD_COUNT"] = "1"
    return environment
}
