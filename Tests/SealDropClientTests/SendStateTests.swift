import Foundation
import SealDropCLISupport
import SealDropClient
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import Testing

/// The `--state` file: what a later run needs to resume, and nothing it can misread.
@Suite("The send state file")
struct SendStateTests {
    /// A state for a fresh envelope of `size` bytes, with an upload.
    static func state(size: UInt64 = 200_000) throws -> SendState {
        let fileKey = FileKey()
        let writer = try EnvelopeWriter(recipients: [SecretKey.generate().publicKey], metadata: Metadata(name: "f.bin", size: size, sealedBy: .source),
                                        fileKey: fileKey, keepingCheckpoints: true)
        return SendState(drop: "sealdropaddr1example", fileSize: size, contentCheck: [UInt8](repeating: 7, count: 32), fileKey: fileKey,
                         checkpoints: try #require(writer.checkpoints),
                         upload: ResumableUpload(id: "k7q2m4xw3bz5r6tn2a4pdv7e", token: "0123456789abcdef0123456789abcdef"))
    }

    /// The bytes `state` writes.
    static func written(_ state: SendState) throws -> [UInt8] {
        let path = NSTemporaryDirectory() + "state-\(UUID())"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        defer { close(fd); unlink(path) }
        try state.write(to: fd)
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test("what is written reads back: the same drop, size, check, upload, and an envelope start that seals the same bytes")
    func roundTrip() throws {
        let original = try Self.state()
        var bytes = try Self.written(original)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("# sealdrop send state."))
        #expect(text.contains("\nSEALDROP-SEND-STATE-1\n") && text.contains("\ntoken: 0123456789abcdef0123456789abcdef\n"))
        let read = try SendState.parse(&bytes)
        #expect(bytes.allSatisfy { $0 == 0 }, "the bytes read are zeroed")
        #expect(read.drop == original.drop && read.fileSize == original.fileSize && read.contentCheck == original.contentCheck)
        #expect(read.upload == original.upload)
        #expect(read.checkpoints.prefix == original.checkpoints.prefix && read.checkpoints.sealedLength == original.checkpoints.sealedLength)
        let first = { (checkpoints: SealingCheckpoints) -> [UInt8] in
            var state = [UInt8](repeating: 0, count: SecretStreamPusher.stateByteCount)
            state.withUnsafeMutableBytes { checkpoints.copyFirstState(into: $0) }
            return state
        }
        #expect(first(read.checkpoints) == first(original.checkpoints))
        #expect(read.fileKey.withUnsafeBytes { Array($0) } == original.fileKey.withUnsafeBytes { Array($0) })
    }

    @Test("a damaged or foreign state file is refused with a hint, never half-read", arguments: [
        ("magic", "SEALDROP-SEND-STATE-1", "SEALDROP-SEND-STATE-2"),
        ("unknown line", "\nfile-size: ", "\ncolour: blue\nfile-size: "),
        ("a line twice", "\nfile-size: ", "\nfile-size: 1\nfile-size: "),
        ("size", "\nfile-size: 200000", "\nfile-size: -5"),
        ("file key", "\nfile-key: ", "\nfile-key: zz"),
        ("stream state", "\nstream-state: ", "\nstream-state: 00"),
        ("prefix", "\nprefix: ", "\nprefix: AAAA"),
        ("token without upload", "\nupload: k7q2m4xw3bz5r6tn2a4pdv7e", ""),
        ("not name: value", "\ndrop: ", "\ndrop:"),
    ])
    func damaged(label: String, find: String, replace: String) throws {
        let text = String(decoding: try Self.written(try Self.state()), as: UTF8.self)
        #expect(text.contains(find), "\(label)")
        var bytes = Array(text.replacingOccurrences(of: find, with: replace).utf8)
        #expect(throws: CLIError.self, "\(label)") { _ = try SendState.parse(&bytes) }
        do { _ = try SendState.parse(&bytes) } catch {
            #expect(error.hint?.contains("delete the state file") == true, "\(label): \(error)")
        }
    }
}
