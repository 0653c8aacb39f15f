import ArgumentParser
import Foundation
import SealDropCLISupport
import SealDropKeyholder

struct Shell: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run several commands with keys unlocked once, locked again when idle.",
        discussion: """
        Reads keyholder commands, one per line, without the word 'keyholder' (list, show ID, \
        decrypt --out DIR ID, …), and runs them in this process. A key is asked for the first \
        time a command needs it and kept, in guarded memory, for the commands after it: no key \
        is ever written to disk. After --idle-lock minutes without a command (default 5) every \
        key is forgotten (zeroed) and the next command asks again; 'lock' forgets them at once, \
        'exit' (or Ctrl-D) ends the shell and forgets them too. Quoting follows the shell's \
        basic rules ('…', "…", \\). Lines typed are kept nowhere: there is no history file. \
        Commands that make or destroy keys (keygen, rotate, retire, sign-recipients) work as \
        they do outside the shell.

        Example:
          keyholder shell
          keyholder> list
          keyholder> show 7kq2
          keyholder> decrypt --out ~/opened 7kq2
          keyholder> exit

        Exit status: 0 when the shell ended; 64 for a usage error.
        """
    )

    @Option(help: ArgumentHelp("Minutes without a command after which the keys are forgotten.", valueName: "minutes"))
    var idleLock: Double = 5

    func validate() throws {
        guard idleLock > 0, idleLock <= 24 * 60 else { throw ValidationError("--idle-lock takes 0 < minutes <= 1440") }
    }

    func run() throws {
        let session = KeySession()
        KeySession.current = session
        defer {
            session.lock()
            KeySession.current = nil
        }
        let interactive = isTerminal(0)
        if interactive {
            printLine("keyholder shell: keys stay unlocked between commands and are forgotten after \(formatMinutes(idleLock)) idle; 'help', 'lock', 'exit'.")
        }
        var reader = LineReader(fd: 0)
        while true {
            if interactive { prompt() }
            guard let line = try waitForLine(&reader, session: session, interactive: interactive) else { break }
            let words: [String]
            do { words = try splitCommandLine(line) } catch {
                diagnostics.report(error)
                continue
            }
            guard let first = words.first else { continue }
            switch first {
            case "exit", "quit":
                return
            case "lock":
                session.lock()
                printLine("keys forgotten")
                continue
            case "help":
                printLine(Keyholder.helpMessage())
                printLine("In the shell: 'lock' forgets the unlocked keys, 'exit' ends the shell.")
                continue
            case "keyholder":
                diagnostics.note("type commands without 'keyholder' (e.g. 'list')")
                continue
            default:
                runCommand(words)
            }
        }
    }

    private func prompt() {
        writeStandardOutput("keyholder> ")
    }

    /// Waits for the next line, locking the session when idle for `idleLock` minutes. Nil at
    /// the end of input.
    private func waitForLine(_ reader: inout LineReader, session: KeySession, interactive: Bool) throws -> String? {
        let idle = Int32(min(Double(Int32.max), idleLock * 60_000))
        while true {
            if reader.hasLine { return reader.nextLine() }
            var poller = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, session.unlockedCount > 0 ? idle : -1)
            if ready == 0 {
                session.lock()
                if interactive { writeStandardOutput("\n") }
                printLine("locked: the keys were forgotten after \(formatMinutes(idleLock)) without a command")
                if interactive { prompt() }
                continue
            }
            if ready < 0 {
                if errno == EINTR { continue }
                throw CLIError("cannot read commands: \(errnoText())")
            }
            guard reader.fill() else {
                if interactive { writeStandardOutput("\n") }
                return reader.hasLine ? reader.nextLine() : nil
            }
        }
    }

    private func runCommand(_ words: [String]) {
        do {
            var command = try Keyholder.parseAsRoot(words)
            guard !(command is Shell) else {
                diagnostics.note("the shell is already running")
                return
            }
            try command.run()
        } catch let code as ExitCode {
            if code != .success { diagnostics.note("(exit status \(code.rawValue))") }
        } catch {
            let message = Keyholder.fullMessage(for: error)
            let status = Keyholder.exitCode(for: error)
            if !message.isEmpty {
                if status == .success { printLine(message) } else { diagnostics.note(message) }
            }
        }
        flushStandardOutput()
    }
}

private func formatMinutes(_ minutes: Double) -> String {
    minutes == minutes.rounded() ? "\(Int(minutes)) minute\(minutes == 1 ? "" : "s")" : "\(minutes) minutes"
}

private func writeStandardOutput(_ text: String) {
    print(text, terminator: "")
    flushStandardOutput()
}

/// Reads lines from a descriptor without buffering past what it returns (so nothing typed for a
/// passphrase prompt on the same terminal is swallowed: prompts read `/dev/tty` themselves).
struct LineReader {
    let fd: Int32
    private var pending: [UInt8] = []
    /// The longest line kept; the rest of a longer one is dropped.
    static let maximumLength = 64 * 1024

    init(fd: Int32) { self.fd = fd }

    var hasLine: Bool { pending.contains(UInt8(ascii: "\n")) }

    /// Reads what is available; false at the end of input.
    mutating func fill() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else {
            if !pending.isEmpty { pending.append(UInt8(ascii: "\n")) }
            return false
        }
        pending += buffer[0..<n]
        if pending.count > Self.maximumLength * 2 { pending.removeFirst(pending.count - Self.maximumLength * 2) }
        return true
    }

    mutating func nextLine() -> String? {
        guard let end = pending.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let line = pending[..<end].prefix(Self.maximumLength)
        pending.removeFirst(end + 1)
        var text = String(decoding: line, as: UTF8.self)
        if text.hasSuffix("\r") { text.removeLast() }
        return text
    }
}

/// Splits a command line as a POSIX shell would for plain words: white space separates words;
/// '…' keeps everything literally; "…" keeps everything but \" and \\; \ outside quotes escapes
/// the next character. No variables, globs or other expansions.
func splitCommandLine(_ line: String) throws(CLIError) -> [String] {
    var words: [String] = []
    var current = ""
    var inWord = false
    var iterator = line.makeIterator()
    while let character = iterator.next() {
        switch character {
        case " ", "\t":
            if inWord { words.append(current); current = ""; inWord = false }
        case "'":
            inWord = true
            var closed = false
            while let next = iterator.next() {
                if next == "'" { closed = true; break }
                current.append(next)
            }
            guard closed else { throw CLIError("a ' is not closed", hint: "close the quote") }
        case "\"":
            inWord = true
            var closed = false
            while let next = iterator.next() {
                if next == "\"" { closed = true; break }
                if next == "\\", let escaped = iterator.next() {
                    if escaped != "\"" && escaped != "\\" { current.append("\\") }
                    current.append(escaped)
                    continue
                }
                current.append(next)
            }
            guard closed else { throw CLIError("a \" is not closed", hint: "close the quote") }
        case "\\":
            inWord = true
            if let next = iterator.next() { current.append(next) }
        default:
            inWord = true
            current.append(character)
        }
    }
    if inWord { words.append(current) }
    return words
}
