public import SealDropCLISupport
public import SealDropCrypto

/// How strong a new key's passphrase must be, and the passphrases keyholder makes itself.
///
/// The estimate, in bits, is documented so a keyholder can predict it (README, "Passphrases"):
/// the passphrase is cut into runs of letters, runs of digits and single other characters;
///
/// - a run of letters that is a word of the EFF large word list scores 12.9 bits (one of 7,776);
/// - any other letter scores 3 bits, and 1 more if it is a capital;
/// - a digit scores 3.3 bits, a space, `-`, `_`, `.` or `,` 1 bit, any other character 5 bits;
/// - a character equal to the one before it, or next to it in the alphabet or among the digits
///   (`aaa`, `abc`, `321`), scores 1 bit; a run that repeats an earlier run scores 1 bit; a
///   passphrase made of one piece repeated scores that piece and 1 bit.
///
/// A new key needs at least ``minimumBits`` (64): five random words of the list, or about 20
/// random letters and digits. The estimate is generous to made-up words and cannot know a
/// famous quotation; it exists to stop the passphrases that fall at once (`a`, `password1`,
/// `correct horse battery staple`), not to certify the others.
public enum PassphrasePolicy {
    /// The least estimated strength a new key's passphrase may have.
    public static let minimumBits = 64.0
    /// Words in a generated passphrase: 6 × 12.9 = 77.5 bits.
    public static let generatedWordCount = 6

    /// The estimated strength of `passphrase` in bits (see the type's documentation).
    public static func estimatedBits(_ passphrase: SecureBytes) -> Double {
        passphrase.withUnsafeBytes { bytes in
            var text = Array(bytes)
            defer { secureZero(&text) }
            if let unit = repeatedUnit(text) {
                var piece = Array(text[..<unit])
                defer { secureZero(&piece) }
                return estimate(piece) + 1
            }
            return estimate(text)
        }
    }

    /// Refuses a passphrase weaker than ``minimumBits``, saying how it scored.
    public static func check(_ passphrase: SecureBytes, source: String) throws(CLIError) {
        let bits = estimatedBits(passphrase)
        guard bits >= minimumBits else {
            throw CLIError("the passphrase \(source) is too weak: about \(Int(bits)) bits by keyholder's estimate, and a key needs \(Int(minimumBits))",
                           hint: "use --generate-passphrase for six random words, or choose five or more random words (see the README, \"Passphrases\")")
        }
    }

    /// A new passphrase of ``generatedWordCount`` words drawn uniformly from the EFF large word
    /// list with libsodium's `randombytes_uniform`, separated by spaces, in guarded memory.
    public static func generate(wordCount: Int = generatedWordCount) -> SecureBytes {
        var text: [UInt8] = []
        defer { secureZero(&text) }
        for index in 0..<wordCount {
            if index > 0 { text.append(UInt8(ascii: " ")) }
            text += Array(EFFWordList.words[Int(randomUniform(below: UInt32(EFFWordList.words.count)))].utf8)
        }
        return text.withUnsafeBytes { SecureBytes(copying: $0) }
    }

    // MARK: The estimate

    private static let wordBits = 12.925  // log2(7776)
    private static let words: Set<[UInt8]> = Set(EFFWordList.words.map { Array($0.utf8) })

    private enum Kind { case letters, digits, other }

    private static func kind(_ byte: UInt8) -> Kind {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): .letters
        case UInt8(ascii: "0")...UInt8(ascii: "9"): .digits
        default: .other
        }
    }

    /// The length of the shortest piece that, repeated, makes up all of `text` (at least twice),
    /// or nil.
    private static func repeatedUnit(_ text: [UInt8]) -> Int? {
        guard text.count >= 2 else { return nil }
        for unit in 1...(text.count / 2) where text.count % unit == 0 {
            if (unit..<text.count).allSatisfy({ text[$0] == text[$0 - unit] }) { return unit }
        }
        return nil
    }

    private static func estimate(_ text: [UInt8]) -> Double {
        var bits = 0.0
        var seen: [[UInt8]] = []
        defer { for index in seen.indices { secureZero(&seen[index]) } }
        var index = 0
        while index < text.count {
            let runKind = kind(text[index])
            var end = index + 1
            if runKind != .other {
                while end < text.count, kind(text[end]) == runKind { end += 1 }
            }
            if runKind == .letters, let hyphenated = hyphenatedWordEnd(text, from: index, end: end) { end = hyphenated }
            var run = Array(text[index..<end])
            var lowered = run.map { $0 | (kind($0) == .letters ? 0x20 : 0) }
            defer { secureZero(&run); secureZero(&lowered) }
            if run.count > 1, seen.contains(lowered) {
                bits += 1
            } else if runKind == .letters, words.contains(lowered) {
                bits += wordBits
            } else {
                bits += characterBits(run, kind: runKind)
            }
            seen.append(lowered)
            index = end
        }
        return bits
    }

    /// The end of a word of the list that continues past `end` with hyphens (`t-shirt`,
    /// `yo-yo`), or nil.
    private static func hyphenatedWordEnd(_ text: [UInt8], from start: Int, end: Int) -> Int? {
        var candidate = end
        while candidate < text.count - 1, text[candidate] == UInt8(ascii: "-"), kind(text[candidate + 1]) == .letters {
            candidate += 1
            while candidate < text.count, kind(text[candidate]) == .letters { candidate += 1 }
            var token = text[start..<candidate].map { $0 | (kind($0) == .letters ? 0x20 : 0) }
            defer { secureZero(&token) }
            if words.contains(token) { return candidate }
        }
        return nil
    }

    private static func characterBits(_ run: [UInt8], kind: Kind) -> Double {
        var bits = 0.0
        for (offset, byte) in run.enumerated() {
            if offset > 0 {
                let previous = Int(run[offset - 1] | (kind == .letters ? 0x20 : 0))
                let current = Int(byte | (kind == .letters ? 0x20 : 0))
                if abs(current - previous) <= 1 { bits += 1; continue }
            }
            switch kind {
            case .letters: bits += byte < UInt8(ascii: "a") ? 4 : 3
            case .digits: bits += 3.32
            case .other:
                bits += [UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ",")].contains(byte) ? 1 : 5
            }
        }
        return bits
    }
}
