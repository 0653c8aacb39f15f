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
                         "unknown_version", "wrong_key"] {
            #expect(vectors.contains { $0.name == required }, "missing vector \(required)")
        }
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
