import Foundation
import SealDropCrypto
import SealDropKeys
import SealDropTestSupport
import Testing

/// A drop for `sealdrop send` tests: a keyholder's key, the newsroom's signing key, a signed
/// recipients list, and the real `sealdropd` serving it on a loopback port.
final class SendDrop {
    let dir: TemporaryDirectory
    let key: TestKey
    let signing = SigningSecretKey.generate()
    let spool: String
    private(set) var daemon: RunningDaemon
    private let arguments: [String]

    /// `unsigned`: the daemon serves a plain recipients document (`--recipient`), no signed list.
    init(unsigned: Bool = false, daemonArguments: [String] = []) throws {
        dir = try TemporaryDirectory("send")
        key = try TestKey.make(in: dir)
        spool = dir.file("spool")
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        var arguments = ["--listen", "127.0.0.1:0", "--spool", spool] + daemonArguments
        if unsigned {
            arguments += ["--recipient", key.publicKeyText]
        } else {
            let list = try SignedRecipients.sign(recipients: [PublicKey(text: key.publicKeyText)], serial: 1, with: signing)
            try Data(list.text.utf8).write(to: URL(fileURLWithPath: dir.file("list")))
            arguments += ["--signed-recipients", dir.file("list"), "--signing-key", signing.publicKey.text]
        }
        self.arguments = arguments
        daemon = try RunningDaemon(arguments)
    }

    /// Kills the daemon with SIGKILL (no chance to sync or record anything) and starts it again
    /// on the same port and spool.
    func killAndRestartDaemon() throws {
        let port = daemon.port
        kill(daemon.process.processIdentifier, SIGKILL)
        daemon.process.waitUntilExit()
        daemon = try RunningDaemon(arguments.map { $0 == "127.0.0.1:0" ? "127.0.0.1:\(port)" : $0 })
    }

    /// The drop address, pinning `pinned` (by default the newsroom's signing key), at `port`
    /// (by default the daemon's).
    func address(pinning pinned: SigningPublicKey? = nil, port: Int? = nil) throws -> String {
        try DropAddress(host: .loopback([127, 0, 0, 1]), port: UInt16(port ?? daemon.port), signingKey: pinned ?? signing.publicKey).text
    }

    /// The names in the inbox and in the temporary area (uploads in progress or abandoned).
    func stored() -> [String] {
        ["inbox", "tmp"].flatMap { (try? FileManager.default.contentsOfDirectory(atPath: "\(spool)/\($0)")) ?? [] }
    }

    /// Whether `needle` appears in any file under the spool.
    func spoolContains(_ needle: Data) -> Bool {
        let walker = FileManager.default.enumerator(atPath: spool)!
        return walker.compactMap { $0 as? String }.contains { name in
            (try? Data(contentsOf: URL(fileURLWithPath: "\(spool)/\(name)")))?.range(of: needle) != nil
        }
    }

    /// Decrypts the submission with `receipt`; returns the output file's bytes and its about text.
    func open(_ receipt: String, expecting name: String) throws -> (content: Data, about: String) {
        let out = dir.file("opened-\(receipt)")
        let result = try Harness.keyholder(["decrypt", "--key", key.keyPath, "--passphrase-file", key.passphrasePath,
                                            "--out", out, "\(spool)/inbox/\(receipt).sealdrop"])
        guard result.status == 0 else { throw TestSupportError.commandFailed("decrypt: \(result.stderr)") }
        return (try Data(contentsOf: URL(fileURLWithPath: "\(out)/\(name)")),
                try String(contentsOfFile: "\(out)/\(name).about.txt", encoding: .utf8))
    }
}

/// Runs the `sealdrop` binary with `environment` added to this process's (and
/// `SEALDROP_PROXY` removed unless given).
func sendCommand(_ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:],
                 wrapper: [String] = []) throws -> ProcessResult {
    var merged = ProcessInfo.processInfo.environment
    merged["SEALDROP_PROXY"] = nil
    for (name, value) in environment { merged[name] = value }
    let command = wrapper + [TestBinaries.path("sealdrop")] + arguments
    return try runProcess(command[0], Array(command.dropFirst()), stdin: stdin, environment: SealDropTestSupport.environment(merged, under: wrapper))
}

/// Waits until something accepts connections on a loopback port.
func waitForListener(port: Int, timeout: Double = 20) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        close(fd)
        if connected { return true }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return false
}

/// A background program started for a test (a SOCKS server, a recorder), stopped when released.
/// Started with `posix_spawn`, not Foundation's `Process`: dante closes the descriptors it
/// inherits, which makes `Process` wait for its exit on the thread that reaps every other child.
final class BackgroundProgram: @unchecked Sendable {
    private(set) var pid: pid_t = 0

    init(_ executable: String, _ arguments: [String], stdoutTo output: String? = nil, stderrTo path: String? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, path ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // The test runner's threads block signals; the program gets an empty mask and default actions.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([executable] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv + [nil], environ)
        guard status == 0 else { throw TestSupportError.commandFailed("cannot start \(executable): \(String(cString: strerror(status)))") }
    }

    private var exited = false

    /// Waits up to `timeout` seconds for the program to end; its exit status (128 + the signal
    /// if a signal ended it), or nil if it still runs.
    func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while Date() < deadline {
            if waitpid(pid, &status, WNOHANG) == pid {
                exited = true
                return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            }
            usleep(20_000)
        }
        return nil
    }

    deinit {
        guard !exited else { return }
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<100 where waitpid(pid, &status, WNOHANG) == 0 { usleep(20_000) }
        if kill(pid, 0) == 0 {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
        }
    }
}

/// Debian's dante-server on a loopback port, requiring username/password authentication
/// (RFC 1929). Its PAM service (`/etc/pam.d/sealdrop-socks-test`, made by Scripts/ensure-deps)
/// accepts any pair, as Tor does, and its log names the user of every connection.
final class DanteProxy {
    let port: Int
    let log: String
    private let program: BackgroundProgram

    init(in dir: TemporaryDirectory) throws {
        port = try freePort()
        log = dir.file("danted.log")
        let config = """
        logoutput: \(log)
        internal: 127.0.0.1 port = \(port)
        external: 127.0.0.1
        socksmethod: pam.username
        clientmethod: none
        user.privileged: root
        user.unprivileged: nobody
        client pass {
          from: 127.0.0.0/8 to: 0.0.0.0/0
          log: connect disconnect error
        }
        socks pass {
          from: 127.0.0.0/8 to: 0.0.0.0/0
          command: connect
          pam.servicename: sealdrop-socks-test
          log: connect disconnect error
        }

        """
        try Data(config.utf8).write(to: URL(fileURLWithPath: dir.file("danted.conf")))
        program = try BackgroundProgram("/usr/sbin/danted", ["-f", dir.file("danted.conf"), "-p", dir.file("danted.pid")])
        guard waitForListener(port: port) else { throw TestSupportError.commandFailed("danted did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")") }
    }

    /// The usernames of the connections dante let through, in order.
    func users() throws -> [String] {
        let text = try String(contentsOfFile: log, encoding: .utf8)
        return text.split(separator: "\n").filter { $0.contains("tcp/connect [") }.compactMap { line in
            guard let start = line.range(of: "pam.username%"), let end = line[start.upperBound...].firstIndex(of: "@") else { return nil }
            return String(line[start.upperBound..<end])
        }
    }
}

/// socat between the client and a proxy, dumping every byte the client sends (`-x`), to see
/// the SOCKS handshake exactly as it went over the wire.
final class WireRecorder {
    let port: Int
    let dump: String
    private let program: BackgroundProgram

    init(to target: Int, in dir: TemporaryDirectory) throws {
        port = try freePort()
        dump = dir.file("wire-\(port).txt")
        program = try BackgroundProgram("/usr/bin/socat", ["-x", "TCP-LISTEN:\(port),bind=127.0.0.1,reuseaddr,fork", "TCP:127.0.0.1:\(target)"], stderrTo: dump)
        guard waitForListener(port: port) else { throw TestSupportError.commandFailed("socat did not start") }
    }

    /// Every byte the client sent, in order (socat's `>` blocks).
    func clientBytes() throws -> [UInt8] {
        let text = try String(contentsOfFile: dump, encoding: .utf8)
        var bytes: [UInt8] = []
        var fromClient = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(">") { fromClient = true; continue }
            if line.hasPrefix("<") { fromClient = false; continue }
            guard fromClient, line.hasPrefix(" ") else { continue }
            bytes += line.split(separator: " ").compactMap { $0.count == 2 ? UInt8($0, radix: 16) : nil }
        }
        return bytes
    }
}

/// A drop that is not one: answers every `KEYS` with a canned reply and records what it received.
final class FakeDrop: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    /// What arrived, shared with the accepting thread (which must not hold the drop itself, or
    /// the drop could never be released and its listener closed).
    private final class Received: @unchecked Sendable {
        let lock = NSLock()
        var requests: [Data] = []
    }
    private let store = Received()

    init(reply: Data) throws {
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listener = self.listener
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 && listen(listener, 8) == 0
            }
        }
        guard ok else { throw TestSupportError.commandFailed("fake drop: \(String(cString: strerror(errno)))") }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [store] in
            while true {
                let connection = accept(listener, nil, nil)
                if connection < 0 { return }
                var request = Data()
                var buffer = [UInt8](repeating: 0, count: 4096)
                // Reads until the head's empty line, as the real daemon does for KEYS.
                while request.range(of: Data("\n\n".utf8)) == nil {
                    let n = read(connection, &buffer, buffer.count)
                    if n <= 0 { break }
                    request.append(contentsOf: buffer[..<n])
                }
                store.lock.lock(); store.requests.append(request); store.lock.unlock()
                _ = reply.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
                shutdown(connection, Int32(SHUT_WR))
                // Whatever else arrives is recorded too.
                while true {
                    let n = read(connection, &buffer, buffer.count)
                    if n <= 0 { break }
                    store.lock.lock(); store.requests[store.requests.count - 1].append(contentsOf: buffer[..<n]); store.lock.unlock()
                }
                close(connection)
            }
        }.start()
    }

    deinit { shutdown(listener, Int32(SHUT_RDWR)); close(listener) }

    /// What each connection sent.
    var received: [Data] { store.lock.lock(); defer { store.lock.unlock() }; return store.requests }
}

/// Whether `haystack` contains `needle` as a contiguous run.
func containsRun(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard needle.count <= haystack.count else { return false }
    return (0...(haystack.count - needle.count)).contains { haystack[$0..<$0 + needle.count].elementsEqual(needle) }
}
