import Foundation
import SealDropTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The systemd unit's `SystemCallFilter=` cannot be applied here (PID 1 is not systemd), so this
/// checks it the other way round: every system call the real daemon makes, traced with strace
/// through a start, uploads through both front doors, a reload, status and a shutdown, must be
/// one the unit's filter allows, as `systemd-analyze syscall-filter` expands its groups. A call
/// outside it would kill the daemon under systemd (or, with `SystemCallErrorNumber=EPERM`, fail).
@Suite("The unit's system call filter allows every call the daemon makes")
struct SyscallFilterTests {
    static let unit = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Config/sealdropd.service").path

    @Test("strace of a daemon's whole life: every call is in the unit's SystemCallFilter (systemd-analyze's groups)",
          .enabled(if: Machine.canInjectFaults, "tracing needs strace and ptrace (Scripts/ensure-deps installs strace)"))
    func everyCallAllowed() async throws {
        let allowed = try Self.allowedCalls(unit: Self.unit)
        // A call outside the filter then fails with EPERM instead of killing the daemon.
        #expect(try String(contentsOfFile: Self.unit, encoding: .utf8).contains("\nSystemCallErrorNumber=EPERM\n"))
        #expect(allowed.isSuperset(of: ["prlimit64", "setpriority", "mlock", "munlock"]) && allowed.isDisjoint(with: ["setuid", "chown", "capset"]))
        #expect(allowed.contains("read") && allowed.contains("openat") && !allowed.contains("reboot") && !allowed.contains("init_module"), "the filter expanded: \(allowed.count) calls")

        let folder = try TemporaryDirectory("sealdropd-syscalls")
        let trace = folder.file("trace")
        let newsroom = try SignedRecipientsTests.Newsroom()
        try newsroom.publish([Recipient()], serial: 1)
        let settings = newsroom.arguments(["--web-listen", "127.0.0.1:0", "--retention", "30d", "--max-partial-uploads", "4"])
        let daemon = try DaemonProcess(settings, wrapper: ["/usr/bin/strace", "-f", "-qq", "-o", trace, "-e", "trace=all"])
        let port = try await daemon.waitUntilListening()
        #expect(await daemon.waitForOutput("upload page on http://"), "\(daemon.stderr)")
        let pagePort = try #require(daemon.stderr.split(separator: "\n").first { $0.hasPrefix("upload page on ") }
            .flatMap { Int($0.split(separator: ":").last!.dropLast()) })
        #expect(receipt(try await exchange(port: port, request(body: Array(repeating: 1, count: 3_000_000)))) != nil)
        let created = try await exchange(port: port, Array("SEALDROP/1 CREATE 100000\n\n".utf8))
        #expect(created.hasPrefix("OK "), "\(created)")
        let form = try runProcess("/usr/bin/curl", ["--silent", "--output", "/dev/null", "--write-out", "%{http_code}",
                                                    "-F", "file=@\(Self.unit)", "http://127.0.0.1:\(pagePort)/upload"])
        #expect(form.stdout == "303", "\(form.stdout) \(form.stderr)")
        #expect(try runProcess(DaemonProcess.binary, ["reload"] + settings).status == 0)
        #expect(try runProcess(DaemonProcess.binary, ["status"] + settings).status == 0)
        kill(daemon.daemonPID, SIGTERM)
        #expect(await daemon.waitForExit() == 0)

        let made = try Self.calls(inTrace: trace)
        #expect(made.count > 40, "\(made.sorted())")
        let refused = made.subtracting(allowed)
        #expect(refused.isEmpty, "the unit's filter would refuse: \(refused.sorted())")
        print("system calls the daemon made: \(made.count); the unit's filter allows \(allowed.count); refused: \(refused.sorted()); made: \(made.sorted().joined(separator: " "))")
    }

    /// The calls `SystemCallFilter=` lines allow: the first allow-list, less each `~` list.
    static func allowedCalls(unit path: String) throws -> Set<String> {
        let groups = try filterGroups()
        func expand(_ name: String, _ seen: inout Set<String>) -> Set<String> {
            guard name.hasPrefix("@") else { return [name] }
            guard seen.insert(name).inserted, let members = groups[name] else { return [] }
            return members.reduce(into: Set<String>()) { $0.formUnion(expand($1, &seen)) }
        }
        var allowed: Set<String>?
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") where line.hasPrefix("SystemCallFilter=") {
            var value = line.dropFirst("SystemCallFilter=".count)
            let deny = value.hasPrefix("~")
            if deny { value = value.dropFirst() }
            var seen = Set<String>()
            let names = value.split(separator: " ").reduce(into: Set<String>()) { $0.formUnion(expand(String($1), &seen)) }
            if deny {
                allowed?.subtract(names)
            } else {
                allowed = (allowed ?? []).union(names)
            }
        }
        return try #require(allowed, "no allow-list SystemCallFilter= line in \(path)")
    }

    /// `systemd-analyze syscall-filter`: each group (`@name` at the start of a line) and its
    /// members (indented: calls and other groups; `#` lines are comments).
    static func filterGroups() throws -> [String: [String]] {
        let listed = try runProcess("/usr/bin/systemd-analyze", ["syscall-filter"])
        try #require(listed.status == 0, "systemd-analyze syscall-filter: \(listed.stderr) (Scripts/ensure-deps installs systemd)")
        var groups: [String: [String]] = [:]
        var current: String?
        for line in listed.stdout.split(separator: "\n") {
            if line.hasPrefix("@") {
                current = String(line)
                groups[String(line)] = []
            } else if let current {
                let member = line.trimmingCharacters(in: .whitespaces)
                if !member.isEmpty, !member.hasPrefix("#") { groups[current]!.append(member) }
            }
        }
        return groups
    }

    /// The names of the calls in an `strace -f` output file.
    static func calls(inTrace path: String) throws -> Set<String> {
        var names = Set<String>()
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            // "1234  name(args) = result", "1234  <... name resumed> ...", "1234  +++ exited with 0 +++"
            let words = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard words.count == 2 else { continue }
            var rest = words[1].drop(while: { $0 == " " })
            if rest.hasPrefix("<... ") { rest = rest.dropFirst(5) }
            let name = rest.prefix(while: { $0.isLetter || $0.isNumber || $0 == "_" })
            if !name.isEmpty, rest.dropFirst(name.count).first.map({ $0 == "(" || $0 == " " }) == true { names.insert(String(name)) }
        }
        return names
    }
}
