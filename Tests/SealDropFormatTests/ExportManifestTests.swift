import Foundation
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropStore
import Testing

/// The export manifest's one written form, its signature and digest, and the chain states.
@Suite("Export manifest")
struct ExportManifestTests {
    let key = SigningSecretKey.generate()
    var dropKey: DropPublicKey { DropPublicKey(key.publicKey) }

    static func entry(_ id: SubmissionID = .random(), bytes: UInt64 = 4470) -> ExportManifest.Entry {
        ExportManifest.Entry(id: id, bytes: bytes, hash: randomBytes(count: 32), recordBytes: 812, recordHash: randomBytes(count: 32))
    }

    func makeManifest(sequence: UInt64 = 2, entries: [ExportManifest.Entry]? = nil) -> ExportManifest {
        ExportManifest(dropKey: dropKey, sequence: sequence, previousHash: sequence == 1 ? nil : randomBytes(count: 32),
                       entries: entries ?? [Self.entry(), Self.entry(), Self.entry()])
    }

    /// `text` with `old` replaced by `new` once, as bytes.
    static func edited(_ file: [UInt8], _ old: String, _ new: String) -> [UInt8] {
        let text = String(decoding: file, as: UTF8.self)
        let range = text.range(of: old)!
        return Array(text.replacingCharacters(in: range, with: new).utf8)
    }

    /// The manifest's lines re-signed after `change`: a well-signed file that breaks the grammar
    /// only in the way `change` makes it.
    func resigned(_ manifest: ExportManifest, _ change: (String) -> String) -> [UInt8] {
        let file = String(decoding: manifest.signed(with: key), as: UTF8.self)
        let body = change(String(file[..<file.range(of: "signature: ")!.lowerBound]))
        let signature = key.sign(ExportManifest.signatureContext + Array(body.utf8))
        return Array((body + "signature: \(Data(signature).base64EncodedString())\n").utf8)
    }

    @Test("a signed manifest parses back to itself, its entries sorted by ID")
    func roundTrip() throws {
        for manifest in [makeManifest(), makeManifest(sequence: 1), makeManifest(sequence: 7, entries: [])] {
            let file = manifest.signed(with: key)
            #expect(try ExportManifest.parse(file) == manifest)
            #expect(manifest.entries.map(\.id.text) == manifest.entries.map(\.id.text).sorted())
            #expect(String(decoding: file, as: UTF8.self).hasPrefix("SEALDROP-EXPORT-1\ndrop-key: \(dropKey.text)\nsequence: \(manifest.sequence)\n"))
        }
    }

    @Test("the signature covers a context of its own: it does not verify over the lines alone")
    func domainSeparated() throws {
        let file = String(decoding: makeManifest().signed(with: key), as: UTF8.self)
        let signatureLine = file.range(of: "signature: ")!
        let body = Array(file[..<signatureLine.lowerBound].utf8)
        let signature = try #require(Data(base64Encoded: String(file[signatureLine.upperBound...].dropLast())))
        #expect(throws: CryptoError.self) { try dropKey.key.verify([UInt8](signature), of: body) }
        try dropKey.key.verify([UInt8](signature), of: ExportManifest.signatureContext + body)
        #expect(ExportManifest.signatureContext.last == 0)
    }

    @Test("an altered byte, or a signature by another key, does not verify")
    func forgeries() throws {
        let manifest = makeManifest()
        let file = manifest.signed(with: key)
        let altered = Self.edited(file, "sequence: 2", "sequence: 3")
        #expect(throws: ExportManifestError.badSignature) { try ExportManifest.parse(altered) }
        let dropped = Self.edited(file, "submissions: 3\nsubmission: \(manifest.entries[0].id.text)", "submissions: 3\nsubmission: \(SubmissionID.random().text)")
        #expect(throws: ExportManifestError.self) { try ExportManifest.parse(dropped) }
        // Another key's signature under this drop's key line.
        let other = SigningSecretKey.generate()
        let otherFile = ExportManifest(dropKey: DropPublicKey(other.publicKey), sequence: 2, previousHash: manifest.previousHash, entries: manifest.entries).signed(with: other)
        let swapped = Self.edited(otherFile, DropPublicKey(other.publicKey).text, dropKey.text)
        #expect(throws: ExportManifestError.badSignature) { try ExportManifest.parse(swapped) }
    }

    @Test("each malformed manifest is refused, even when well signed", arguments: [
        "no magic", "version 2", "carriage returns", "a repeated entry", "unsorted entries", "a count that is one short",
        "upper-case hex", "a size with a leading zero", "sequence 0", "export 1 with a previous hash", "export 2 without one",
        "a bad ID", "a doubled space", "a missing field", "a reordered line", "an unknown line",
    ])
    func malformed(_ change: String) throws {
        let first = Self.entry(SubmissionID("aaaaaaaaaaaaaaaaaaaaaaaa")!), second = Self.entry(SubmissionID("bbbbbbbbbbbbbbbbbbbbbbbb")!)
        let manifest = makeManifest(entries: [first, second])
        let firstLine = "submission: aaaaaaaaaaaaaaaaaaaaaaaa 4470 \(Hex.encode(first.hash))"
        let file: [UInt8] = switch change {
        case "no magic": resigned(manifest) { $0.replacingOccurrences(of: "SEALDROP-EXPORT-1\n", with: "") }
        case "version 2": resigned(manifest) { $0.replacingOccurrences(of: "EXPORT-1", with: "EXPORT-2") }
        case "carriage returns": resigned(manifest) { $0.replacingOccurrences(of: "\n", with: "\r\n") }
        case "a repeated entry": resigned(manifest) { $0.replacingOccurrences(of: "bbbbbbbbbbbbbbbbbbbbbbbb", with: "aaaaaaaaaaaaaaaaaaaaaaaa") }
        case "unsorted entries": resigned(manifest) {
            $0.replacingOccurrences(of: "aaaaaaaaaaaaaaaaaaaaaaaa", with: "cccccccccccccccccccccccc")
        }
        case "a count that is one short": resigned(manifest) { $0.replacingOccurrences(of: "submissions: 2", with: "submissions: 1") }
        case "upper-case hex": resigned(manifest) { $0.replacingOccurrences(of: firstLine, with: firstLine.uppercased().replacingOccurrences(of: "SUBMISSION: AAAAAAAAAAAAAAAAAAAAAAAA", with: "submission: aaaaaaaaaaaaaaaaaaaaaaaa")) }
        case "a size with a leading zero": resigned(manifest) { $0.replacingOccurrences(of: "aaaaaaaaaaaaaaaaaaaaaaaa 4470", with: "aaaaaaaaaaaaaaaaaaaaaaaa 04470") }
        case "sequence 0": resigned(manifest) { $0.replacingOccurrences(of: "sequence: 2", with: "sequence: 0") }
        case "export 1 with a previous hash": resigned(manifest) { $0.replacingOccurrences(of: "sequence: 2", with: "sequence: 1") }
        case "export 2 without one": resigned(manifest) { $0.replacingOccurrences(of: "previous-manifest-blake2b-256: \(Hex.encode(manifest.previousHash!))", with: "previous-manifest-blake2b-256: none") }
        case "a bad ID": resigned(manifest) { $0.replacingOccurrences(of: "aaaaaaaaaaaaaaaaaaaaaaaa", with: "aaaaaaaaaaaaaaaaaaaaaaa1") }
        case "a doubled space": resigned(manifest) { $0.replacingOccurrences(of: "aaaaaaaaaaaaaaaaaaaaaaaa 4470", with: "aaaaaaaaaaaaaaaaaaaaaaaa  4470") }
        case "a missing field": resigned(manifest) { $0.replacingOccurrences(of: "aaaaaaaaaaaaaaaaaaaaaaaa 4470 ", with: "aaaaaaaaaaaaaaaaaaaaaaaa ") }
        case "a reordered line": resigned(manifest) {
            $0.replacingOccurrences(of: "sequence: 2\nprevious-manifest-blake2b-256: \(Hex.encode(manifest.previousHash!))",
                                    with: "previous-manifest-blake2b-256: \(Hex.encode(manifest.previousHash!))\nsequence: 2")
        }
        default: resigned(manifest) { $0.replacingOccurrences(of: "submissions: 2\n", with: "submissions: 2\nreceived: 2026-11-30T07:40:12Z\n") }
        }
        #expect(throws: ExportManifestError.self, "\(change)") { try ExportManifest.parse(file) }
    }

    @Test("bytes after the signature, a missing last line end, a non-ASCII byte and an over-long file are refused")
    func framing() throws {
        let file = makeManifest().signed(with: key)
        for bad in [file + Array("extra\n".utf8), Array(file.dropLast()), Self.edited(file, "SEALDROP", "SEALDRÖP")] {
            #expect(throws: ExportManifestError.self) { try ExportManifest.parse(bad) }
        }
        let huge = [UInt8](repeating: 0x61, count: ExportManifest.maximumFileBytes + 1)
        #expect(throws: ExportManifestError.tooLarge(huge.count)) { try ExportManifest.parse(huge) }
    }

    @Test("the digest: 24 base-32 characters in groups of four, from the manifest file's hash; typed back in any case, dashes and spaces optional")
    func digest() throws {
        let file = makeManifest().signed(with: key)
        let hash = ExportManifest.hash(ofFile: file)
        #expect(hash == BLAKE2b.hash(file, outputLength: 32))
        let digest = ExportManifest.digest(ofHash: hash)
        #expect(digest.count == 29)
        #expect(digest.split(separator: "-").map(\.count) == [4, 4, 4, 4, 4, 4])
        #expect(digest.utf8.allSatisfy { $0 == UInt8(ascii: "-") || Array("abcdefghijklmnopqrstuvwxyz234567".utf8).contains($0) })
        // The first 120 bits, five at a time: the first character is the hash's first five bits.
        #expect(digest.utf8.first == Array("abcdefghijklmnopqrstuvwxyz234567".utf8)[Int(hash[0] >> 3)])
        for typed in [digest, digest.uppercased(), digest.replacingOccurrences(of: "-", with: ""),
                      digest.replacingOccurrences(of: "-", with: " "), "  \(digest.uppercased())\n"] {
            #expect(ExportManifest.digest(digest, matchesTyped: typed), "\(typed)")
        }
        var wrong = Array(digest.utf8)
        wrong[0] = wrong[0] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
        for typed in ["", String(decoding: wrong, as: UTF8.self), String(digest.dropLast()), digest + "a", "yes"] {
            #expect(!ExportManifest.digest(digest, matchesTyped: typed), "\(typed)")
        }
    }

    @Test("the chain: the next export continues it; an older or the same one goes backwards; a gap or another previous hash breaks it")
    func chain() throws {
        let hash = randomBytes(count: 32)
        let last = ExportChainState(dropKey: dropKey, sequence: 4, manifestHash: hash)
        func manifest(_ sequence: UInt64, previous: [UInt8]?) -> ExportManifest {
            ExportManifest(dropKey: dropKey, sequence: sequence, previousHash: previous, entries: [])
        }
        #expect(last.judge(manifest(5, previous: hash), manifestHash: randomBytes(count: 32)) == .continues)
        #expect(last.judge(manifest(4, previous: randomBytes(count: 32)), manifestHash: hash) == .replayed(sequence: 4))
        #expect(last.judge(manifest(3, previous: randomBytes(count: 32)), manifestHash: randomBytes(count: 32)) == .backwards(sequence: 3, last: 4))
        #expect(last.judge(manifest(1, previous: nil), manifestHash: randomBytes(count: 32)) == .backwards(sequence: 1, last: 4))
        #expect(last.judge(manifest(6, previous: hash), manifestHash: randomBytes(count: 32)) == .gap(sequence: 6, last: 4))
        #expect(last.judge(manifest(5, previous: randomBytes(count: 32)), manifestHash: randomBytes(count: 32)) == .wrongPrevious(sequence: 5))
        #expect(ExportChainVerdict.replayed(sequence: 4).description.contains("goes backwards"))
        #expect(ExportChainVerdict.gap(sequence: 6, last: 4).description.contains("breaks"))
    }

    @Test("the chain file: one line per drop key, parsed back; anything else refused")
    func chainFile() throws {
        let other = DropPublicKey(SigningSecretKey.generate().publicKey)
        let states = [ExportChainState(dropKey: dropKey, sequence: 3, manifestHash: randomBytes(count: 32)),
                      ExportChainState(dropKey: other, sequence: 1, manifestHash: randomBytes(count: 32))]
        let text = ExportChainState.fileText(states)
        #expect(ExportChainState.parseFile(text) == states)
        #expect(ExportChainState.parseFile(ExportChainState.fileText([])) == [])
        let line = "\(dropKey.text) 3 \(Hex.encode(states[0].manifestHash))\n"
        for bad in ["", "SEALDROP-EXPORT-CHAIN-1", "SEALDROP-EXPORT-CHAIN-2\n", text + line, text.replacingOccurrences(of: " 3 ", with: " 03 "),
                    text.replacingOccurrences(of: " 1 ", with: " 0 "), text.uppercased(), String(text.dropLast())] {
            #expect(ExportChainState.parseFile(bad) == nil, "\(bad)")
        }
    }
}
