import Foundation
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropStore
import SealDropTestSupport
import Testing

/// The real `sealdropd`, started for a test: its standard error is collected as it runs.
final class RunningDaemon: @unchecked Sendable {
    let process = Process()
    private(set) var port = 0
    private let output = CollectedText()

    /// Starts `sealdropd` with `arguments` (add `--listen 127.0.0.1:0`) and waits until it listens.
    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: TestBinaries.path("sealdropd"))
        process.arguments = arguments
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let handle = pipe.fileHandleForReading
        let collected = output
        let thread = Thread {
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                collected.append(String(decoding: data, as: UTF8.self))
            }
        }
        thread.start()
        let deadline = Date().addingTimeInterval(60)
        var found: Int?
        while found == nil && Date() < deadline && process.isRunning {
            found = stderr.split(separator: "\n").first { $0.hasPrefix("listening on ") }.flatMap { $0.split(separator: ":").last }.flatMap { Int($0) }
            if found == nil { Thread.sleep(forTimeInterval: 0.02) }
        }
        guard let found else { throw TestSupportError.commandFailed("sealdropd did not start: \(stderr)") }
        port = found
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

    /// What it wrote on standard error so far.
    var stderr: String { output.text }

    /// Uploads `content` with `nc`, as a source's shell would; returns the receipt.
    func put(_ content: Data, name: String) throws -> String {
        let request = Data("SEALDROP/1 PUT \(content.count)\nName: \(name)\n\n".utf8) + content
        let reply = try runProcess("/usr/bin/nc", ["-N", "127.0.0.1", "\(port)"], stdin: request)
        let line = reply.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard line.hasPrefix("OK ") else { throw TestSupportError.commandFailed("upload refused: \(line) \(reply.stderr)") }
        return String(line.dropFirst(3))
    }

    /// Waits until standard error has shown `text` `count` times.
    func waitFor(_ text: String, count: Int = 1, timeout: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if stderr.components(separatedBy: text).count - 1 >= count { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }

    /// Stops it with SIGTERM and waits.
    func stop() {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
}

/// Text gathered by a reading thread.
final class CollectedText: @unchecked Sendable {
    private let lock = NSLock()
    private var value = ""
    func append(_ more: String) { lock.lock(); value += more; lock.unlock() }
    var text: String { lock.lock(); defer { lock.unlock() }; return value }
}

/// The README's rotation runbook, followed step by step through the real binaries: a daemon on
/// loopback, media copied from its spool, and a keyholder that rotates, re-keys and destroys
/// the old key. Following the commands cannot lose a submission: at the end every one of them,
/// including those the server still holds sealed to the old key, opens.
@Suite("The rotation runbook")
struct RunbookTests {
    @Test("rotate, reload, import, rekey, retire, and later imports: every submission stays readable")
    func runbook() throws {
        let home = try TemporaryDirectory("runbook")
        let environment = Harness.environment(home: home.path)
        func keyholder(_ arguments: [String]) throws -> ProcessResult {
            let result = try Harness.keyholder(arguments, environment: environment)
            #expect(result.status == 0, "keyholder \(arguments.joined(separator: " ")): \(result.stderr)")
            return result
        }
        let pass = home.file("pass")
        try Data((TestKey.passphrase + "\n").utf8).write(to: URL(fileURLWithPath: pass))
        let alice = try PublicKey(text: String(try keyholder(["keygen", "--output", home.file(".sealdrop/keys/alice.key"), "--passphrase-file", pass]).stdout.split(separator: "\n").last!))

        // The server: a spool and a recipients file naming alice's key.
        let spool = home.file("spool"), recipients = home.file("recipients")
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try Data("# the newsroom's keys\n\(alice.text)\n".utf8).write(to: URL(fileURLWithPath: recipients))
        let daemon = try RunningDaemon(["--listen", "127.0.0.1:0", "--spool", spool, "--recipients-file", recipients,
                                        "--free-disk-reserve", "0", "--recipients-poll", "1h"])
        var sent: [String: Data] = [:]
        for index in 0..<3 {
            let content = Data(testBytes(count: 10_000 * (index + 1)))
            sent[try daemon.put(content, name: "before-\(index).bin")] = content
        }
        // Every day: the operator copies the spool to a medium; the keyholder imports it.
        func copySpoolToMedium(_ name: String) throws -> String {
            let medium = home.file(name)
            #expect(try runProcess("/bin/cp", ["-a", spool, medium]).status == 0)
            return medium
        }
        _ = try keyholder(["import", "--passphrase-file", pass, try copySpoolToMedium("usb-1")])

        // 1. keyholder rotate: the exact line to remove and the line to add.
        let rotate = try keyholder(["rotate", "--passphrase-file", pass]).stdout.split(separator: "\n").map(String.init)
        let removeIndex = try #require(rotate.firstIndex { $0.contains("remove the line") })
        let oldLine = rotate[removeIndex + 1].replacingOccurrences(of: "#   ", with: "")
        let newLine = try #require(rotate.last)
        #expect(oldLine == alice.text)
        let bob = try PublicKey(text: newLine)

        // 2. The operator edits the recipients file as printed and reloads the daemon.
        let edited = try String(contentsOfFile: recipients, encoding: .utf8).replacingOccurrences(of: oldLine, with: newLine)
        try Data(edited.utf8).write(to: URL(fileURLWithPath: recipients))
        kill(daemon.process.processIdentifier, SIGHUP)
        #expect(daemon.waitFor("recipients reloaded"), "\(daemon.stderr)")
        for index in 0..<2 {
            let content = Data(testBytes(count: 5_000 + index))
            sent[try daemon.put(content, name: "after-\(index).bin")] = content
        }

        // 3. The next medium: the three old submissions (still sealed to the old key on the
        // server) and the two new ones.
        let second = try keyholder(["import", "--passphrase-file", pass, try copySpoolToMedium("usb-2")])
        #expect(second.stdout.components(separatedBy: "already archived").count - 1 == 3, "\(second.stdout)")
        #expect(second.stdout.components(separatedBy: "imported (ok)").count - 1 == 2)

        // 4. Re-key the archive; 5. destroy the old key once nothing needs it.
        let rekey = try keyholder(["rekey", "--passphrase-file", pass, "--to", newLine, "--all"])
        #expect(rekey.stdout.components(separatedBy: "re-keyed to key ID \(bob.keyID)").count - 1 == 3)
        let retire = try keyholder(["retire", "--destroy", alice.keyID.description, "--confirm", alice.keyID.description])
        #expect(retire.stdout.contains("destroyed key ID \(alice.keyID)"))

        // Later: more submissions, and the server still holds the old ones sealed to the old key.
        let late = Data(testBytes(count: 777))
        sent[try daemon.put(late, name: "late.bin")] = late
        let third = try keyholder(["import", "--passphrase-file", pass, try copySpoolToMedium("usb-3")])
        #expect(third.stdout.components(separatedBy: "already archived, re-keyed").count - 1 == 3, "\(third.stdout)")
        daemon.stop()

        // Every submission ever acknowledged opens, byte for byte.
        let out = home.file("opened")
        let decrypt = try keyholder(["decrypt", "--passphrase-file", pass, "--out", out, "--all"])
        #expect(decrypt.stdout.split(separator: "\n").count == sent.count)
        for (receipt, content) in sent {
            let about = try #require(try FileManager.default.contentsOfDirectory(atPath: out).first { name in
                name.hasSuffix(".about.txt") && ((try? String(contentsOfFile: "\(out)/\(name)", encoding: .utf8))?.hasPrefix("SealDrop submission \(receipt)\n") ?? false)
            })
            let name = String(about.dropLast(".about.txt".count))
            #expect(try Data(contentsOf: URL(fileURLWithPath: "\(out)/\(name)")) == content, "\(receipt)")
        }
        let keys = try keyholder(["keys"]).stdout
        #expect(keys.split(separator: "\n").count == 1 && keys.contains("current"))
    }
}
