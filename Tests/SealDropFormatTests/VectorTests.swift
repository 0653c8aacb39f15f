import Foundation
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import Testing

/// One committed test vector: its stated outcome and the submission bytes.
struct Vector: CustomTestStringConvertible, Sendable {
    let name: String
    let expect: Outcome
    let keys: [String]
    let payloadHash: String?
    let bytes: [UInt8]
    var testDescription: String { name }

    static let folder = Bundle.module.url(forResource: "Vectors", withExtension: nil)!

    static func all() throws -> [Vector] {
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0 != "keys" }.sorted()
        return try names.map { try load($0) }
    }

    static func load(_ name: String) throws -> Vector {
        let data = [UInt8](try Data(contentsOf: folder.appendingPathComponent(name)))
        let separator = data.indices.first { data[$0] == 0x0A && $0 + 1 < data.count && data[$0 + 1] == 0x0A }!
        var fields: [String: String] = [:]
        for line in String(decoding: data[..<separator], as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            fields[parts[0]] = parts[1]
        }
        return Vector(name: name, expect: Outcome(rawValue: fields["expect"]!)!, keys: fields["keys"]!.split(separator: " ").map(String.init),
                      payloadHash: fields["payload"], bytes: Array(data[(separator + 2)...]))
    }
}

/// The vector keys, unlocked once for the whole suite (Argon2id is deliberately slow).
enum VectorKeys {
    nonisolated(unsafe) static let unlocked: [String: SecretKey] = {
        let folder = Vector.folder.appendingPathComponent("keys")
        let passphraseLine = try! String(contentsOf: folder.appendingPathComponent("passphrase"), encoding: .utf8)
        let passphrase = Array(passphraseLine.utf8).withUnsafeBytes { try! Passphrase.fromFileContents($0) }
        var keys: [String: SecretKey] = [:]
        for name in ["a", "b", "c"] {
            let text = try! String(contentsOf: folder.appendingPathComponent("\(name).key"), encoding: .utf8)
            keys[name] = try! KeyFile(text: text).unlock(passphrase: passphrase)
        }
        return keys
    }()
}

/// Opens a submission and returns its outcome, the content released and the metadata.
func open(_ bytes: [UInt8], keys: [SecretKey]) -> (outcome: Outcome, content: [UInt8], error: EnvelopeError?) {
    var released: [UInt8] = []
    do {
        let reader = try EnvelopeReader(source: ArraySource(bytes), keys: keys)
        try reader.readAll { released += $0 }
        return (.success, released, nil)
    } catch let error as EnvelopeError {
        return (error.outcome, released, error)
    } catch {
        Issue.record("unexpected error type: \(error)")
        return (.payloadFailure, released, nil)
    }
}

@Suite("Format v1 test vectors")
struct VectorTests {
    @Test("every vector yields exactly its stated outcome", arguments: try Vector.all())
    func vectorOutcome(_ vector: Vector) throws {
        let keys = vector.keys.map { VectorKeys.unlocked[$0]! }
        let result = open(vector.bytes, keys: keys)
        #expect(result.outcome == vector.expect, "\(vector.name): \(String(describing: result.error))")
        if vector.expect == .success {
            #expect(BLAKE2b.hash(result.content).hexString == vector.payloadHash)
        }
    }

    @Test("the vector set covers every outcome and the cases the format promises")
    func coverage() throws {
        let vectors = try Vector.all()
        // Every outcome of the format; a read error is about the medium, not the bytes.
        #expect(Set(vectors.map(\.expect)) == Set(Outcome.allCases).subtracting([.readError]))
        for required in ["empty", "one_chunk", "chunk_boundary_minus_1", "chunk_boundary", "chunk_boundary_plus_1", "many_chunks",
                         "several_recipients_third", "flip_magic", "flip_header_mac", "flip_data_chunk", "truncated_at_chunk_boundary",
                         "truncated_mid_chunk", "two_final_chunks", "trailing_data", "swapped_chunks", "spliced_header",
                         "unknown_version", "wrong_key", "truncated_stream_header", "duplicate_key_id"] + Self.metadataVectors.keys {
            #expect(vectors.contains { $0.name == required }, "missing vector \(required)")
        }
    }

    /// The vectors of the metadata rules, and the words of the rule each one's error names.
    static let metadataVectors: [String: String] = [
        "metadata_as_written": "", "metadata_no_time": "",
        "metadata_bom": "it starts with a byte order mark; the metadata is UTF-8 without one (at byte 0)",
        "metadata_utf16": "it contains a zero byte (UTF-16 or UTF-32 text?)",
        "metadata_duplicate_member": "member \"name\" appears twice in one object",
        "metadata_name_null": "member \"name\" must be a string, not null",
        "metadata_time_offset": "member \"time\" must be exactly YYYY-MM-DDTHH:MM:SSZ: UTC written as Z, no other offset",
        "metadata_time_fraction": "member \"time\" must be exactly YYYY-MM-DDTHH:MM:SSZ: no fraction of a second",
        "metadata_year_0000": "member \"time\" has year 0000; years are 0001 to 9999",
        "metadata_no_sealed_by": "member \"sealed_by\" is missing (it is required)",
        "metadata_invalid_json": "a comma before the end of an object",
        "metadata_size_larger": "the content is 100 bytes, but member \"size\" declares 101",
        "metadata_size_smaller": "the content is 100 bytes, but member \"size\" declares 99",
        "metadata_lone_surrogate": "a lone surrogate",
    ]

    @Test("each metadata vector fails for the rule it was made to break, and releases nothing", arguments: metadataVectors.keys.sorted())
    func metadataRule(_ name: String) throws {
        let vector = try Vector.load(name)
        let result = open(vector.bytes, keys: [VectorKeys.unlocked["a"]!])
        let words = try #require(Self.metadataVectors[name])
        if words.isEmpty {
            #expect(result.outcome == .success)
            #expect(result.content == Array((0..<100).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 3) }))
        } else {
            #expect(result.outcome == .badMetadata)
            #expect(result.content.isEmpty)
            let message = result.error?.description ?? "no error"
            #expect(message.contains("bad metadata: the metadata authenticated") && message.contains(words), "\(message)")
        }
    }

    @Test("two entries with one key ID and a cut stream header fail as the format says, for recipient and outsider alike")
    func headerRules() throws {
        let twice = try Vector.load("duplicate_key_id")
        for keys in [["a"], ["b"]] {
            let result = open(twice.bytes, keys: keys.map { VectorKeys.unlocked[$0]! })
            #expect(result.outcome == .headerFailure)
            #expect(result.error?.reason.hasPrefix("malformed header: recipient entries 1 and 2 both have key ID ") == true)
        }
        let cut = try Vector.load("truncated_stream_header")
        #expect(open(cut.bytes, keys: [VectorKeys.unlocked["a"]!]).error == .truncatedStreamHeader)
        #expect(open(cut.bytes, keys: [VectorKeys.unlocked["b"]!]).outcome == .noMatch)
    }

    @Test("a failing payload releases only chunks that authenticated")
    func failingPayloadReleasesOnlyValidPrefix() throws {
        let vector = try Vector.load("flip_data_chunk")
        let intact = try Vector.load("many_chunks")
        let result = open(vector.bytes, keys: [VectorKeys.unlocked["a"]!])
        #expect(result.outcome == .payloadFailure)
        #expect(result.content.count == Layout.chunkCapacity)  // the first chunk only
        let whole = open(intact.bytes, keys: [VectorKeys.unlocked["a"]!]).content
        #expect(Array(whole.prefix(result.content.count)) == result.content)
    }
}
