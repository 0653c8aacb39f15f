public import SealDropCrypto

/// Why a recipients text (one public key per line) was refused, with the line it failed on.
public struct RecipientsParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// 1-based line number.
    public let line: Int
    /// What is wrong with that line.
    public let problem: PublicKeyParseError

    /// A refusal of `line` for `problem`.
    public init(line: Int, problem: PublicKeyParseError) {
        self.line = line
        self.problem = problem
    }

    public var description: String { "line \(line): \(problem)" }
}

/// Parsing and printing of recipients files: one public key per line; blank lines and lines
/// whose first non-blank character is `#` are comments. Text after a key on the same line,
/// separated by white space, is refused: a line holds a key or a comment.
public enum Recipients {
    /// Parses a recipients text, keeping the first occurrence of each key in order.
    public static func parse(_ text: String) throws(RecipientsParseError) -> [PublicKey] {
        var keys: [PublicKey] = []
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = String(rawLine).trimmingASCIIWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            do {
                let key = try PublicKey(text: line)
                if !keys.contains(key) { keys.append(key) }
            } catch {
                throw RecipientsParseError(line: lineNumber, problem: error)
            }
        }
        return keys
    }

    /// Formats keys as a recipients file, each key preceded by a comment with its key ID.
    public static func format(_ keys: [PublicKey]) -> String {
        keys.map { "# key ID \($0.keyID)\n\($0.text)\n" }.joined()
    }
}
