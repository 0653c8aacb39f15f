#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure a person can act on: what went wrong, and what to do about it. Commands print it
/// as `tool: error: …` followed by `tool: hint: …`, as age does.
public struct CLIError: Error, Sendable, CustomStringConvertible {
    /// What failed, lowercase, naming the thing that failed.
    public let message: String
    /// What to do next; nil when there is nothing useful to say.
    public let hint: String?

    /// Creates an error with an optional hint.
    public init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }

    public var description: String { message }
}

/// Writes diagnostics to standard error, prefixed with the tool's name.
public struct Diagnostics: Sendable {
    /// The program name printed before every line (`keyholder`, `sealdrop`, `sealdropd`).
    public let tool: String

    /// Diagnostics for `tool`.
    public init(tool: String) { self.tool = tool }

    /// Prints `tool: error: message` and, if any, `tool: hint: hint`.
    public func report(_ error: CLIError) {
        printError("\(tool): error: \(error.message)")
        if let hint = error.hint { printError("\(tool): hint: \(hint)") }
    }

    /// Prints `tool: warning: message`.
    public func warn(_ message: String) {
        printError("\(tool): warning: \(message)")
    }

    /// Prints an informational line (`tool: message`).
    public func note(_ message: String) {
        printError("\(tool): \(message)")
    }
}

/// Writes one line to standard error, unbuffered.
public func printError(_ line: String) {
    writeToStandardError(line + "\n")
}

/// Flushes buffered standard output (what `print` wrote), so lines appear as work proceeds.
public func flushStandardOutput() { fflush(nil) }

/// Whether standard output (1) or standard error (2) is a terminal.
public func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }
