import Foundation
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropStore
import SealDropTestSupport
import Testing

/// The README's keyholder tour, run as written: every command line of the block between
/// `<!-- keyholder-tour:begin -->` and `<!-- keyholder-tour:end -->`, in order, by bash on a
/// terminal, from a fresh home folder, answering the passphrase prompts as a person would. The
/// only changes are the medium's path (`/media/usb/spool` becomes a folder of the test's), which
/// the test fills, as the operator would, just before the first command that reads it, and the
/// drop key the keyholder pins (`sealdropdrop1…` becomes the test drop's key, which signs the
/// provenance record beside each submission on the medium, as the daemon would).
@Suite("The README's keyholder tour")
struct ReadmeTourTests {
    static let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("README.md")

    /// The tour's command lines, comments and blank lines left out.
    static func tourCommands() throws -> [String] {
        let text = try String(contentsOf: readme, encoding: .utf8)
        let begin = try #require(text.range(of: "<!-- keyholder-tour:begin -->"))
        let end = try #require(text.range(of: "<!-- keyholder-tour:end -->"))
        let block = text[begin.upperBound..<end.lowerBound]
        return block.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") && !$0.hasPrefix("```") }
    }

    @Test("every command of the tour succeeds, in order, and the submissions open")
    func tour() throws {
        let commands = try Self.tourCommands()
        #expect(commands.count >= 6, "\(commands)")
        let home = try TemporaryDirectory("readme-tour")
        let work = try TemporaryDirectory("readme-medium")
        let medium = work.file("spool")
        let path = TestBinaries.productsDirectory.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let passphrase = TestKey.passphrase
        var publicKey: String?
        var sent: [String: Data] = [:]
        var outputs: [String: String] = [:]
        let dropKey = SigningSecretKey.generate()
        for command in commands {
            if command.contains("/media/usb/spool"), sent.isEmpty {
                // The operator's medium: a copy of a spool holding two uploads sealed to the key.
                let key = try PublicKey(text: try #require(publicKey, "the tour printed no public key before the medium"))
                try FileManager.default.createDirectory(atPath: medium + "/inbox", withIntermediateDirectories: true)
                try FileManager.default.createDirectory(atPath: medium + "/tmp", withIntermediateDirectories: true)
                for (index, name) in ["minutes.txt", "ledger.csv"].enumerated() {
                    let content = Data("document \(index)\n".utf8)
                    try content.write(to: URL(fileURLWithPath: work.file(name)))
                    let id = SubmissionID.random()
                    let stored = "\(medium)/inbox/\(id.fileName)"
                    let seal = try Harness.sealdrop(["seal", "-r", key.text, "--message", "from the tour", "-o", stored, work.file(name)])
                    #expect(seal.status == 0, "\(seal.stderr)")
                    try writeRecord(for: stored, id: id, signedBy: dropKey, sealedTo: key)
                    sent[name] = content
                }
            }
            let line = command.replacingOccurrences(of: "/media/usb/spool", with: medium)
                .replacingOccurrences(of: "sealdropdrop1…", with: DropPublicKey(dropKey.publicKey).text)
            let result = try converse(["/usr/bin/env", "HOME=\(home.path)", "PATH=\(path)", "/bin/bash", "--norc", "--noprofile", "-c", line], replies: [
                ("Passphrase for the new key: ", [passphrase]),
                ("Repeat the passphrase: ", [passphrase]),
                ("Passphrase for \(home.path)", [passphrase]),
            ])
            #expect(result.status == 0, "\(command): \(result.output)")
            outputs[command] = result.output
            if let key = result.output.components(separatedBy: "\r\n").last(where: { $0.hasPrefix("sealdrop1") }) { publicKey = key }
        }
        let listed = try #require(outputs.first { $0.key.hasPrefix("keyholder list") }?.value)
        #expect(listed.components(separatedBy: "  new  ").count == 3)
        // Each record verified under the pinned drop key: came through SEALED, so sealed by the source.
        #expect(listed.components(separatedBy: "  source   ok  ").count == 3, "\(listed)")
        for (name, content) in sent {
            #expect(try Data(contentsOf: URL(fileURLWithPath: home.file("opened/\(name)"))) == content, "\(name)")
            #expect(FileManager.default.fileExists(atPath: home.file("opened/\(name).about.txt")))
        }
    }
}

/// Writes the provenance record a drop would have written for the submission at `path`: received
/// now through `SEALED`, signed by `dropKey`, sealed to `key`.
func writeRecord(for path: String, id: SubmissionID, signedBy dropKey: SigningSecretKey, sealedTo key: PublicKey) throws {
    let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let header = try #require(try EnvelopeHeader.parse(prefix: Array(bytes.prefix(Layout.maxHeaderByteCount))))
    let payload = Array(bytes[header.bytes.count...])
    let record = ProvenanceRecord(submission: id.text, door: ProvenanceRecord.Door.sealed, received: Date(), bytes: UInt64(bytes.count),
                                  headerHash: BLAKE2b.hash(header.bytes), payloadBytes: UInt64(payload.count), payloadHash: BLAKE2b.hash(payload),
                                  dropKey: DropPublicKey(dropKey.publicKey))
    let recordPath = String(path.dropLast(".sealdrop".count)) + ".record"
    try Data(try record.sealed(with: dropKey, to: [key])).write(to: URL(fileURLWithPath: recordPath))
}
