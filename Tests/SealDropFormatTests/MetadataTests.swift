import Foundation
import SealDropCrypto
@testable import SealDropFormat
import SealDropKeys
import Testing

private func decode(_ text: String) throws(EnvelopeError) -> Metadata { try Metadata.decode(Array(text.utf8)) }

/// The rule `text` breaks, or nil when it is valid metadata.
private func rule(_ text: String) -> String? {
    do {
        _ = try decode(text)
        return nil
    } catch {
        guard case .malformedMetadata(let rule) = error else { Issue.record("not a metadata error: \(error)"); return nil }
        #expect(error.outcome == .badMetadata)
        return rule
    }
}

/// `{"sealed_by":"source",<member>}`.
private func with(_ member: String) -> String { "{\"sealed_by\":\"source\",\(member)}" }

/// The metadata as it was encoded before `time` became optional: for checking the output is unchanged.
private struct OldEncoding: Encodable {
    var name: String?
    var mediaType: String?
    var size: UInt64?
    var time: Date
    var message: String?
    var sealedBy: String
    enum CodingKeys: String, CodingKey { case name, mediaType = "type", size, time, message, sealedBy = "sealed_by" }
}

@Suite("Metadata rules")
struct MetadataTests {
    @Test("only sealed_by is required; every other member may be left out")
    func minimal() throws {
        #expect(try decode(#"{"sealed_by":"server"}"#) == Metadata(time: nil, sealedBy: .server))
        let full = try decode(#"{"message":"m\n","name":"a/b.pdf","sealed_by":"source","size":5,"time":"2026-09-21T14:13:20Z","type":"x/y"}"#)
        #expect(full == Metadata(name: "a/b.pdf", mediaType: "x/y", size: 5, time: Date(timeIntervalSince1970: 1_790_000_000),
                                 message: "m\n", sealedBy: .source))
        // White space as RFC 8259 allows it, and escapes in names and values.
        #expect(try decode(" {\n\t\"sealed_by\" : \"serv\\u0065r\" ,\r\n \"n\\u0061me\":\"\\u00e9\" } ") == Metadata(name: "é", time: nil, sealedBy: .server))
    }

    @Test("unknown members are ignored, but must be valid JSON and count as duplicates")
    func unknownMembers() throws {
        #expect(try decode(with(#""future":{"a":[1,2.5e3,{"b":null}],"c":true}"#)) == Metadata(time: nil, sealedBy: .source))
        #expect(rule(with(#""future":[1,]"#))?.contains("a comma before the end of an array") == true)
        #expect(rule(with(#""x":1,"x":2"#))?.contains("a member name appears twice") == true)
        #expect(rule(#"{"sealed_by":"source","sealed_by":"server"}"#)?.contains("member \"sealed_by\" appears twice") == true)
        // Names match exactly: these are unknown members, whatever their values.
        #expect(try decode(with(#""Name":1,"name ":2,"size\u0000":null"#)) == Metadata(time: nil, sealedBy: .source))
    }

    @Test("sealed_by is exactly \"source\" or \"server\"")
    func sealedBy() {
        #expect(rule("{}") == "member \"sealed_by\" is missing (it is required)")
        #expect(rule(#"{"sealed_by":null}"#) == "member \"sealed_by\" must be a string, not null")
        for value in ["\"Source\"", "\"SERVER\"", "\"\"", "\"source \""] {
            #expect(rule("{\"sealed_by\":\(value)}") == "member \"sealed_by\" must be \"source\" or \"server\"", "\(value)")
        }
    }

    @Test("name, type, message and time must be JSON strings; null is a wrong type",
          arguments: ["name", "type", "message", "time"])
    func stringMembers(_ member: String) {
        #expect(rule(with("\"\(member)\":null")) == "member \"\(member)\" must be a string, not null")
        #expect(rule(with("\"\(member)\":1")) == "member \"\(member)\" must be a string, not a number")
        #expect(rule(with("\"\(member)\":{}")) == "member \"\(member)\" must be a string, not an object")
        #expect(rule(with("\"\(member)\":[\"x\"]")) == "member \"\(member)\" must be a string, not an array")
        #expect(rule(with("\"\(member)\":false")) == "member \"\(member)\" must be a string, not a boolean")
    }

    @Test("size is a decimal integer from 0 to 2^63 - 1 without sign, fraction or exponent")
    func size() throws {
        for (text, value) in [("0", UInt64(0)), ("1", 1), ("9223372036854775807", UInt64(Int64.max))] {
            #expect(try decode(with("\"size\":\(text)")).size == value)
        }
        let form = "member \"size\" must be a non-negative integer in plain decimal (no sign, fraction or exponent)"
        for text in ["-1", "-0", "1.0", "1e3", "1E3", "0.5"] { #expect(rule(with("\"size\":\(text)")) == form, "\(text)") }
        for text in ["9223372036854775808", "18446744073709551616", "99999999999999999999999"] {
            #expect(rule(with("\"size\":\(text)")) == "member \"size\" exceeds 2^63 - 1", "\(text)")
        }
        #expect(rule(with(#""size":"5""#)) == "member \"size\" must be a number, not a string")
        #expect(rule(with(#""size":null"#)) == "member \"size\" must be a number, not null")
        #expect(rule(with(#""size":01"#))?.contains("leading zero") == true)
    }

    @Test("time is exactly YYYY-MM-DDTHH:MM:SSZ, a real date in 0001...9999", arguments: [
        ("1970-01-01T00:00:00Z", 0), ("1969-12-31T23:59:59Z", -1), ("0001-01-01T00:00:00Z", -62_135_596_800),
        ("9999-12-31T23:59:59Z", 253_402_300_799), ("2000-02-29T12:00:00Z", 951_825_600), ("2024-02-29T23:59:59Z", 1_709_251_199),
        ("2026-09-21T14:13:20Z", 1_790_000_000),
    ])
    func validTimes(_ text: String, _ seconds: Int) throws {
        #expect(try decode(with("\"time\":\"\(text)\"")).time == Date(timeIntervalSince1970: TimeInterval(seconds)))
        #expect(MetadataTime.format(Date(timeIntervalSince1970: TimeInterval(seconds))) == text)
    }

    @Test("times the format refuses, each with the rule it breaks", arguments: [
        ("2026-09-21T16:13:20+02:00", "no other offset"), ("2026-09-21T14:13:20+00:00", "no other offset"),
        ("2026-09-21T09:13:20-05:00", "no other offset"), ("2026-09-21T14:13:20.5Z", "no fraction"),
        ("2026-09-21T14:13:20.000Z", "no fraction"), ("2026-09-21t14:13:20Z", "uppercase"), ("2026-09-21T14:13:20z", "uppercase"),
        ("0000-01-01T00:00:00Z", "year 0000"), ("2023-02-29T00:00:00Z", "real calendar date"), ("1900-02-29T00:00:00Z", "real calendar date"),
        ("2026-13-01T00:00:00Z", "real calendar date"), ("2026-00-10T00:00:00Z", "real calendar date"),
        ("2026-04-31T00:00:00Z", "real calendar date"), ("2026-01-00T00:00:00Z", "real calendar date"),
        ("2026-01-01T24:00:00Z", "time of day"), ("2026-01-01T23:60:00Z", "time of day"), ("2016-12-31T23:59:60Z", "time of day"),
        ("2026-09-21 14:13:20Z", "must be exactly"), ("2026-09-21T14:13Z", "must be exactly"), ("20260921T141320Z", "must be exactly"),
        ("-0001-01-01T00:00:00Z", "must be exactly"), ("+2026-09-21T14:13:20Z", "must be exactly"), ("2026-09-21T14:13:20", "must be exactly"),
        ("2026-09-21T14:13:20ZZ", "must be exactly"), (" 2026-09-21T14:13:20Z", "must be exactly"), ("", "must be exactly"),
        ("２026-09-21T14:13:20Z", "must be exactly"), ("10000-01-01T00:00:00Z", "must be exactly"),
    ])
    func refusedTimes(_ text: String, _ words: String) {
        let broken = rule(with("\"time\":\"\(text)\""))
        #expect(broken?.hasPrefix("member \"time\" ") == true && broken?.contains(words) == true, "\(text): \(broken ?? "accepted")")
    }

    @Test("encoding is unchanged for every field it had: sorted keys, no white space, slashes unescaped")
    func encodingUnchanged() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let samples = [
            Metadata(name: "evidence.pdf", mediaType: "application/pdf", size: 100, time: Date(timeIntervalSince1970: 1_790_000_000),
                     message: "from the vectors", sealedBy: .source),
            Metadata(name: "a/b\"c\\d\u{1}\u{1F}\n\u{7F}é😀\u{202E}", time: Date(timeIntervalSince1970: 0), message: "\u{2028}", sealedBy: .server),
            Metadata(size: UInt64(Layout.maxContentLength), time: Date(timeIntervalSince1970: 4_102_444_799), sealedBy: .server),
        ]
        for metadata in samples {
            let old = OldEncoding(name: metadata.name, mediaType: metadata.mediaType, size: metadata.size, time: metadata.time!,
                                  message: metadata.message, sealedBy: metadata.sealedBy.rawValue)
            #expect(try metadata.encoded() == Array(try encoder.encode(old)))
            #expect(try Metadata.decode(try metadata.encoded()) == metadata)
        }
        #expect(String(decoding: try samples[0].encoded(), as: UTF8.self)
                == #"{"message":"from the vectors","name":"evidence.pdf","sealed_by":"source","size":100,"time":"2026-09-21T14:13:20Z","type":"application/pdf"}"#)
    }

    @Test("no time: the member is left out, and reads back as nil")
    func noTime() throws {
        let metadata = Metadata(name: "x", size: 1, time: nil, sealedBy: .source)
        #expect(String(decoding: try metadata.encoded(), as: UTF8.self) == #"{"name":"x","sealed_by":"source","size":1}"#)
        #expect(try Metadata.decode(try metadata.encoded()) == metadata)
        let key = SecretKey.generate()
        let sealed = try sealInMemory([7], to: [key.publicKey], metadata: metadata)
        #expect(try EnvelopeReader(source: ArraySource(sealed), keys: [key]).metadata.time == nil)
    }

    @Test("the writer records only times the format allows: years 0001 to 9999, whole seconds")
    func timeRange() throws {
        let key = SecretKey.generate()
        for seconds in [-62_135_596_801.0, 253_402_300_800, -1e20, 1e20] {
            #expect(throws: SealingError.timeOutOfRange, "\(seconds)") {
                try EnvelopeWriter(recipients: [key.publicKey], metadata: Metadata(time: Date(timeIntervalSince1970: seconds), sealedBy: .source))
            }
        }
        var metadata = Metadata(time: nil, sealedBy: .server)
        metadata.time = Date(timeIntervalSince1970: 1.75)
        #expect(String(decoding: try metadata.encoded(), as: UTF8.self).contains(#""time":"1970-01-01T00:00:01Z""#))
        // Formatting and parsing agree across the whole range.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let seconds = Int.random(in: -62_135_596_800...253_402_300_799, using: &generator)
            let text = try #require(MetadataTime.format(Date(timeIntervalSince1970: TimeInterval(seconds))))
            #expect(try MetadataTime.parse(text) == Date(timeIntervalSince1970: TimeInterval(seconds)), "\(text)")
        }
    }

    @Test("a bad metadata message says the metadata authenticated and names the rule")
    func messages() {
        let error = EnvelopeError.malformedMetadata("member \"sealed_by\" is missing (it is required)")
        #expect(error.outcome == .badMetadata)
        #expect(error.description == "bad metadata: the metadata authenticated, so it was written by someone holding the file key (the source, or the server that sealed it), but it breaks the format's rules: member \"sealed_by\" is missing (it is required)")
        #expect(EnvelopeError.contentSizeMismatch(declared: 5, actual: 4, complete: true).description.hasSuffix("the content is 4 bytes, but member \"size\" declares 5"))
        #expect(EnvelopeError.contentSizeMismatch(declared: 5, actual: 65_532, complete: false).description
                .hasSuffix("the content is longer than the 5 bytes member \"size\" declares (65532 bytes so far)"))
        #expect(Outcome.badMetadata.rawValue == "bad metadata" && Outcome.badMetadata.label == "bad metadata")
    }
}

/// A submission laid out as the writer lays it out, but with any metadata text and content.
func handMade(json: [UInt8], content: [UInt8], to recipients: [PublicKey]) throws -> [UInt8] {
    let fileKey = FileKey()
    let metadataLength = (json.count + 4 + 4095) / 4096 * 4096
    let pusher = SecretStreamPusher(key: fileKey.streamKey)
    var out = try EnvelopeHeader.make(fileKey: fileKey, recipients: recipients, metadataLength: metadataLength, streamHeader: pusher.header).bytes
    out += pusher.header.bytes
    func push(count: Int, plaintextLength: Int, bytes: ArraySlice<UInt8>, tag: SecretStreamTag) {
        var plaintext = [UInt8(count >> 24 & 0xff), UInt8(count >> 16 & 0xff), UInt8(count >> 8 & 0xff), UInt8(count & 0xff)] + bytes
        plaintext += [UInt8](repeating: 0, count: plaintextLength - plaintext.count)
        var sealed = [UInt8](repeating: 0, count: plaintext.count + SecretStream.chunkOverhead)
        _ = plaintext.withUnsafeBytes { p in sealed.withUnsafeMutableBytes { pusher.push(p, tag: tag, into: $0) } }
        out += sealed
    }
    push(count: json.count, plaintextLength: metadataLength, bytes: json[...], tag: .message)
    let padded = Int(Layout.padme(UInt64(content.count)))
    var start = 0
    while padded - start >= Layout.chunkCapacity {
        let piece = content[min(start, content.count)..<min(start + Layout.chunkCapacity, content.count)]
        push(count: piece.count, plaintextLength: Layout.chunkPlaintextByteCount, bytes: piece, tag: .message)
        start += Layout.chunkCapacity
    }
    let last = content[min(start, content.count)...]
    push(count: last.count, plaintextLength: 4 + padded - start, bytes: last, tag: .final)
    return out
}

@Suite("Reader rules beyond the metadata text")
struct ReaderRuleTests {
    let key = SecretKey.generate()

    @Test("the content's length must equal a declared size: longer is found before the chunk is released, shorter at the end")
    func declaredSize() throws {
        let content = randomBytes(count: 140_000)
        func sealed(size: UInt64) throws -> [UInt8] {
            try handMade(json: Array("{\"sealed_by\":\"source\",\"size\":\(size)}".utf8), content: content, to: [key.publicKey])
        }
        let exact = open(try sealed(size: 140_000), keys: [key])
        #expect(exact.outcome == .success && exact.content == content)

        let longer = open(try sealed(size: 70_000), keys: [key])
        #expect(longer.error == .contentSizeMismatch(declared: 70_000, actual: UInt64(2 * Layout.chunkCapacity), complete: false))
        #expect(longer.content == Array(content.prefix(Layout.chunkCapacity)))  // the second chunk was not released

        let shorter = open(try sealed(size: 140_001), keys: [key])
        #expect(shorter.error == .contentSizeMismatch(declared: 140_001, actual: 140_000, complete: true))
        #expect(shorter.outcome == .badMetadata)
        #expect(shorter.content == Array(content.prefix(2 * Layout.chunkCapacity)))  // the final chunk was not released

        let unknown = open(try handMade(json: Array(#"{"sealed_by":"source"}"#.utf8), content: content, to: [key.publicKey]), keys: [key])
        #expect(unknown.outcome == .success && unknown.content == content)
    }

    @Test("the writer never names one key ID twice; a reader refuses a header that does")
    func duplicateKeyIDs() throws {
        #expect(throws: SealingError.duplicateRecipient(key.publicKey.keyID)) {
            try EnvelopeWriter(recipients: [key.publicKey, SecretKey.generate().publicKey, key.publicKey], metadata: Metadata(sealedBy: .source))
        }
        let other = SecretKey.generate()
        var bytes = try sealInMemory([1], to: [key.publicKey, other.publicKey], metadata: Metadata(sealedBy: .source))
        bytes.replaceSubrange((14 + 88)..<(14 + 88 + 8), with: key.publicKey.keyID.bytes)
        #expect(throws: EnvelopeError.malformedHeader("recipient entries 1 and 2 both have key ID \(key.publicKey.keyID)")) {
            try EnvelopeHeader.parse(prefix: bytes)
        }
        // Found when parsing, before any key is looked at: a header failure for every reader.
        for keys in [[key], [other], [SecretKey.generate()]] { #expect(open(bytes, keys: keys).outcome == .headerFailure) }
    }

    @Test("a file cut inside the stream header is a payload failure for a recipient, no match for anyone else")
    func cutInStreamHeader() throws {
        let sealed = try sealInMemory([1, 2, 3], to: [key.publicKey], metadata: Metadata(sealedBy: .source))
        let h = Layout.headerByteCount(recipients: 1)
        for cut in h..<(h + Layout.streamHeaderByteCount) {
            let result = open(Array(sealed.prefix(cut)), keys: [key])
            #expect(result.error == .truncatedStreamHeader, "cut at \(cut)")
            #expect(result.outcome == .payloadFailure)
            #expect(open(Array(sealed.prefix(cut)), keys: [SecretKey.generate()]).outcome == .noMatch)
        }
        #expect(EnvelopeError.truncatedStreamHeader.description == "payload failure: truncated or corrupt (the file ends inside the stream header)")
    }
}
