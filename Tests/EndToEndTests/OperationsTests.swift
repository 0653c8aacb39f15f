import Foundation
import SealDropCrypto
import SealDropKeys
import SealDropStore
import SealDropTestSupport
import Testing

/// Operating a drop for real, as far as this machine allows: the shipped `Config/torrc` in
/// Debian's tor (valid, and making an onion host name offline that `sealdropd address` turns
/// into a drop address), the shipped `Config/sealdropd.service` in `systemd-analyze verify`, the
/// daemon under the unit's memory-lock limit (`prlimit`, as the unit's own unprivileged user
/// would run it), every system call it makes checked against the unit's filter, and
/// `Scripts/install --root`. What needs systemd as PID 1 (the sandboxing lines) is not exercised
/// here: the SealDropServer article "Running a drop" lists it.
///
/// Nothing is skipped: a missing tool fails its test with a message naming the package, which
/// `Scripts/ensure-deps --operations` installs (Scripts/test runs it).
@Suite("Operating a drop: tor, systemd, memory lock, install")
struct OperationsTests {
    /// The package's root folder.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static func shipped(_ path: String) -> String { repository.appendingPathComponent(path).path }

    /// The first of `candidates` that is an executable file, or a failed test that says how to get it.
    static func tool(_ candidates: [String], package: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try #require(candidates.first { FileManager.default.isExecutableFile(atPath: $0) },
                     "\(candidates[0]) is missing: Scripts/ensure-deps --operations installs it (Debian package \(package); Scripts/test runs it)",
                     sourceLocation: sourceLocation)
    }

    /// A newsroom's keys as `keyholder` makes them: a keyholder's key, a signing key, and a
    /// recipients list naming the first, signed by the second (`sign-recipients --serial 1`).
    /// Made once for the suite (three Argon2id derivations).
    struct Newsroom: Sendable {
        let dir: TemporaryDirectory
        let key: TestKey
        let signingKey: String
        let list: String

        init() throws {
            dir = try TemporaryDirectory("ops-newsroom")
            key = try TestKey.make(in: dir)
            let keygen = try Harness.keyholder(["keygen", "--signing", "--output", dir.file("signing.key"), "--passphrase-file", key.passphrasePath])
            guard keygen.status == 0, let last = keygen.stdout.split(separator: "\n").last else {
                throw TestSupportError.commandFailed("keyholder keygen --signing: \(keygen.stderr)")
            }
            signingKey = String(last)
            list = dir.file("recipients.signed")
            let sign = try Harness.keyholder(["sign-recipients", "--signing-key", dir.file("signing.key"), "--passphrase-file", key.passphrasePath,
                                              "--serial", "1", "--output", list, key.publicKeyText])
            guard sign.status == 0 else { throw TestSupportError.commandFailed("keyholder sign-recipients: \(sign.stderr)") }
            // Readable by the unprivileged user the daemon test runs as (it holds no secret).
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: list)
        }
    }
    static let newsroom = Result { try Newsroom() }

    // MARK: - Tor

    @Test("Debian's tor accepts the shipped torrc (tor --verify-config)")
    func torAcceptsTorrc() throws {
        let tor = try Self.tool(["/usr/sbin/tor", "/usr/bin/tor"], package: "tor")
        let result = try runProcess(tor, ["--verify-config", "-f", Self.shipped("Config/torrc")])
        print("tor --verify-config -f Config/torrc: exit \(result.status); \(result.stdout.split(separator: "\n").last ?? "")")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("Configuration was valid"), "\(result.stdout)")
        // No warning about the snippet itself (running as root is the only one tolerated).
        let warnings = result.stdout.split(separator: "\n").filter { $0.contains("[warn]") || $0.contains("[err]") }
            .filter { !$0.contains("You are running Tor as root") }
        #expect(warnings.isEmpty, "\(warnings)")
    }

    @Test("tor with the shipped torrc makes the onion host name offline, and sealdropd address turns it into a drop address")
    func onionAddress() throws {
        let tor = try Self.tool(["/usr/sbin/tor", "/usr/bin/tor"], package: "tor")
        let newsroom = try Self.newsroom.get()
        let dir = try TemporaryDirectory("ops-tor")
        let data = dir.file("data"), service = dir.file("hs")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        // The shipped torrc, every line kept but HiddenServiceDir, which points into the test's
        // folder; then no network, and a data folder of the test's own.
        let shipped = try String(contentsOfFile: Self.shipped("Config/torrc"), encoding: .utf8)
        var replaced = 0
        let lines = shipped.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            guard line.hasPrefix("HiddenServiceDir ") else { return String(line) }
            replaced += 1
            return "HiddenServiceDir \(service)/"
        }
        #expect(replaced == 1)
        let torrc = dir.file("torrc"), defaults = dir.file("torrc-defaults")
        try Data((lines.joined(separator: "\n") + "\nDisableNetwork 1\nDataDirectory \(data)\n").utf8).write(to: URL(fileURLWithPath: torrc))
        try Data().write(to: URL(fileURLWithPath: defaults))

        let process = Process()
        process.executableURL = URL(fileURLWithPath: tor)
        process.arguments = ["--defaults-torrc", defaults, "-f", torrc]
        let log = dir.file("tor.log")
        #expect(FileManager.default.createFile(atPath: log, contents: nil))
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = logHandle
        process.standardError = logHandle
        process.standardInput = FileHandle.nullDevice
        let started = Date()
        // A child inherits the signal mask of the thread that spawns it, and the test's worker
        // threads block nearly every signal: tor, which (unlike sealdropd) does not unblock them,
        // would never see SIGTERM. So tor is spawned with none blocked.
        var none = sigset_t(), previous = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
        pthread_sigmask(SIG_SETMASK, &previous, nil)
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        }
        let hostnameFile = service + "/hostname"
        while !FileManager.default.fileExists(atPath: hostnameFile) && process.isRunning && Date().timeIntervalSince(started) < 30 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let seconds = Date().timeIntervalSince(started)
        // SIGTERM, and wait for tor to exit (it does so at once when it has no circuits).
        #expect(process.isRunning, "tor stopped early: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let torLog = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(!process.isRunning, "tor did not exit within 10 s of SIGTERM: \(torLog)")
        let hostname = try #require(try? String(contentsOfFile: hostnameFile, encoding: .utf8), "tor made no hostname file: \(torLog)")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        print("tor (DisableNetwork 1) wrote \(hostnameFile) after \(String(format: "%.1f", seconds)) s: \(hostname)")
        #expect(torLog.contains("DisableNetwork is set"), "\(torLog)")
        #expect(!torLog.contains("[err]"), "\(torLog)")
        #expect(hostname.hasSuffix(".onion") && hostname.count == 62, "\(hostname)")
        // Tor keeps the service's folder and secret key to its user alone.
        let folderMode = try #require(try FileManager.default.attributesOfItem(atPath: service)[.posixPermissions] as? Int)
        let secretMode = try #require(try FileManager.default.attributesOfItem(atPath: service + "/hs_ed25519_secret_key")[.posixPermissions] as? Int)
        #expect(folderMode == 0o700 && secretMode == 0o600)

        let result = try runProcess(TestBinaries.path("sealdropd"), [
            "address", "--onion-hostname-file", hostnameFile, "--onion-port", "7700",
            "--signed-recipients", newsroom.list, "--signing-key", newsroom.signingKey,
        ])
        print("sealdropd address --onion-hostname-file … --onion-port 7700: exit \(result.status)\n\(result.stdout)", terminator: "")
        #expect(result.status == 0, "\(result.stderr)")
        let text = try #require(result.stdout.split(separator: "\n").last.map(String.init))
        #expect(text.hasPrefix("sealdropaddr1"), "\(text)")
        #expect(result.stdout.hasPrefix("# drop address: \(hostname) port 7700, signing key fingerprint "), "\(result.stdout)")
        // It parses back to the same onion host, the port, and the newsroom's signing key.
        let address = try DropAddress(text: text)
        #expect(address.host.name == hostname)
        #expect(address.port == 7700)
        #expect(address.signingKey == (try SigningPublicKey(text: newsroom.signingKey)))
        // The host is the service's own key: the address names the service tor publishes.
        guard case .onion(let bytes) = address.host else { Issue.record("not an onion host: \(address.host)"); return }
        let publicKeyFile = try Data(contentsOf: URL(fileURLWithPath: service + "/hs_ed25519_public_key"))
        #expect(publicKeyFile.count == 64 && Array(publicKeyFile.suffix(32)) == Array(bytes.prefix(32)))
    }

    // MARK: - systemd

    /// A copy of the shipped unit in `dir` (named `sealdropd.service`, as systemd wants), its
    /// ExecStart and ExecReload pointing at the built sealdropd instead of /usr/local/bin.
    static func unitCopy(in dir: TemporaryDirectory, edit: (String) -> String = { $0 }) throws -> String {
        let unit = try String(contentsOfFile: shipped("Config/sealdropd.service"), encoding: .utf8)
        let rewritten = unit.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("ExecStart=") || line.hasPrefix("ExecReload=")
                ? line.replacingOccurrences(of: "/usr/local/bin/sealdropd", with: TestBinaries.path("sealdropd")) : String(line)
        }.joined(separator: "\n")
        let path = dir.file("sealdropd.service")
        try Data(edit(rewritten).utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("systemd-analyze verify accepts the shipped unit, and would name a faulty line")
    func systemdAcceptsUnit() throws {
        let analyze = try Self.tool(["/usr/bin/systemd-analyze", "/bin/systemd-analyze"], package: "systemd")
        let dir = try TemporaryDirectory("ops-unit")
        let unit = try Self.unitCopy(in: dir)
        let shippedText = try String(contentsOfFile: Self.shipped("Config/sealdropd.service"), encoding: .utf8)
        #expect(shippedText.contains("\nExecStart=/usr/local/bin/sealdropd --config /etc/sealdrop/sealdropd.yaml\n"))
        #expect(try String(contentsOfFile: unit, encoding: .utf8).contains("\nExecStart=\(TestBinaries.path("sealdropd")) --config"))
        let result = try runProcess(analyze, ["verify", unit])
        print("systemd-analyze verify sealdropd.service: exit \(result.status), \(result.stdout.count + result.stderr.count) bytes of output")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        // Unknown keys and bad values are only warnings (exit 0): no line may name the unit.
        let complaints = (result.stdout + result.stderr).split(separator: "\n").filter { $0.contains("sealdropd.service") }
        #expect(complaints.isEmpty, "\(complaints)")

        // The same check sees a misspelled hardening line: the assertion above can fail.
        let broken = try TemporaryDirectory("ops-unit-broken")
        let typo = try Self.unitCopy(in: broken) { $0.replacingOccurrences(of: "\nProtectClock=yes\n", with: "\nProtectClok=yes\n") }
        let warned = try runProcess(analyze, ["verify", typo])
        #expect(warned.stderr.contains("sealdropd.service:") && warned.stderr.contains("Unknown key 'ProtectClok'"), "\(warned.stderr)")
    }

    // MARK: - Memory lock

    /// `LimitMEMLOCK=` of the shipped unit, in bytes.
    static func unitMemlockLimit() throws -> Int {
        let unit = try String(contentsOfFile: shipped("Config/sealdropd.service"), encoding: .utf8)
        let value = try #require(unit.split(separator: "\n").first { $0.hasPrefix("LimitMEMLOCK=") }?.dropFirst("LimitMEMLOCK=".count))
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        if let last = value.last, let scale = units[last], let number = Int(value.dropLast()) { return number * scale }
        return try #require(Int(value), "LimitMEMLOCK=\(value)")
    }

    /// VmLck of `pid`, in KiB.
    static func lockedKiB(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmLck:") })
        return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? ""), "\(line)")
    }

    /// The daemon started as the unit starts it, as far as this machine can: under `prlimit
    /// --memlock=N:N`, as an unprivileged user (root's CAP_IPC_LOCK would ignore the limit;
    /// the unit's User= is never root), on a spool of that user's, with the newsroom's list.
    static func startLimited(memlock: Int, in dir: TemporaryDirectory, newsroom: Newsroom) throws -> (daemon: LaunchedDaemon, spool: String) {
        let prlimit = try tool(["/usr/bin/prlimit"], package: "util-linux")
        var asUser: [String] = []
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path)
        let spool = dir.file("spool")
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        if geteuid() == 0 {
            let user = try #require(getpwnam("sealdrop-test"), "the user sealdrop-test is missing: Scripts/ensure-deps creates it (Scripts/test runs it)")
            _ = try tool(["/usr/bin/setpriv"], package: "util-linux")
            #expect(chown(spool, user.pointee.pw_uid, user.pointee.pw_gid) == 0)
            asUser = ["/usr/bin/setpriv", "--reuid=sealdrop-test", "--regid=sealdrop-test", "--clear-groups", "--"]
        }
        let daemon = try LaunchedDaemon([prlimit, "--memlock=\(memlock):\(memlock)", "--"] + asUser + [
            TestBinaries.path("sealdropd"), "--listen", "127.0.0.1:0", "--spool", spool, "--free-disk-reserve", "0",
            "--signed-recipients", newsroom.list, "--signing-key", newsroom.signingKey,
        ])
        return (daemon, spool)
    }

    @Test("the daemon starts under the unit's LimitMEMLOCK (or this machine's lower hard limit), serves an upload, and keeps its locked memory within it",
          .enabled(if: activeSanitizer == nil, "a sanitizer's interceptors make mlock a no-op, so nothing is locked to measure"))
    func memoryLockLimit() throws {
        let unitLimit = try Self.unitMemlockLimit()
        #expect(unitLimit == 64 << 20)
        // The unit's limit, unless this machine's hard limit is lower and cannot be raised (a
        // container without CAP_SYS_RESOURCE): then that lower limit, a stricter test.
        let prlimit = try Self.tool(["/usr/bin/prlimit"], package: "util-linux")
        let limits = try String(contentsOfFile: "/proc/self/limits", encoding: .utf8).split(separator: "\n")
        let hardText = try #require(limits.first { $0.hasPrefix("Max locked memory") }?.split(separator: " ").dropFirst(3).dropFirst().first)
        let hard = try #require(Int(hardText), "Max locked memory: \(hardText)")
        let raisable = try runProcess(prlimit, ["--memlock=\(unitLimit):\(unitLimit)", "--", "/bin/true"]).status == 0
        let limit = raisable ? unitLimit : hard
        if !raisable {
            print("this machine's hard RLIMIT_MEMLOCK is \(hard >> 10) KiB and cannot be raised here (prlimit: Operation not permitted): the daemon runs under that instead of the unit's \(unitLimit >> 20) MiB")
        }
        #expect(limit > 0 && limit <= unitLimit)
        let newsroom = try Self.newsroom.get()
        let dir = try TemporaryDirectory("ops-memlock")
        let (daemon, spool) = try Self.startLimited(memlock: limit, in: dir, newsroom: newsroom)
        defer { daemon.stop() }
        let pid = daemon.process.processIdentifier
        #expect(try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
            .split(separator: "\n").contains { $0.hasPrefix("Max locked memory") && $0.contains("\(limit)") })
        if geteuid() == 0 {
            #expect(try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8).contains("CapEff:\t0000000000000000"))
        }
        let idle = try Self.lockedKiB(pid)
        // One upload held open half-way, so its guarded buffers are in use while VmLck is read.
        let (during, receipt) = try daemon.putSampling(Data(testBytes(count: 1 << 20)), name: "locked.bin") { try Self.lockedKiB(pid) }
        let after = try Self.lockedKiB(pid)
        print("VmLck under a memory-lock limit of \(limit >> 10) KiB (prlimit, unprivileged user): \(idle) kB idle, \(during) kB at most during a 1 MiB upload, \(after) kB after it")
        #expect(FileManager.default.fileExists(atPath: "\(spool)/inbox/\(receipt).sealdrop"))
        #expect(FileManager.default.fileExists(atPath: "\(spool)/inbox/\(receipt).record"))
        #expect(idle > 0 && after > 0, "nothing locked: libsodium's guarded memory is not locked")
        #expect(during >= idle && during * 1024 <= limit)
        #expect(after * 1024 <= limit)
    }

    @Test("under a 64 KiB memory-lock limit the daemon still starts and serves; what it could not lock stays unlocked")
    func tinyMemoryLockLimit() throws {
        let newsroom = try Self.newsroom.get()
        let dir = try TemporaryDirectory("ops-memlock-tiny")
        let (daemon, spool) = try Self.startLimited(memlock: 64 << 10, in: dir, newsroom: newsroom)
        defer { daemon.stop() }
        let pid = daemon.process.processIdentifier
        let (during, receipt) = try daemon.putSampling(Data(testBytes(count: 1 << 20)), name: "tiny.bin") { try Self.lockedKiB(pid) }
        let after = try Self.lockedKiB(pid)
        print("VmLck under a 64 KiB limit: \(during) kB at most during a 1 MiB upload, \(after) kB after it; the daemon started and stored the upload")
        #expect(FileManager.default.fileExists(atPath: "\(spool)/inbox/\(receipt).sealdrop"))
        #expect(during <= 64 && after <= 64)
        // It says nothing about it: libsodium's sodium_malloc ignores a failed mlock.
        #expect(!daemon.stderr.lowercased().contains("mlock"), "\(daemon.stderr)")
    }

    // MARK: - Scripts/install

    @Test("Scripts/install --root: installs, --check finds nothing, then names a changed mode and an edited unit; installing again fixes both and keeps the operator's config")
    func install() throws {
        let script = Self.shipped("Scripts/install")
        let dir = try TemporaryDirectory("ops-install")
        let root = dir.file("root")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)
        let binary = TestBinaries.path("sealdropd")
        let installed = try runProcess(script, ["--root", root, "--binary", binary])
        #expect(installed.status == 0, "\(installed.stdout)\(installed.stderr)")
        #expect(installed.stdout.contains("done: nothing was started."))
        #expect(installed.stdout.contains("systemctl enable --now sealdropd"))
        #expect(installed.stderr.contains("install: note: the user and group sealdrop are created only on the host"))
        #expect(installed.stderr.contains("%include /etc/tor/torrc.d/*.conf"))
        let me = "\(getuid()):\(getgid())"
        for (path, mode) in [("var/lib/sealdrop", 0o700), ("etc/sealdrop", 0o750), ("etc/sealdrop/sealdropd.yaml", 0o640),
                             ("usr/local/bin/sealdropd", 0o755), ("etc/systemd/system/sealdropd.service", 0o644),
                             ("etc/tor/torrc.d/sealdrop.conf", 0o644)] {
            let attributes = try FileManager.default.attributesOfItem(atPath: "\(root)/\(path)")
            #expect(attributes[.posixPermissions] as? Int == mode, "\(path)")
            #expect("\(attributes[.ownerAccountID] ?? "?"):\(attributes[.groupOwnerAccountID] ?? "?")" == me, "\(path)")
        }
        #expect(FileManager.default.contentsEqual(atPath: "\(root)/usr/local/bin/sealdropd", andPath: binary))
        #expect(FileManager.default.contentsEqual(atPath: "\(root)/etc/tor/torrc.d/sealdrop.conf", andPath: Self.shipped("Config/torrc")))

        let clean = try runProcess(script, ["--root", root, "--binary", binary, "--check"])
        print("Scripts/install --root TMP --check (fresh): exit \(clean.status), \(clean.stdout.split(separator: "\n").count) lines")
        #expect(clean.status == 0 && clean.stdout.isEmpty, "\(clean.stdout)\(clean.stderr)")

        // The operator's own settings, a loosened spool and an edited unit.
        let config = "\(root)/etc/sealdrop/sealdropd.yaml", unit = "\(root)/etc/systemd/system/sealdropd.service"
        let operatorConfig = Data("listen: 127.0.0.1:7700\nsigned-recipients: /etc/sealdrop/recipients.signed\n".utf8)
        try operatorConfig.write(to: URL(fileURLWithPath: config))
        #expect(chmod("\(root)/var/lib/sealdrop", 0o755) == 0)
        try Data((try String(contentsOfFile: unit, encoding: .utf8) + "ExecStartPre=/bin/true\n").utf8).write(to: URL(fileURLWithPath: unit))
        let dirty = try runProcess(script, ["--root", root, "--binary", binary, "--check"])
        print("Scripts/install --root TMP --check (after chmod 755 and an edit): exit \(dirty.status)\n\(dirty.stdout)", terminator: "")
        #expect(dirty.status == 1)
        #expect(dirty.stdout == """
            \(root)/var/lib/sealdrop: mode 755, expected 700
            \(root)/etc/systemd/system/sealdropd.service: content differs from \(Self.shipped("Config/sealdropd.service"))

            """)

        let again = try runProcess(script, ["--root", root, "--binary", binary])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("fixed \(root)/var/lib/sealdrop (was directory 755 \(me))"), "\(again.stdout)")
        #expect(again.stdout.contains("installed \(unit)"))
        #expect(!again.stdout.contains("installed \(config)"))
        let fixed = try runProcess(script, ["--root", root, "--binary", binary, "--check"])
        #expect(fixed.status == 0 && fixed.stdout.isEmpty, "\(fixed.stdout)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: config)) == operatorConfig)

        // Refusals: the error and the hint, and a non-zero exit.
        let missing = try runProcess(script, ["--root", dir.file("nowhere")])
        #expect(missing.status == 2)
        #expect(missing.stderr == "install: error: \(dir.file("nowhere")) is not a folder\ninstall: hint: create it first (mkdir -p \(dir.file("nowhere")))\n")
        let badBinary = try runProcess(script, ["--root", root, "--binary", dir.file("no-such-binary")])
        #expect(badBinary.status == 2 && badBinary.stderr.hasPrefix("install: error: ") && badBinary.stderr.contains("\ninstall: hint: "))
    }
}

/// A daemon started through a launcher (`prlimit`, `setpriv`, `strace`), its standard error
/// collected as it runs.
final class LaunchedDaemon: @unchecked Sendable {
    let process = Process()
    private(set) var port = 0
    private let output = CollectedText()

    /// Runs `command` (a launcher and its arguments, ending with sealdropd's) and waits until
    /// the daemon prints `listening on`.
    init(_ command: [String]) throws {
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let handle = pipe.fileHandleForReading, collected = output
        Thread {
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                collected.append(String(decoding: data, as: UTF8.self))
            }
        }.start()
        let deadline = Date().addingTimeInterval(60)
        var found: Int?
        while found == nil && Date() < deadline && process.isRunning {
            found = stderr.split(separator: "\n").first { $0.hasPrefix("listening on ") }.flatMap { $0.split(separator: ":").last }.flatMap { Int($0) }
            if found == nil { Thread.sleep(forTimeInterval: 0.02) }
        }
        guard let found else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            throw TestSupportError.commandFailed("sealdropd did not start: \(stderr)")
        }
        port = found
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

    var stderr: String { output.text }

    /// The pid of the launcher's child (for a launcher that does not exec, such as strace).
    func childPID() -> Int32? {
        let children = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/task/\(process.processIdentifier)/children", encoding: .utf8)) ?? ""
        return children.split(separator: " ").first.flatMap { Int32($0) }
    }

    func waitFor(_ text: String, timeout: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if stderr.contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }

    /// Uploads `content` with `nc` (PUT); returns the receipt.
    func put(_ content: Data, name: String) throws -> String {
        try putSampling(content, name: name) { 0 }.receipt
    }

    /// Uploads `content` with `nc` (PUT), stopping half-way for a moment to call `sample`
    /// repeatedly; returns the largest sample and the receipt.
    func putSampling(_ content: Data, name: String, sample: () throws -> Int) throws -> (sample: Int, receipt: String) {
        let nc = Process()
        nc.executableURL = URL(fileURLWithPath: "/usr/bin/nc")
        nc.arguments = ["-N", "127.0.0.1", "\(port)"]
        let input = Pipe(), reply = Pipe()
        nc.standardInput = input
        nc.standardOutput = reply
        nc.standardError = FileHandle.nullDevice
        try nc.run()
        let half = content.count / 2
        try input.fileHandleForWriting.write(contentsOf: Data("SEALDROP/1 PUT \(content.count)\nName: \(name)\n\n".utf8) + content.prefix(half))
        var largest = 0
        let until = Date().addingTimeInterval(1)
        while Date() < until {
            largest = max(largest, try sample())
            Thread.sleep(forTimeInterval: 0.02)
        }
        try input.fileHandleForWriting.write(contentsOf: content.suffix(from: half))
        try input.fileHandleForWriting.close()
        let line = String(decoding: reply.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        nc.waitUntilExit()
        guard line.hasPrefix("OK ") else { throw TestSupportError.commandFailed("upload refused: \(line); \(stderr)") }
        return (largest, String(line.dropFirst(3)))
    }

    /// SIGTERM, and wait.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
}
