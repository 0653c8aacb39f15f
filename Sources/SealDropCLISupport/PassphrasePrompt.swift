#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import SealDropCrypto
import SealDropKeys

/// Where passphrases come from: a passphrase file (`--passphrase-file`), else the terminal
/// without echo. Never from an argument or the environment, which other users can read.
public enum PassphraseInput {
    /// The longest passphrase, in bytes, from a terminal or a file alike: a key made with a
    /// passphrase from a file can always be unlocked by typing it.
    public static let maxBytes = 1023

    /// The first line of `path`, newline stripped; empty, or longer than ``maxBytes``, is refused.
    public static func fromFile(_ path: String) throws(CLIError) -> SecureBytes {
        var contents = try readSmallFile(path, limit: 64 * 1024)
        defer { secureZero(&contents) }
        let passphrase: SecureBytes
        do {
            passphrase = try contents.withUnsafeBytes { bytes throws(PassphraseError) in try Passphrase.fromFileContents(bytes) }
        } catch {
            throw CLIError("the passphrase file \(path) starts with an empty line", hint: "put the passphrase on the first line")
        }
        guard passphrase.count <= maxBytes else {
            throw CLIError("the passphrase in \(path) is longer than \(maxBytes) bytes", hint: "use a shorter passphrase; six words are enough")
        }
        return passphrase
    }

    /// Asks on the terminal (`/dev/tty`) without echo. An empty answer is refused.
    public static func fromTerminal(prompt: String) throws(CLIError) -> SecureBytes {
        let tty = try openTerminal()
        defer { close(tty) }
        let answer = try ask(tty: tty, prompt: prompt)
        guard answer.count > 0 else { throw CLIError("an empty passphrase protects nothing", hint: "choose a long passphrase") }
        return answer
    }

    /// Writes `text` and then `secret` and a newline on the terminal (`/dev/tty`), never on
    /// standard output or error, which may be a file or a log.
    public static func showOnTerminal(_ text: String, secret: SecureBytes) throws(CLIError) {
        let tty = try openTerminal()
        defer { close(tty) }
        _ = text.withCString { write(tty, $0, strlen($0)) }
        _ = secret.withUnsafeBytes { write(tty, $0.baseAddress, $0.count) }
        _ = write(tty, "\n", 1)
    }

    /// Asks a question on the terminal (`/dev/tty`) and reads the answer with echo on: for
    /// confirmations, never for secrets.
    public static func readLineOnTerminal(prompt: String) throws(CLIError) -> String {
        let tty = try openTerminal()
        defer { close(tty) }
        _ = prompt.withCString { write(tty, $0, strlen($0)) }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while read(tty, &byte, 1) == 1, byte != UInt8(ascii: "\n") {
            if line.count < 1024 { line.append(byte) }
        }
        return String(decoding: line, as: UTF8.self)
    }

    /// Writes a line of text on the terminal (`/dev/tty`), for questions and their answers.
    public static func sayOnTerminal(_ line: String) throws(CLIError) {
        let tty = try openTerminal()
        defer { close(tty) }
        let text = line + "\n"
        _ = text.withCString { write(tty, $0, strlen($0)) }
    }

    private static func openTerminal() throws(CLIError) -> Int32 {
        let tty = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard tty >= 0 else {
            throw CLIError("no terminal to ask for the passphrase", hint: "use --passphrase-file FILE (the passphrase is its first line)")
        }
        return tty
    }

    private static func ask(tty: Int32, prompt: String) throws(CLIError) -> SecureBytes {
        var original = termios()
        guard tcgetattr(tty, &original) == 0 else { throw CLIError("cannot read from the terminal: \(errnoText())") }
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        silent.c_lflag |= tcflag_t(ECHONL)
        // Echo goes off before the prompt appears, so nothing typed after it can be echoed
        // (or discarded by the flush).
        tcsetattr(tty, TCSAFLUSH, &silent)
        defer { tcsetattr(tty, TCSAFLUSH, &original) }
        _ = prompt.withCString { write(tty, $0, strlen($0)) }
        // One byte more than a passphrase may have, and the line end's CR.
        let line = SecureBytes(count: PassphraseInput.maxBytes + 2)
        var length = 0, overlong = false
        var byte: UInt8 = 0
        while read(tty, &byte, 1) == 1, byte != UInt8(ascii: "\n") {
            if length < line.count { line.withUnsafeMutableBytes { $0[length] = byte }; length += 1 } else { overlong = true }
        }
        byte = 0
        if length > 0, line.withUnsafeBytes({ $0[length - 1] }) == UInt8(ascii: "\r") { length -= 1 }
        guard !overlong, length <= PassphraseInput.maxBytes else {
            line.zero()
            throw CLIError("the passphrase is longer than \(PassphraseInput.maxBytes) bytes", hint: "use a shorter passphrase; six words are enough")
        }
        let result = line.withUnsafeBytes { SecureBytes(copying: UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
        return result
    }
}
