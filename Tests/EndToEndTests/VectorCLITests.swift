import Foundation
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropStore
import SealDropTestSupport
import Testing

/// The committed format vectors, opened by the real `keyholder decrypt`: a success yields the
/// stated content; every failure exits 1 with the outcome's message and leaves no output file.
/// `keyholder verify` prints each vector's stated outcome and exits 0 or 1 accordingly.
@Suite("Format vectors through keyholder decrypt and verify")
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

    /// The words a failure's message starts with, by stated outcome.
    static let messagePrefixes = ["no match": "no matching key", "header failure": "header failure",
                                  "payload failure": "payload failure", "bad metadata": "bad metadata"]

    /// Copies the vector's keys into `dir` with mode 0600 (git does not keep modes, and keyholder
    /// refuses a key file others can read) and writes the submission into a folder of its own.
    /// Returns the key and passphrase arguments and the submission's path.
    static func prepare(_ name: String, fields: [String: String], body: Data, in dir: TemporaryDirectory) throws -> (arguments: [String], path: String) {
        let keysFolder = vectorFolder.appendingPathComponent("keys")
        var arguments = ["--passphrase-file", keysFolder.appendingPathComponent("passphrase").path]
        for key in fields["keys"]!.split(separator: " ") {
            let copy = dir.file("\(key).key")
            try FileManager.default.copyItem(atPath: keysFolder.appendingPathComponent("\(key).key").path, toPath: copy)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: copy)
            arguments += ["--key", copy]
        }
        // The submission lies in a folder of its own: an output beside it would be refused.
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: false)
        try body.write(to: URL(fileURLWithPath: dir.file("in/\(name).sealdrop")))
        return (arguments, dir.file("in/\(name).sealdrop"))
    }

    @Test("each vector's outcome, through keyholder decrypt", arguments: try vectorNames())
    func vector(_ name: String) throws {
        let (fields, body) = try Self.load(name)
        let dir = try TemporaryDirectory()
        let (keyArguments, path) = try Self.prepare(name, fields: fields, body: body, in: dir)
        let result = try runProcess(TestBinaries.path("keyholder"), ["decrypt"] + keyArguments + ["--out", dir.file("out"), path],
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
            let expected = try #require(Self.messagePrefixes[failure], "an outcome without a message prefix: \(failure)")
            #expect(result.stderr.contains("keyholder: error: \(path): \(expected): "), "\(result.stderr)")
        }
    }

    @Test("each vector's outcome, through keyholder verify", arguments: try vectorNames())
    func verify(_ name: String) throws {
        let (fields, body) = try Self.load(name)
        let dir = try TemporaryDirectory()
        let (keyArguments, path) = try Self.prepare(name, fields: fields, body: body, in: dir)
        let result = try runProcess(TestBinaries.path("keyholder"), ["verify"] + keyArguments + [path], environment: Harness.environment())
        let expect = fields["expect"]!
        #expect(result.stdout == "\(path): \(expect == "success" ? "ok" : expect)\n", "\(result.stderr)")
        #expect(result.status == (expect == "success" ? 0 : 1), "\(result.stderr)")
        if expect == "success" {
            #expect(!result.stderr.contains("keyholder: error:"), "\(result.stderr)")
        } else {
            let prefix = try #require(Self.messagePrefixes[expect], "an outcome without a message prefix: \(expect)")
            #expect(result.stderr.contains("keyholder: error: \(path): \(prefix): "), "\(result.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("in")) == ["\(name).sealdrop"], "verify wrote beside the input")
    }
}

/// `sealdrop seal --no-time` writes metadata without `time` (FormatV1.md, "Metadata"), which the
/// keyholder opens as a success and reports as no time given; without the flag the time is there.
@Suite("sealdrop seal --no-time")
struct NoTimeCLITests {
    /// Seals `content` with the real `sealdrop seal` and `extra` options; returns the file's path.
    func seal(_ content: String, _ extra: [String], in workspace: Workspace) throws -> String {
        let input = workspace.dir.file("plain-\(UUID().uuidString)")
        try Data(content.utf8).write(to: URL(fileURLWithPath: input))
        let output = "\(workspace.inbox)/\(SubmissionID.random().fileName)"
        let result = try Harness.sealdrop(["seal", "--recipient", try Harness.publicKey("a").text, "--output", output] + extra + [input])
        #expect(result.status == 0, "\(result.stderr)")
        return output
    }

    /// The metadata of the submission at `path`, opened in-process with vector key `a`.
    func metadata(_ path: String) throws -> Metadata {
        let text = try String(contentsOf: Harness.vectorFolder.appendingPathComponent("keys/a.key"), encoding: .utf8)
        let passphrase = Array("sealdrop test vectors".utf8).withUnsafeBytes { SecureBytes(copying: $0) }
        let key = try KeyFile(text: text).unlock(passphrase: passphrase)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        return try EnvelopeReader(source: ArraySource(bytes), keys: [key]).metadata
    }

    @Test("--no-time records no time; the file opens, and the about file says no time was given")
    func noTime() throws {
        let workspace = try Workspace()
        let timeless = try seal("no clock here", ["--no-time", "--name", "n.txt"], in: workspace)
        let before = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        let timed = try seal("with a clock", ["--name", "t.txt"], in: workspace)
        #expect(try metadata(timeless).time == nil)
        #expect(try metadata(timeless).sealedBy == .source)
        let time = try #require(try metadata(timed).time)
        #expect(time >= before && time <= Date())

        let verify = try Harness.keyholder(["verify"] + workspace.keyArguments() + [timeless])
        #expect(verify.stdout == "\(timeless): ok\n" && verify.status == 0, "\(verify.stderr)")
        let decrypt = try Harness.keyholder(["decrypt"] + workspace.keyArguments() + ["--out", workspace.out, timeless])
        #expect(decrypt.status == 0, "\(decrypt.stderr)")
        let about = try String(contentsOfFile: "\(workspace.out)/n.txt.about.txt", encoding: .utf8)
        #expect(about.contains("sealed      the submission claims: sealed by the source, no time given (unverified)\n"), "\(about)")
        #expect(try String(contentsOfFile: "\(workspace.out)/n.txt", encoding: .utf8) == "no clock here")

        let help = try Harness.sealdrop(["seal", "--help"])
        #expect(help.stdout.contains("--no-time") && help.stdout.contains("Example:"), "\(help.stdout)")
    }
}
