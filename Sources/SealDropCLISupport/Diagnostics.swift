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

/// Writes diagnostics to standard error, prefixed with the tool's name. This is the one place
/// where messages are made safe for a terminal: paths and names in them come from the file
/// system or from sources, so every line is passed through ``escapeForDisplay(_:)`` here, and
/// messages are built from raw text.
public struct Diagnostics: Sendable {
    /// The program name printed before every line (`keyholder`, `sealdrop`, `sealdropd`).
    public let tool: String

    /// Diagnostics for `tool`.
    public init(tool: String) { self.tool = tool }

    /// Prints `tool: error: message` and, if any, `tool: hint: hint`.
    public func report(_ error: CLIError) {
        printError("\(tool): error: \(escapeForDisplay(error.message))")
        if let hint = error.hint { printError("\(tool): hint: \(escapeForDisplay(hint))") }
    }

    /// Prints `tool: warning: message`.
    public func warn(_ message: String) {
        printError("\(tool): warning: \(escapeForDisplay(message))")
    }

    /// Prints an informational line (`tool: message`).
    public func note(_ message: String) {
        printError("\(tool): \(escapeForDisplay(message))")
    }
}

/// Prints one line of a command's output on standard output, escaped for display (see
/// ``escapeForDisplay(_:)``): the one place where output lines are made safe for a terminal.
/// JSON goes through ``jsonLine(_:)`` instead.
public func printLine(_ line: String) {
    print(escapeForDisplay(line))
}

/// Writes one line to standard error, unbuffered.
public func printError(_ line: String) {
    writeToStandardError(line + "\n")
}

/// Flushes buffered standard output (what `print` wrote), so lines appear as work proceeds.
public func flushStandardOutput() { fflush(nil) }

/// Whether standard output (1) or standard error (2) is a terminal.
public func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }
