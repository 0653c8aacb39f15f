/// Why the daemon refuses to start, or one of the operator's commands (`check-config`, `reload`,
/// `export`, …) fails: what is wrong and what to do about it. `sealdropd` prints them as
/// `sealdropd: error: <message>` and `sealdropd: hint: <hint>`.
public struct StartupError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public let message: String
    /// What to do about it.
    public let hint: String

    /// Creates an error.
    public init(_ message: String, hint: String) {
        self.message = message
        self.hint = hint
    }

    public var description: String { message }
}
