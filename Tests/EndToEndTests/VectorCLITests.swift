import Foundation
import SealDropCrypto
import SealDropKeys
import SealDropTestSupport
import Testing

/// The committed format vectors, opened by the real `keyholder decrypt`: a success yields the
/// stated content; every failure exits 1 with the outcome's message and leaves no output file.
@Suite("Format vectors through keyholder decrypt")
struct VectorCLITests {
    static let vectorFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("SealDropFormatTests/Vectors")

    static func vectorNames() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: vectorFolder.path).filter { $0 != "keys" }.sorted()
    }

    /// Splits a vector file into its fields and the submission bytes.
    static func load(_ name: String) throws -> (fields: [String: String], body: Data) {
        let data = try Data(contentsOf: vectorFolder.appendingPathComponent(name))
        let separator = data.range(of: Data("\n\n".utf8))!
        var fields: [String: String] = [:]
        for line in String(decoding: data[..<separator.lowerBound], as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            fields[parts[0]] = parts[1]
        }
        return (fields, data[separator.upperBound...])
    }

    @Test("each vector's outcome, through the binary", arguments: try vectorNames())
    func vector(_ name: String) throws {
        let (fields, body) = try Self.load(name)
        let dir = try TemporaryDirectory()
        let keysFolder = Self.vectorFolder.appendingPathComponent("keys")
        var arguments = ["decrypt", "--passphrase-file", keysFolder.appendingPathComponent("passphrase").path, "--out", dir.file("out")]
        for key in fields["keys"]!.split(separator: " ") {
            // Key files need mode 0600; git does not keep modes, so copy them.
            let copy = dir.file("\(key).key")
            try FileManager.default.copyItem(atPath: keysFolder.appendingPathComponent("\(key).key").path, toPath: copy)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: copy)
            arguments += ["--key", copy]
        }
        // The submission lies in a folder of its own: an output beside it would be refused.
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: false)
        try body.write(to: URL(fileURLWithPath: dir.file("in/\(name).sealdrop")))
        let result = try runProcess(TestBinaries.path("keyholder"), arguments + [dir.file("in/\(name).sealdrop")],
                                    environment: Harness.environment())
        let outputs = (try? FileManager.default.contentsOfDirectory(atPath: dir.file("out"))) ?? []
        switch fields["expect"]! {
        case "success":
            #expect(result.status == 0, "\(result.stderr)")
            let content = try Data(contentsOf: URL(fileURLWithPath: dir.file("out/\(try #require(outputs.first { !$0.hasSuffix(".about.txt") }))")))
            #expect(outputs.count == 2, "the content and its .about.txt: \(outputs)")
            #expect(BLAKE2b.hash([UInt8](content)).hexString == fields["payload"])
        case let failure:
            #expect(result.status == 1)
            #expect(outputs.isEmpty, "left \(outputs)")
            let expected = ["no match": "no matching key", "header failure": "header failure", "payload failure": "payload failure"][failure]!
            #expect(result.stderr.contains("keyholder: error:") && result.stderr.contains(expected), "\(result.stderr)")
        }
    }
}
