public import SealDropCrypto

/// Why a recipients file was refused: the line it failed on, and what is wrong.
public struct RecipientsParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong with a recipients file.
    public enum Problem: Equatable, Sendable {
        /// The line's key is not a usable public key (or is a secret key).
        case key(PublicKeyParseError)
        /// The line is not valid UTF-8.
        case notUTF8
        /// The file starts with a UTF-8 byte-order mark.
        case byteOrderMark
        /// The line holds a control character: anything below U+0020 but tab (a `CR` counts
        /// unless it is directly before the `LF`), U+007F, or U+0080 to U+009F.
        case controlCharacter
        /// Something other than a comment follows the key on its line.
        case textAfterKey
        /// A `#` is attached to the key, without a space or tab before it.
        case commentAttachedToKey
        /// The key is already listed on `firstLine`.
        case repeatedKey(firstLine: Int)
        /// A different key with the same key ID is listed on `firstLine`.
        case repeatedKeyID(KeyID, firstLine: Int)
        /// The line holds the 33rd key: a file holds at most ``Recipients/maxKeys``.
        case tooManyKeys
        /// The file holds no key at all (only blank and comment lines, or nothing).
        case noKeys
    }

    /// The 1-based line number; `nil` when the problem is the whole file (``Problem/noKeys``).
    public let line: Int?
    /// What is wrong.
    public let problem: Problem

    /// A refusal of `line` (or of the whole file, for `nil`) for `problem`.
    public init(line: Int?, _ problem: Problem) {
        self.line = line
        self.problem = problem
    }

    /// A refusal of `line` because its key is not a usable public key.
    public init(line: Int, problem: PublicKeyParseError) {
        self.init(line: line, .key(problem))
    }

    /// `line N: what is wrong`, or for the whole file `no recipients: ...`. Never holds any of the
    /// file's text.
    public var description: String {
        let what: String = switch self.problem {
        case .key(let error): "\(error)"
        case .notUTF8: "not valid UTF-8 text (save the file as UTF-8)"
        case .byteOrderMark: "the file starts with a UTF-8 byte-order mark (save it as UTF-8 without BOM)"
        case .controlCharacter: "a control character (only tab is allowed; a CR only directly before the LF)"
        case .textAfterKey: "text after the key; only a comment, starting with #, may follow it"
        case .commentAttachedToKey: "a # right after the key; put a space or tab before a comment"
        case .repeatedKey(let first): "the same key as line \(first); list each key once"
        case .repeatedKeyID(let id, let first): "a different key with the same key ID \(id) as line \(first); key IDs must be unique"
        case .tooManyKeys: "a key beyond the first \(Recipients.maxKeys); a recipients file holds at most \(Recipients.maxKeys) keys"
        case .noKeys: "no recipients: the file holds no public key, only blank lines and comments"
        }
        guard let line else { return what }
        return "line \(line): \(what)"
    }
}

/// Parsing and printing of recipients files.
///
/// The syntax (documented with the daemon's `recipients-file` setting in the SealDropServer
/// configuration article):
///
/// - UTF-8 text, no byte-order mark, no control characters but tab. Lines end with `LF` or
///   `CRLF`; the last line may end without one.
/// - Spaces and tabs around a line's content are ignored. A line with nothing else is blank; a
///   line whose content starts with `#` is a comment.
/// - Any other line holds one public key (`sealdrop1...`), optionally followed by spaces or tabs
///   and a comment starting with `#`: `sealdrop1... # alice`. Nothing else may follow the key.
/// - 1 to ``maxKeys`` keys, each listed once, with distinct key IDs.
/// - A secret key anywhere in the file, comments included, is refused.
public enum Recipients {
    /// The most keys a recipients file holds (the envelope's limit on recipients).
    public static let maxKeys = 32

    /// Parses a recipients text; see ``Recipients`` for the syntax.
    ///
    /// - Returns: The keys in the order listed: 1 to ``maxKeys``, distinct.
    /// - Throws: ``RecipientsParseError`` for the first line that breaks a rule, or for a file
    ///   with no keys.
    public static func parse(_ text: String) throws(RecipientsParseError) -> [PublicKey] {
        try Self.parse(bytes: Array(text.utf8))
    }

    /// Parses the bytes of a recipients file, refusing any line that is not UTF-8.
    ///
    /// - Returns: The keys in the order listed: 1 to ``maxKeys``, distinct.
    /// - Throws: ``RecipientsParseError`` for the first line that breaks a rule, or for a file
    ///   with no keys.
    public static func parse(bytes: [UInt8]) throws(RecipientsParseError) -> [PublicKey] {
        try Self.parse(bytes: bytes, keyID: \.keyID)
    }

    /// ``parse(bytes:)`` with the key ID computed by `keyID`, so that tests can make two keys
    /// share a key ID (a collision of 64-bit hash prefixes cannot be found on purpose).
    static func parse(bytes: [UInt8], keyID: (PublicKey) -> KeyID) throws(RecipientsParseError) -> [PublicKey] {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            throw RecipientsParseError(line: 1, .byteOrderMark)
        }
        var keys: [PublicKey] = []
        var lineOfKey: [PublicKey: Int] = [:]
        var lineOfKeyID: [KeyID: Int] = [:]
        var lineNumber = 0
        for var raw in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            if raw.last == 0x0D { raw.removeLast() }
            guard let line = String(validating: raw, as: UTF8.self) else {
                throw RecipientsParseError(line: lineNumber, .notUTF8)
            }
            guard !line.unicodeScalars.contains(where: Self.isControl) else {
                throw RecipientsParseError(line: lineNumber, .controlCharacter)
            }
            let content = line.trimmingBlanks()
            // A secret key is refused wherever it is, comments included.
            if Self.holdsSecretKey(content) {
                throw RecipientsParseError(line: lineNumber, problem: .secretKeyGiven)
            }
            if content.isEmpty || content.hasPrefix("#") { continue }
            let keyText = content.prefix { !Self.isBlank($0) }
            let after = content.dropFirst(keyText.count).drop(while: Self.isBlank)
            guard !keyText.contains("#") else {
                throw RecipientsParseError(line: lineNumber, .commentAttachedToKey)
            }
            guard after.isEmpty || after.hasPrefix("#") else {
                throw RecipientsParseError(line: lineNumber, .textAfterKey)
            }
            let key: PublicKey
            do { key = try PublicKey(text: String(keyText)) } catch {
                throw RecipientsParseError(line: lineNumber, problem: error)
            }
            if let first = lineOfKey[key] {
                throw RecipientsParseError(line: lineNumber, .repeatedKey(firstLine: first))
            }
            let id = keyID(key)
            if let first = lineOfKeyID[id] {
                throw RecipientsParseError(line: lineNumber, .repeatedKeyID(id, firstLine: first))
            }
            guard keys.count < Self.maxKeys else {
                throw RecipientsParseError(line: lineNumber, .tooManyKeys)
            }
            keys.append(key)
            lineOfKey[key] = lineNumber
            lineOfKeyID[id] = lineNumber
        }
        guard !keys.isEmpty else {
            throw RecipientsParseError(line: nil, .noKeys)
        }
        return keys
    }

    /// Formats keys as a recipients file, each key preceded by a comment with its key ID.
    public static func format(_ keys: [PublicKey]) -> String {
        keys.map { "# key ID \($0.keyID)\n\($0.text)\n" }.joined()
    }

    private static func isBlank(_ character: Character) -> Bool {
        character == " " || character == "\t"
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        (scalar.value < 0x20 && scalar != "\t") || (0x7F...0x9F).contains(scalar.value)
    }

    /// Whether `text` holds secret-key material, as `PublicKey(text:)` recognises it.
    private static func holdsSecretKey(_ text: String) -> Bool {
        do {
            _ = try PublicKey(text: text)
            return false
        } catch {
            return error == .secretKeyGiven
        }
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    fileprivate func trimmingBlanks() -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(self[first...last])
    }
}
