import Foundation
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropStore
import SealDropTestSupport
import Testing

/// Runs the real `keyholder` and `sealdrop` binaries for the keyholder tests, on copies of the
/// committed vector keys (so no test pays for a fresh Argon2id key).
enum Harness {
    static let vectorFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("SealDropFormatTests/Vectors")
    static let keyholderPath = TestBinaries.path("keyholder")
    static let sealdropPath = TestBinaries.path("sealdrop")

    /// A home folder of this test process's own, so that keyholder's defaults (the keyring in
    /// `~/.sealdrop/keys`, the archive in `~/.sealdrop/archive`) never touch the real ones.
    static let home: TemporaryDirectory = try! TemporaryDirectory("keyholder-home")

    /// The environment keyholder runs in: this process's, with `HOME` set to `home`.
    static func environment(home: String = Harness.home.path) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = home
        return environment
    }

    /// Runs keyholder in a new session without a controlling terminal (`setsid`), so it can
    /// never stop to ask for a passphrase, whoever runs the tests. `HOME` is ``home`` unless
    /// `environment` says otherwise.
    static func keyholder(_ arguments: [String], stdin: Data? = nil, currentDirectory: String? = nil,
                          environment: [String: String]? = nil) throws -> ProcessResult {
        try runProcess("/usr/bin/setsid", ["-w", keyholderPath] + arguments, stdin: stdin,
                       environment: environment ?? Harness.environment(), currentDirectory: currentDirectory)
    }

    static func sealdrop(_ arguments: [String], stdin: Data? = nil) throws -> ProcessResult {
        try runProcess(sealdropPath, arguments, stdin: stdin)
    }

    /// The committed vectors' names.
    static func vectorNames() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: vectorFolder.path).filter { $0 != "keys" }.sorted()
    }

    /// A vector's stated fields (`expect`, `keys`, `payload`, `comment`) and its submission bytes.
    static func vector(_ name: String) throws -> (fields: [String: String], body: Data) {
        let data = try Data(contentsOf: vectorFolder.appendingPathComponent(name))
        let separator = try #require(data.range(of: Data("\n\n".utf8)))
        var fields: [String: String] = [:]
        for line in String(decoding: data[..<separator.lowerBound], as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            fields[parts[0]] = parts[1]
        }
        return (fields, Data(data[separator.upperBound...]))
    }

    /// The public key of vector key `name` (`a`, `b`, `c`), read without its passphrase.
    static func publicKey(_ name: String) throws -> PublicKey {
        let text = try String(contentsOf: vectorFolder.appendingPathComponent("keys/\(name).key"), encoding: .utf8)
        return try KeyFile(text: text).publicKey
    }

    /// Whether a character that could drive a terminal (C0 but tab and newline, DEL, C1, bidi
    /// controls, line separators) occurs in `text`.
    static func hasRawControl(_ text: String) -> Bool {
        text.unicodeScalars.contains { scalar in
            let v = scalar.value
            if v == 0x0A || v == 0x09 { return false }
            return v < 0x20 || (0x7F...0x9F).contains(v) || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)
                || v == 0x2028 || v == 0x2029 || v == 0x200E || v == 0x200F
        }
    }
}

/// A scratch folder with the vector keys copied at mode 0600, their passphrase file, an inbox
/// folder and an output path (not created).
final class Workspace {
    let dir: TemporaryDirectory
    let inbox: String
    let out: String
    let passphraseFile: String

    init() throws {
        dir = try TemporaryDirectory("keyholder-test")
        inbox = dir.file("inbox")
        out = dir.file("out")
        passphraseFile = dir.file("passphrase")
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try FileManager.default.copyItem(atPath: Harness.vectorFolder.appendingPathComponent("keys/passphrase").path, toPath: passphraseFile)
        try FileManager.default.createDirectory(atPath: dir.file("keys"), withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        for name in ["a", "b", "c"] {
            try FileManager.default.copyItem(atPath: Harness.vectorFolder.appendingPathComponent("keys/\(name).key").path, toPath: key(name))
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: key(name))
        }
    }

    /// The path of the copy of vector key `name`.
    func key(_ name: String) -> String { dir.file("keys/\(name).key") }

    /// `--key` for each of `names`, and the passphrase file.
    func keyArguments(_ names: [String] = ["a"]) -> [String] {
        names.flatMap { ["--key", key($0)] } + ["--passphrase-file", passphraseFile]
    }

    /// Copies vector `name`'s submission into the inbox as `<name>.sealdrop`.
    @discardableResult
    func addVector(_ name: String) throws -> String {
        let path = (inbox as NSString).appendingPathComponent("\(name).sealdrop")
        try Harness.vector(name).body.write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Seals `content` with the real `sealdrop seal` into the inbox under a fresh submission ID.
    @discardableResult
    func seal(_ content: Data, name: String? = nil, message: String? = nil, to keys: [String] = ["a"],
              id: SubmissionID = .random()) throws -> String {
        let input = dir.file("plain-\(UUID().uuidString)")
        try content.write(to: URL(fileURLWithPath: input))
        let output = (inbox as NSString).appendingPathComponent(id.fileName)
        var arguments = ["seal", "--output", output]
        for key in keys { arguments += ["--recipient", try Harness.publicKey(key).text] }
        if let name { arguments += ["--name", name] } else { arguments.append("--no-name") }
        if let message { arguments += ["--message", message] }
        let result = try Harness.sealdrop(arguments + [input])
        guard result.status == 0 else { throw TestSupportError.commandFailed("sealdrop seal: \(result.stderr)") }
        try FileManager.default.removeItem(atPath: input)
        return output
    }

    /// Writes a submission with ``EnvelopeWriter`` directly (for metadata `sealdrop` cannot
    /// produce: a NUL in a name, a server-sealed time), into the inbox under a fresh ID.
    @discardableResult
    func write(_ content: [UInt8], metadata: Metadata, to keys: [String] = ["a"], id: SubmissionID = .random()) throws -> String {
        let writer = try EnvelopeWriter(recipients: try keys.map(Harness.publicKey), metadata: metadata)
        var bytes = writer.prefix
        content.withUnsafeBytes { buffer in writer.append(buffer) { bytes += $0 } }
        _ = try writer.finish { bytes += $0 }
        let output = (inbox as NSString).appendingPathComponent(id.fileName)
        try Data(bytes).write(to: URL(fileURLWithPath: output))
        return output
    }

    /// The decrypted files in the output folder (hidden ones included), without the
    /// `.about.txt` file written beside each; empty if the folder does not exist.
    func outputs() -> [String] {
        everything().filter { !$0.hasSuffix(".about.txt") }
    }

    /// Every entry of the output folder, hidden ones and `.about.txt` files included.
    func everything() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).sorted()
    }

    /// The bytes of output `name`.
    func output(_ name: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: (out as NSString).appendingPathComponent(name)))
    }
}

/// Whether process `pid` holds open a file being written in `folder` that has no name yet
/// (`O_TMPFILE`: /proc shows it as `folder/#inode (deleted)`) or a hidden temporary name.
func isWritingUnnamedFile(pid: Int32, in folder: String) -> Bool {
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
    return fds.contains { fd in
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)") else { return false }
        return target.hasPrefix(folder + "/") && (target.hasSuffix("(deleted)") || target.hasSuffix(".partial"))
    }
}

/// Checks every line of `stderr` is a keyholder diagnostic (`keyholder: error:`, `hint:`,
/// `warning:` or a note), so nothing else leaks onto the terminal.
func expectOnlyDiagnostics(_ stderr: String, sourceLocation: SourceLocation = #_sourceLocation) {
    for line in stderr.split(separator: "\n") {
        #expect(line.hasPrefix("keyholder: "), "unexpected stderr line: \(line)", sourceLocation: sourceLocation)
    }
}

/// What a program printed on a pseudo-terminal, and how it exited.
struct TerminalResult {
    let status: Int32
    /// Everything the terminal showed (stdout and stderr interleaved, lines end in `\r\n`).
    let output: String
}

/// Collects bytes from a reading thread.
private final class SharedBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ more: Data) { lock.lock(); data.append(more); lock.unlock() }
    var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }
}

/// Runs `arguments` on a fresh pseudo-terminal (util-linux `script`), so the program has a
/// controlling terminal and standard output and error are terminals. Each `answers` entry is
/// typed once its prompt has appeared (after the answer before it), as a person would.
func runOnTerminal(_ arguments: [String], answers: [(prompt: String, reply: String)] = [], timeout: Double = 120) throws -> TerminalResult {
    var queues: [(prompt: String, answers: [String])] = []
    for answer in answers {
        if let index = queues.firstIndex(where: { $0.prompt == answer.prompt }) {
            queues[index].answers.append(answer.reply)
        } else {
            queues.append((answer.prompt, [answer.reply]))
        }
    }
    return try converse(arguments, replies: queues, timeout: timeout)
}

/// Runs `arguments` on a fresh pseudo-terminal (util-linux `script`) and answers prompts as they
/// come, in any order and as often as they appear: each time the
/// terminal shows one of the `replies` prompts (after the last answer), the next reply queued for
/// it is typed. A prompt whose replies have run out is left unanswered.
func converse(_ arguments: [String], replies: [(prompt: String, answers: [String])], timeout: Double = 180) throws -> TerminalResult {
    try converse(arguments, computing: replies.map { reply in (reply.prompt, reply.answers.map { answer in { (_: String) in answer } }) }, timeout: timeout)
}

/// Like ``converse(_:replies:timeout:)``, with each answer computed from what the terminal has
/// shown so far (to type back something the program printed).
func converse(_ arguments: [String], computing replies: [(prompt: String, answers: [(String) -> String])], timeout: Double = 180) throws -> TerminalResult {
    func quote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
    process.arguments = ["-qefc", arguments.map(quote).joined(separator: " "), "/dev/null"]
    let input = Pipe(), output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let buffer = SharedBuffer()
    let reading = DispatchGroup()
    DispatchQueue.global().async(group: reading) {
        while true {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            buffer.append(data)
        }
    }
    var queues = replies.map { ($0.prompt, $0.answers) }
    let deadline = Date().addingTimeInterval(timeout)
    var searchFrom = 0
    while process.isRunning {
        guard Date() < deadline else {
            process.terminate()
            throw TestSupportError.commandFailed("timed out; the terminal showed: \(buffer.text.debugDescription)")
        }
        let text = buffer.text
        let start = text.index(text.startIndex, offsetBy: min(searchFrom, text.count))
        var earliest: (index: Int, range: Range<String.Index>)?
        for (index, queue) in queues.enumerated() where !queue.1.isEmpty {
            if let found = text.range(of: queue.0, range: start..<text.endIndex), found.lowerBound < (earliest?.range.lowerBound ?? text.endIndex) {
                earliest = (index, found)
            }
        }
        if let earliest {
            searchFrom = text.distance(from: text.startIndex, to: earliest.range.upperBound)
            let reply = queues[earliest.index].1.removeFirst()(text)
            try input.fileHandleForWriting.write(contentsOf: Data((reply + "\n").utf8))
        } else {
            Thread.sleep(forTimeInterval: 0.05)
        }
    }
    try? input.fileHandleForWriting.close()
    reading.wait()
    return TerminalResult(status: process.terminationStatus, output: buffer.text)
}
