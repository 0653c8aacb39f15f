import SealDropCrypto
@testable import SealDropKeys
import Testing

/// The recipients file syntax, rule by rule, as the daemon's configuration article states it.
@Suite("Recipients file syntax")
struct RecipientsFileTests {
    let a = SecretKey.generate().publicKey
    let b = SecretKey.generate().publicKey
    let c = SecretKey.generate().publicKey

    /// Expects `text` (or `bytes`) to be refused with exactly `error`, whose description is `message`.
    func expectRefused(
        _ bytes: [UInt8],
        _ error: RecipientsParseError,
        _ message: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(throws: error, sourceLocation: sourceLocation) { try Recipients.parse(bytes: bytes) }
        #expect(error.description == message, sourceLocation: sourceLocation)
        if let text = String(validating: bytes, as: UTF8.self) {
            #expect(throws: error, sourceLocation: sourceLocation) { try Recipients.parse(text) }
        }
    }

    func expectRefused(_ text: String, _ error: RecipientsParseError, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        self.expectRefused(Array(text.utf8), error, message, sourceLocation: sourceLocation)
    }

    @Test("UTF-8 only: a line that is not UTF-8 is refused with its number; so is a byte-order mark")
    func encoding() throws {
        #expect(try Recipients.parse("# Überweisung an Bjørn 📄\n\(a.text) # née\n") == [a])
        self.expectRefused(Array("# ok\n\(a.text)\n# caf".utf8) + [0xE9] + Array("\n".utf8), RecipientsParseError(line: 3, .notUTF8),
                           "line 3: not valid UTF-8 text (save the file as UTF-8)")
        self.expectRefused([0xEF, 0xBB, 0xBF] + Array("\(a.text)\n".utf8), RecipientsParseError(line: 1, .byteOrderMark),
                           "line 1: the file starts with a UTF-8 byte-order mark (save it as UTF-8 without BOM)")
    }

    @Test("LF and CRLF line ends, mixed, and a last line without one")
    func lineEnds() throws {
        #expect(try Recipients.parse("\(a.text)\n\(b.text)\n") == [a, b])
        #expect(try Recipients.parse("# x\r\n\(a.text)\r\n\(b.text)\r\n") == [a, b])
        #expect(try Recipients.parse("\(a.text)\r\n# x\n\(b.text)") == [a, b])
        #expect(try Recipients.parse("\(a.text) # alice\r\n\(b.text)\t\r\n") == [a, b])
    }

    @Test("A CR anywhere but before the LF, and every other control character but tab, is refused, in comments too")
    func controlCharacters() throws {
        let message = "a control character (only tab is allowed; a CR only directly before the LF)"
        // Old Mac line ends: one line holding CRs.
        self.expectRefused("\(a.text)\r\(b.text)\r", RecipientsParseError(line: 1, .controlCharacter), "line 1: " + message)
        self.expectRefused("\(a.text)\n\(b.text)\r\r\n", RecipientsParseError(line: 2, .controlCharacter), "line 2: " + message)
        for comment in ["# \u{1B}[31mred", "# nul\0", "# del\u{7F}", "# c1 \u{85}", "# bell\u{07}", "# \u{0B}"] {
            self.expectRefused("\(a.text)\n\(comment)\n", RecipientsParseError(line: 2, .controlCharacter), "line 2: " + message)
        }
        #expect(try Recipients.parse("#\ttabbed\tcomment\t\n\t\(a.text)\t#\tx\n") == [a])
    }

    @Test("Blank lines, comment lines and the spaces and tabs around a line are ignored")
    func blanksCommentsAndWhitespace() throws {
        #expect(try Recipients.parse("\n \n\t\n# one\n   # two\n\t#three\n  \t\(a.text) \t \n\n\(b.text)\n\n") == [a, b])
    }

    @Test("A comment may follow a key after a space or tab; a # attached to the key or other text is refused")
    func inlineComments() throws {
        #expect(try Recipients.parse("\(a.text) # alice\n\(b.text)\t#bob\n\(c.text)   #\n") == [a, b, c])
        self.expectRefused("\(a.text)#alice\n", RecipientsParseError(line: 1, .commentAttachedToKey),
                           "line 1: a # right after the key; put a space or tab before a comment")
        self.expectRefused("# ok\n\(a.text) alice\n", RecipientsParseError(line: 2, .textAfterKey),
                           "line 2: text after the key; only a comment, starting with #, may follow it")
        self.expectRefused("\(a.text) \(b.text)\n", RecipientsParseError(line: 1, .textAfterKey),
                           "line 1: text after the key; only a comment, starting with #, may follow it")
        self.expectRefused("\(a.text) // alice\n", RecipientsParseError(line: 1, .textAfterKey),
                           "line 1: text after the key; only a comment, starting with #, may follow it")
    }

    @Test("A line that is not a usable public key is refused with the key's own reason")
    func badKeys() throws {
        var typo = a.text
        let last = typo.removeLast()
        typo.append(last == "q" ? "p" : "q")
        self.expectRefused("\(b.text)\n\(typo) # alice\n", RecipientsParseError(line: 2, problem: .typo),
                           "line 2: \(PublicKeyParseError.typo)")
        self.expectRefused("# x\n\nnonsense\n", RecipientsParseError(line: 3, problem: .notAPublicKey),
                           "line 3: \(PublicKeyParseError.notAPublicKey)")
    }

    @Test("The same key twice is refused with both line numbers, whatever its spelling")
    func repeatedKey() throws {
        self.expectRefused("# team\n\(a.text)\n\(b.text)\n\n\(a.text) # again\n", RecipientsParseError(line: 5, .repeatedKey(firstLine: 2)),
                           "line 5: the same key as line 2; list each key once")
        self.expectRefused("\(a.text)\n\(a.text.uppercased())\n", RecipientsParseError(line: 2, .repeatedKey(firstLine: 1)),
                           "line 2: the same key as line 1; list each key once")
    }

    @Test("Two different keys with the same key ID are refused with both line numbers")
    func repeatedKeyID() throws {
        let id = try #require(KeyID(hex: "0011223344556677"))
        #expect(throws: RecipientsParseError(line: 3, .repeatedKeyID(id, firstLine: 1))) {
            try Recipients.parse(bytes: Array("\(a.text)\n# b\n\(b.text)\n".utf8), keyID: { _ in id })
        }
        #expect(RecipientsParseError(line: 3, .repeatedKeyID(id, firstLine: 1)).description
            == "line 3: a different key with the same key ID 0011223344556677 as line 1; key IDs must be unique")
        // With real key IDs the same keys are fine.
        #expect(try Recipients.parse(bytes: Array("\(a.text)\n# b\n\(b.text)\n".utf8)) == [a, b])
    }

    @Test("1 to 32 keys: 32 are accepted in order, a 33rd is refused on its line")
    func oneToThirtyTwo() throws {
        #expect(Recipients.maxKeys == 32)
        let keys = (0..<33).map { _ in SecretKey.generate().publicKey }
        let thirtyTwo = Array(keys.prefix(32))
        #expect(try Recipients.parse(Recipients.format(thirtyTwo)) == thirtyTwo)
        // format writes two lines per key: the 33rd key is on line 66.
        self.expectRefused(Recipients.format(keys), RecipientsParseError(line: 66, .tooManyKeys),
                           "line 66: a key beyond the first 32; a recipients file holds at most 32 keys")
        #expect(try Recipients.parse(a.text) == [a])
    }

    @Test("A file with no key, empty or only blanks and comments, is refused as a whole")
    func noKeys() throws {
        for text in ["", "\n", "\r\n", " \t\n\n", "# nobody yet\n", "# a\n\n# b"] {
            self.expectRefused(text, RecipientsParseError(line: nil, .noKeys),
                               "no recipients: the file holds no public key, only blank lines and comments")
        }
    }

    @Test("A secret key is refused wherever it is, comments included, without echoing it")
    func secretKey() throws {
        let secret = "\(KeyFile.magic)-1:c2VjcmV0LWJ5dGVzLUNBTkFSWQ"
        for (text, line) in [("\(secret)\n", 1), ("\(a.text)\n  \(secret)  \n", 2), ("\(a.text)\n# \(secret)\n", 2),
                             ("\(a.text) # \(secret)\n", 1)] {
            #expect(throws: RecipientsParseError(line: line, problem: .secretKeyGiven)) { try Recipients.parse(text) }
            do {
                _ = try Recipients.parse(text)
            } catch {
                #expect(!error.description.contains("c2VjcmV0"), "the secret is echoed: \(error)")
            }
        }
    }

    @Test("format writes what parse reads: each key after a # key ID comment")
    func formatRoundTrip() throws {
        let text = Recipients.format([c, a, b])
        #expect(text == "# key ID \(c.keyID)\n\(c.text)\n# key ID \(a.keyID)\n\(a.text)\n# key ID \(b.keyID)\n\(b.text)\n")
        #expect(try Recipients.parse(text) == [c, a, b])
    }
}
