import Foundation
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropStore
import SealDropTestSupport
import Testing

/// One committed vector that must fail, with the message keyholder must give for it.
struct FailingVector: CustomTestStringConvertible, Sendable {
    let name: String
    let status: String
    let message: String
    var testDescription: String { name }
}

/// Classes 22-25 of BAD-INPUTS.md through the real `keyholder`, on the committed vectors: a
/// flipped byte anywhere, truncations, two FINAL chunks, trailing data, swapped, duplicated,
/// removed and spliced chunks and headers. Each decrypt exits 1 with the outcome's message and
/// leaves no output file (not even a hidden `.sealdrop-*.partial`); each verify names the
/// outcome and writes nothing.
@Suite("keyholder bad inputs 22-25: damaged submissions")
struct DamagedSubmissionTests {
    static let header = "header failure: "
    static let payload = "payload failure: "
    static let chunkFailed = "failed to decrypt and authenticate; the file is truncated or corrupt, or was tampered with"

    /// Class 22: one flipped byte in each region.
    static let flips: [FailingVector] = [
        .init(name: "flip_magic", status: "header failure", message: header + "not a SealDrop submission (it does not start with \"SEALDROP\")"),
        .init(name: "flip_recipient_count", status: "header failure", message: header + "malformed header: recipient count 0 is outside 1...32"),
        .init(name: "flip_metadata_length", status: "header failure", message: header + "malformed header: metadata length 4352 is not a multiple of 4096"),
        .init(name: "flip_key_id", status: "no match", message: "no matching key: it is sealed to key ID 8c709843a7bebbef; none of your keys (key ID 8d709843a7bebbef)"),
        .init(name: "flip_sealed_file_key", status: "header failure", message: header + "the file key sealed to key ID 8d709843a7bebbef does not open"),
        .init(name: "flip_header_mac", status: "header failure", message: header + "header authentication failed"),
        .init(name: "flip_stream_header", status: "header failure", message: header + "header authentication failed"),
        .init(name: "edited_recipient_entry", status: "header failure", message: header + "header authentication failed"),
        .init(name: "flip_metadata_chunk", status: "payload failure", message: payload + "chunk 0 " + chunkFailed),
        .init(name: "flip_data_chunk", status: "payload failure", message: payload + "chunk 2 " + chunkFailed),
        .init(name: "flip_last_byte", status: "payload failure", message: payload + "chunk 3 " + chunkFailed),
    ]

    /// Class 23: truncated at a chunk boundary or mid-chunk, no or two FINAL chunks, data after FINAL.
    static let truncations: [FailingVector] = [
        .init(name: "truncated_header", status: "header failure", message: header + "malformed header: the file ends inside the header"),
        .init(name: "truncated_after_metadata", status: "payload failure", message: payload + "truncated or corrupt (the final chunk is missing)"),
        .init(name: "truncated_at_chunk_boundary", status: "payload failure", message: payload + "truncated or corrupt (the final chunk is missing)"),
        .init(name: "truncated_mid_chunk", status: "payload failure", message: payload + "chunk 2 " + chunkFailed),
        .init(name: "no_final_tag", status: "payload failure", message: payload + "truncated or corrupt (the final chunk is missing)"),
        .init(name: "two_final_chunks", status: "payload failure", message: payload + "chunk 1 " + chunkFailed),
        .init(name: "trailing_data", status: "payload failure", message: payload + "chunk 3 " + chunkFailed),
        .init(name: "trailing_chunk", status: "payload failure", message: payload + "chunk 3 " + chunkFailed),
        .init(name: "push_tag", status: "payload failure", message: payload + "truncated or corrupt (chunk 1: unexpected chunk tag 1)"),
        .init(name: "length_field_too_large", status: "payload failure", message: payload + "truncated or corrupt (chunk 1: length field 100 exceeds the chunk)"),
        .init(name: "nonzero_padding", status: "payload failure", message: payload + "truncated or corrupt (chunk 1: non-zero padding)"),
        .init(name: "content_after_end", status: "payload failure", message: payload + "truncated or corrupt (chunk 2: content after the end of content)"),
    ]

    /// Class 24: chunks swapped, duplicated or removed; a header or chunk from another submission.
    static let reorderings: [FailingVector] = [
        .init(name: "swapped_chunks", status: "payload failure", message: payload + "chunk 1 " + chunkFailed),
        .init(name: "duplicated_chunk", status: "payload failure", message: payload + "chunk 3 " + chunkFailed),
        .init(name: "removed_chunk", status: "payload failure", message: payload + "chunk 2 " + chunkFailed),
        .init(name: "spliced_payload_chunk", status: "payload failure", message: payload + "chunk 2 " + chunkFailed),
        .init(name: "spliced_header", status: "header failure", message: header + "header authentication failed"),
        .init(name: "unknown_version", status: "header failure", message: header + "unsupported submission format version 2"),
    ]

    /// Decrypts and verifies one failing vector and checks message, exit status and outputs.
    func check(_ vector: FailingVector) throws {
        let workspace = try Workspace()
        let path = try workspace.addVector(vector.name)
        let stated = try Harness.vector(vector.name).fields["expect"]
        #expect(stated == vector.status, "the vector states \(stated ?? "nothing")")

        let decrypt = try Harness.keyholder(["decrypt"] + workspace.keyArguments() + ["--out", workspace.out, path])
        #expect(decrypt.status == 1, "\(decrypt.stderr)")
        #expect(decrypt.stderr.contains("keyholder: error: \(path): \(vector.message)"), "\(decrypt.stderr)")
        #expect(decrypt.stderr.contains("keyholder: hint: "), "\(decrypt.stderr)")
        expectOnlyDiagnostics(decrypt.stderr)
        #expect(decrypt.stdout.isEmpty)
        #expect(workspace.everything().isEmpty, "left \(workspace.everything())")

        let before = try FileManager.default.subpathsOfDirectory(atPath: workspace.dir.path).sorted()
        let verify = try Harness.keyholder(["verify"] + workspace.keyArguments() + [path])
        #expect(verify.status == 1)
        #expect(verify.stdout == "\(path): \(vector.status)\n")
        #expect(verify.stderr.contains("keyholder: error: \(path): \(vector.message)"), "\(verify.stderr)")
        #expect(try FileManager.default.subpathsOfDirectory(atPath: workspace.dir.path).sorted() == before, "verify wrote something")
    }

    @Test("22: a flipped byte in each region fails with its outcome, no output", arguments: flips)
    func flippedByte(_ vector: FailingVector) throws { try check(vector) }

    @Test("23: truncated, no or two FINAL chunks, trailing data: 'truncated or corrupt', no output", arguments: truncations)
    func truncated(_ vector: FailingVector) throws { try check(vector) }

    @Test("24: swapped, duplicated, removed or spliced chunks and headers fail, no output", arguments: reorderings)
    func reordered(_ vector: FailingVector) throws { try check(vector) }

    @Test("22: every single-byte flip of a whole submission fails decrypt and verify, and nothing is written")
    func everyByteFlipped() throws {
        let workspace = try Workspace()
        let original = try workspace.seal(Data("a small secret".utf8), name: "secret.txt", message: "hello")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: original)))
        try FileManager.default.removeItem(atPath: original)
        var paths: [String] = []
        for offset in bytes.indices {
            var damaged = bytes
            damaged[offset] ^= 0x20
            let number = String(offset)
            let path = (workspace.inbox as NSString).appendingPathComponent("flip-\(String(repeating: "0", count: 5 - number.count))\(number).sealdrop")
            try Data(damaged).write(to: URL(fileURLWithPath: path))
            paths.append(path)
        }
        let verify = try Harness.keyholder(["verify"] + workspace.keyArguments() + [workspace.inbox])
        #expect(verify.status == 1)
        let lines = verify.stdout.split(separator: "\n")
        #expect(lines.count == bytes.count)
        #expect(!lines.contains { $0.hasSuffix(": ok") }, "a flipped byte went unnoticed")
        #expect(verify.stderr.contains("keyholder: \(bytes.count) of \(bytes.count) submissions failed verification"))

        let decrypt = try Harness.keyholder(["decrypt"] + workspace.keyArguments() + ["--out", workspace.out, "--all", "--in", workspace.inbox])
        #expect(decrypt.status == 1)
        #expect(decrypt.stdout.isEmpty)
        #expect(decrypt.stderr.contains("keyholder: 0 of \(bytes.count) submissions decrypted; \(bytes.count) failed"))
        #expect(workspace.everything().isEmpty, "left \(workspace.everything().prefix(5))")
    }

    @Test("25: a failure at chunk k deletes the partial output; the other submissions still decrypt")
    func failureLateInALargeFile() throws {
        let workspace = try Workspace()
        let content = Data(testBytes(count: 3 << 20))
        let good = try workspace.seal(content, name: "good.bin")
        let late = try workspace.seal(content, name: "late.bin")
        // Damage the last full chunk: about 3 MiB of plaintext were released before it fails.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: late)))
        bytes[bytes.count - Layout.fullChunkByteCount] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: late))
        let truncated = (workspace.inbox as NSString).appendingPathComponent("truncated.sealdrop")
        try Data(bytes.prefix(bytes.count - 100)).write(to: URL(fileURLWithPath: truncated))

        let result = try Harness.keyholder(["decrypt"] + workspace.keyArguments() + ["--out", workspace.out, late, good, truncated])
        #expect(result.status == 1)
        #expect(result.stderr.contains("keyholder: error: \(late): payload failure: chunk "), "\(result.stderr)")
        #expect(result.stderr.contains("keyholder: error: \(truncated): payload failure: "), "\(result.stderr)")
        #expect(result.stderr.contains("keyholder: 1 of 3 submissions decrypted; 2 failed"))
        #expect(result.stdout == "\(good): ok -> \(workspace.out)/good.bin\n")
        #expect(workspace.outputs() == ["good.bin"])
        #expect(try workspace.output("good.bin") == content)
    }

    @Test("every committed vector: verify names exactly the outcome the vector states")
    func verifyNamesEveryOutcome() throws {
        let workspace = try Workspace()
        var byKeys: [String: [(path: String, expect: String)]] = [:]
        for name in try Harness.vectorNames() {
            let fields = try Harness.vector(name).fields
            byKeys[fields["keys"]!, default: []].append((try workspace.addVector(name), fields["expect"]!))
        }
        for (keys, vectors) in byKeys {
            let keyNames = keys.split(separator: " ").map(String.init)
            let result = try Harness.keyholder(["verify"] + workspace.keyArguments(keyNames) + vectors.map(\.path))
            let expected = vectors.map { "\($0.path): \($0.expect == "success" ? "ok" : $0.expect)\n" }.joined()
            #expect(result.stdout == expected)
            #expect(result.status == (vectors.allSatisfy { $0.expect == "success" } ? 0 : 1))
        }
        #expect(workspace.everything().isEmpty)
    }
}

/// Classes 26-29: keys that do not match or cannot be used, and outputs that would be inputs.
@Suite("keyholder bad inputs 26-29: keys and outputs")
struct KeyAndOutputTests {
    @Test("26: no matching key is its own error naming the key IDs in the file; no key is unlocked for it")
    func noMatchingKey() throws {
        let workspace = try Workspace()
        let path = try workspace.addVector("wrong_key")  // sealed to b and c
        // A wrong passphrase does not matter: the key is never unlocked for a file it cannot open.
        try Data("not the passphrase\n".utf8).write(to: URL(fileURLWithPath: workspace.dir.file("wrong")))
        let result = try Harness.keyholder(["decrypt", "--key", workspace.key("a"), "--passphrase-file", workspace.dir.file("wrong"), "--out", workspace.out, path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("keyholder: error: \(path): no matching key: it is sealed to key ID 26e3bd148a939dae, 6b318b2da7c253f4; none of your keys (key ID 8d709843a7bebbef) is among them"), "\(result.stderr)")
        #expect(result.stderr.contains("keyholder: hint: open it with the secret key of one of those key IDs (--key KEYFILE); a key rotated out of the keyring cannot open it"))
        #expect(!result.stderr.contains("passphrase"))
        #expect(!FileManager.default.fileExists(atPath: workspace.out), "the output folder was created")

        let list = try Harness.keyholder(["list"] + workspace.keyArguments() + [path])
        #expect(list.status == 1)
        #expect(list.stdout.contains("26e3bd148a939dae +1"))
        #expect(list.stdout.contains("no match"))
        let verify = try Harness.keyholder(["verify"] + workspace.keyArguments() + [path])
        #expect(verify.stdout == "\(path): no match\n")
        #expect(verify.status == 1)
    }

    @Test("26: a key rotated out of the keyring: the submission names a key the keyring does not hold")
    func rotatedOut() throws {
        let workspace = try Workspace()
        let keyring = workspace.dir.file("ring")
        try FileManager.default.createDirectory(atPath: keyring, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        for name in ["b", "c"] { try FileManager.default.copyItem(atPath: workspace.key(name), toPath: "\(keyring)/\(name).key") }
        let path = try workspace.seal(Data("for a".utf8), name: "x.txt", to: ["a"])
        let result = try Harness.keyholder(["decrypt", "--keyring", keyring, "--passphrase-file", workspace.passphraseFile, "--out", workspace.out, path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("no matching key: it is sealed to key ID 8d709843a7bebbef; none of your keys (key ID 26e3bd148a939dae, 6b318b2da7c253f4) is among them"), "\(result.stderr)")
        #expect(workspace.everything().isEmpty)
    }

    @Test("27: a wrong passphrase is its own error; nothing is written, not even the output folder")
    func wrongPassphrase() throws {
        let workspace = try Workspace()
        let path = try workspace.seal(Data("secret".utf8), name: "x.txt")
        try Data("not the passphrase\n".utf8).write(to: URL(fileURLWithPath: workspace.dir.file("wrong")))
        for command in [["decrypt", "--out", workspace.out], ["list"], ["verify"], ["show"]] {
            let result = try Harness.keyholder(command + ["--key", workspace.key("a"), "--passphrase-file", workspace.dir.file("wrong"), path])
            #expect(result.status == 2, "\(command): \(result.stderr)")
            #expect(result.stderr.hasPrefix("keyholder: error: wrong passphrase for key file \(workspace.key("a")) (key ID 8d709843a7bebbef)\n"), "\(result.stderr)")
            #expect(result.stderr.contains("keyholder: hint: check the passphrase"))
            #expect(result.stdout.isEmpty, "\(command) printed \(result.stdout)")
        }
        #expect(!FileManager.default.fileExists(atPath: workspace.out))
    }

    @Test("27: corrupt key files are refused with a clear error; nothing is written")
    func corruptKeyFiles() throws {
        let workspace = try Workspace()
        let path = try workspace.seal(Data("secret".utf8), name: "x.txt")
        let original = try String(contentsOfFile: workspace.key("a"), encoding: .utf8)
        let keyLine = original.split(separator: "\n").first { $0.hasPrefix("SEALDROP-SECRET-KEY-1:") }!
        let blob = [UInt8](Data(base64Encoded: String(keyLine.dropFirst("SEALDROP-SECRET-KEY-1:".count)))!)
        func withBlob(_ change: (inout [UInt8]) -> Void) -> String {
            var copy = blob
            change(&copy)
            return original.replacingOccurrences(of: String(keyLine), with: "SEALDROP-SECRET-KEY-1:" + Data(copy).base64EncodedString())
        }
        let publicKeyText = try Harness.publicKey("a").text
        let cases: [(String, String, String)] = [
            ("garbage", "hello, world\n", "is not a SealDrop secret key file, or it is corrupt"),
            ("empty", "", "is not a SealDrop secret key file, or it is corrupt"),
            ("cut short", original.replacingOccurrences(of: String(keyLine), with: String(keyLine.prefix(60))), "is not a SealDrop secret key file, or it is corrupt"),
            ("a public key", publicKeyText + "\n", "is not a SealDrop secret key file, or it is corrupt"),
            ("unknown version", original.replacingOccurrences(of: "SEALDROP-SECRET-KEY-1:", with: "SEALDROP-SECRET-KEY-9:"), "has an unknown format (SEALDROP-SECRET-KEY-9)"),
            ("weakened Argon2id limits", withBlob { $0[7] = 1 }, "asks for Argon2id limits outside what SealDrop accepts"),
            ("damaged secret", withBlob { $0[100] ^= 1 }, "wrong passphrase for key file"),
            ("damaged salt", withBlob { $0[20] ^= 1 }, "wrong passphrase for key file"),
        ]
        for (label, text, message) in cases {
            let key = workspace.dir.file("keys/\(label.replacingOccurrences(of: " ", with: "-")).key")
            try Data(text.utf8).write(to: URL(fileURLWithPath: key))
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: key)
            let result = try Harness.keyholder(["decrypt", "--key", key, "--passphrase-file", workspace.passphraseFile, "--out", workspace.out, path])
            #expect(result.status == 2, "\(label): \(result.stderr)")
            #expect(result.stderr.hasPrefix("keyholder: error: ") && result.stderr.contains(message), "\(label): \(result.stderr)")
            #expect(result.stderr.contains("keyholder: hint: "), "\(label)")
            #expect(!FileManager.default.fileExists(atPath: workspace.out), "\(label)")
        }
    }

    @Test("28: a key file group or others can access is refused with a chmod hint", arguments: [0o640, 0o604, 0o644, 0o660, 0o606])
    func keyFileMode(_ mode: Int) throws {
        let workspace = try Workspace()
        let path = try workspace.seal(Data("secret".utf8), name: "x.txt")
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: workspace.key("a"))
        let octal = String(mode, radix: 8)
        let explicit = try Harness.keyholder(["decrypt"] + workspace.keyArguments() + ["--out", workspace.out, path])
        #expect(explicit.status == 2)
        #expect(explicit.stderr == """
            keyholder: error: key file \(workspace.key("a")) is accessible by others (mode \(octal))
            keyholder: hint: run: chmod 600 \(workspace.key("a"))

            """)
        // The same in a keyring folder: one unsafe key stops the run.
        let ring = try Harness.keyholder(["list", "--keyring", workspace.dir.file("keys"), "--passphrase-file", workspace.passphraseFile, path])
        #expect(ring.status == 2)
        #expect(ring.stderr.contains("is accessible by others (mode \(octal))"))
        #expect(ring.stdout.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: workspace.out))
    }

    /// Creates the unprivileged user the ownership test runs as (as Scripts/test does).
    static let testUser: Bool = {
        guard geteuid() == 0 else { return false }
        let script = "id sealdrop-test >/dev/null 2>&1 || useradd --system --no-create-home sealdrop-test 2>/dev/null; id sealdrop-test >/dev/null 2>&1"
        return (try? runProcess("/bin/sh", ["-c", script]).status) == 0
    }()

    @Test("28: a key file owned by another user is refused, as ssh does")
    func keyFileOwner() throws {
        guard Self.testUser else {
            print("keyholder bad input 28 (key owned by another user): NOT RUN — it needs root to chown files and run as sealdrop-test")
            return
        }
        let workspace = try Workspace()
        let path = try workspace.seal(Data("secret".utf8), name: "x.txt")
        // The workspace must be traversable by sealdrop-test; the key stays 0600.
        for folder in [workspace.dir.path, workspace.dir.file("keys"), workspace.inbox] {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder)
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: workspace.passphraseFile)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        // sealdrop-test runs keyholder with a key file root owns.
        let asOther = try runProcess("/usr/sbin/runuser", ["-u", "sealdrop-test", "--", "/usr/bin/setsid", "-w", Harness.keyholderPath, "decrypt"]
                                     + workspace.keyArguments() + ["--out", workspace.dir.file("other-out"), path])
        #expect(asOther.status == 2, "\(asOther.stderr)")
        #expect(asOther.stderr == """
            keyholder: error: key file \(workspace.key("a")) is owned by another user
            keyholder: hint: a secret key must belong to whoever uses it: chown it to yourself

            """)
        #expect(!FileManager.default.fileExists(atPath: workspace.dir.file("other-out")))
        // And root refuses a key file sealdrop-test owns.
        let chown = try runProcess("/bin/chown", ["sealdrop-test", workspace.key("a")])
        #expect(chown.status == 0)
        let asRoot = try Harness.keyholder(["decrypt"] + workspace.keyArguments() + ["--out", workspace.out, path])
        #expect(asRoot.status == 2)
        #expect(asRoot.stderr.contains("keyholder: error: key file \(workspace.key("a")) is owned by another user"))
        #expect(!FileManager.default.fileExists(atPath: workspace.out))
    }

    @Test("28: a keyring folder others can change is refused")
    func keyringFolderMode() throws {
        let workspace = try Workspace()
        let path = try workspace.seal(Data("secret".utf8), name: "x.txt")
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: workspace.dir.file("keys"))
        let result = try Harness.keyholder(["list", "--keyring", workspace.dir.file("keys"), "--passphrase-file", workspace.passphraseFile, path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("keyholder: error: the keyring folder \(workspace.dir.file("keys")) can be changed by others (mode 777)"))
        #expect(result.stderr.contains("keyholder: hint: run: chmod 700 \(workspace.dir.file("keys"))"))
    }

    @Test("29: the output folder may not be a folder the submissions are read from, nor the input file")
    func outputIsInput() throws {
        let workspace = try Workspace()
        let path = try workspace.seal(Data("secret".utf8), name: "x.txt")
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        for arguments in [["--out", workspace.inbox, workspace.inbox], ["--out", workspace.inbox, "--all", "--in", workspace.inbox]] {
            let result = try Harness.keyholder(["decrypt"] + workspace.keyArguments() + arguments)
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stderr.contains("keyholder: error: the output folder \(workspace.inbox) is, or lies inside, \(workspace.inbox), a folder the submissions are read from"), "\(result.stderr)")
            #expect(result.stderr.contains("keyholder: hint: decrypt into a folder of its own"))
        }
        let onto = try Harness.keyholder(["decrypt"] + workspace.keyArguments() + ["--out", path, path])
        #expect(onto.status == 2)
        #expect(onto.stderr.contains("keyholder: error: output path \(path) is not a folder"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.inbox) == [(path as NSString).lastPathComponent])
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == original)
    }

    @Test("29: an output folder holding the input, or inside its folder, is refused and the input left as it was")
    func inputInsideOutputFolder() throws {
        let workspace = try Workspace()
        let id = SubmissionID.random()
        let path = try workspace.seal(Data("the plaintext".utf8), name: id.fileName, id: id)
        try FileManager.default.createDirectory(atPath: workspace.out, withIntermediateDirectories: false)
        let inside = (workspace.out as NSString).appendingPathComponent(id.fileName)
        try FileManager.default.moveItem(atPath: path, toPath: inside)
        let sealed = try Data(contentsOf: URL(fileURLWithPath: inside))
        let result = try Harness.keyholder(["decrypt"] + workspace.keyArguments() + ["--out", workspace.out, inside])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("a folder the submissions are read from"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: inside)) == sealed)
        #expect(workspace.everything() == [id.fileName])
        // Below the folder the input is read from: refused too.
        let below = try Harness.keyholder(["decrypt"] + workspace.keyArguments() + ["--out", workspace.out + "/opened", inside])
        #expect(below.status == 2 && below.stderr.contains("is, or lies inside, \(workspace.out), a folder the submissions are read from"), "\(below.stderr)")
        #expect(workspace.everything() == [id.fileName])
    }

    @Test("29: --stdout onto the submission file itself is refused")
    func standardOutputIsInput() throws {
        let workspace = try Workspace()
        let path = try workspace.seal(Data("the plaintext".utf8), name: "x.txt")
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        process.arguments = ["-w", Harness.keyholderPath, "decrypt", "--stdout"] + workspace.keyArguments() + [path]
        let append = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try append.seekToEnd()
        process.standardOutput = append
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try append.close()
        #expect(process.terminationStatus == 2)
        #expect(stderr.contains("keyholder: error: standard output is the submission file itself"), "\(stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == original)
    }

    @Test("29: sealdrop seal refuses an output that is its input")
    func sealOntoItself() throws {
        let workspace = try Workspace()
        let input = workspace.dir.file("report.txt")
        try Data("report".utf8).write(to: URL(fileURLWithPath: input))
        let result = try Harness.sealdrop(["seal", "--recipient", try Harness.publicKey("a").text, "--output", input, input])
        #expect(result.status == 1)
        #expect(result.stderr.contains("sealdrop: error: the output is the input file itself"), "\(result.stderr)")
        #expect(try String(contentsOfFile: input, encoding: .utf8) == "report")
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.dir.path).filter { $0.hasPrefix(".sealdrop") }.isEmpty)
    }
}

/// Classes 30-34: what sources put in the metadata, and the output folder.
@Suite("keyholder bad inputs 30-34: hostile metadata and output folders")
struct HostileMetadataTests {
    @Test("30: names with paths, '..', '/', NUL or nothing at all stay inside the output folder")
    func pathNames() throws {
        let workspace = try Workspace()
        let cases: [(name: String?, expected: String?)] = [
            ("../../etc/passwd", "passwd"),
            ("/etc/hostname", "hostname"),
            ("../canary.txt", "canary.txt"),
            ("a/b/../c.txt", "c.txt"),
            ("..\\..\\boot.ini", "boot.ini"),
            ("..", nil),
            ("/", nil),
            ("", nil),
            (nil, nil),
        ]
        var expected: [String: Data] = [:]
        var paths: [String] = []
        for (index, item) in cases.enumerated() {
            let id = SubmissionID.random()
            let content = Data("case \(index)".utf8)
            paths.append(try workspace.seal(content, name: item.name, id: id))
            expected[item.expected ?? id.text] = content
        }
        // A NUL cannot pass through a command line: write that one directly.
        paths.append(try workspace.write(Array("nul".utf8), metadata: Metadata(name: "evil\u{0}name.txt\u{0}", sealedBy: .source)))
        expected["evilname.txt"] = Data("nul".utf8)
        let nulOnly = SubmissionID.random()
        paths.append(try workspace.write(Array("only nul".utf8), metadata: Metadata(name: "\u{0}", sealedBy: .source), id: nulOnly))
        expected[nulOnly.text] = Data("only nul".utf8)

        let parentBefore = try FileManager.default.contentsOfDirectory(atPath: workspace.dir.path).sorted()
        let result = try Harness.keyholder(["decrypt"] + workspace.keyArguments() + ["--out", workspace.out] + paths)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(workspace.outputs() == expected.keys.sorted())
        for (name, content) in expected { #expect(try workspace.output(name) == content, "\(name)") }
        // Nothing appeared beside the output folder (../canary.txt) or anywhere else in the workspace.
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.dir.path).sorted() == (parentBefore + ["out"]).sorted())
        #expect(try FileManager.default.subpathsOfDirectory(atPath: workspace.out).allSatisfy { !$0.contains("/") })
    }

    @Test("30: a source named its file ../../etc/passwd: it decrypts to passwd inside the output folder and nowhere else")
    func etcPasswd() throws {
        let workspace = try Workspace()
        let passwdBefore = try Data(contentsOf: URL(fileURLWithPath: "/etc/passwd"))
        let path = try workspace.seal(Data("root::0:0:pwned:/root:/bin/sh\n".utf8), name: "../../etc/passwd")
        let result = try Harness.keyholder(["decrypt"] + workspace.keyArguments() + ["--out", workspace.out, path])
        #expect(result.status == 0)
        #expect(result.stdout == "\(path): ok -> \(workspace.out)/passwd\n")
        #expect(workspace.outputs() == ["passwd"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: "/etc/passwd")) == passwdBefore)
        #expect(!FileManager.default.fileExists(atPath: workspace.dir.file("etc")))
    }

    static let hostile = "\u{1B}[31mred\u{1B}[0m \u{202E}fdp.exe \u{9B}2J line\nbreak\rcr \u{2028}sep"

    @Test("31: control characters, ANSI escapes, bidi overrides and newlines are escaped in tables, text, JSON and messages")
    func escapedEverywhere() throws {
        let workspace = try Workspace()
        let message = "first line\n\u{1B}]0;owned\u{7}second \u{202E}line\nkeyholder: error: fake"
        let path = try workspace.seal(Data("x".utf8), name: Self.hostile + ".txt", message: message)

        let list = try Harness.keyholder(["list"] + workspace.keyArguments() + [path])
        #expect(list.status == 0)
        #expect(!Harness.hasRawControl(list.stdout), "\(list.stdout.debugDescription)")
        #expect(list.stdout.contains("\\u{1b}[31mred\\u{1b}[0m \\u{202e}fdp.exe \\u{9b}2J line\\u{a}break\\u{d}cr \\u{2028}sep.txt"))
        #expect(list.stdout.split(separator: "\n").count == 2)

        let json = try Harness.keyholder(["list", "--json"] + workspace.keyArguments() + [path])
        #expect(!Harness.hasRawControl(json.stdout))
        let lines = json.stdout.split(separator: "\n")
        #expect(lines.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(object["name"] as? String == Self.hostile + ".txt")
        #expect(object["message"] == nil)

        let show = try Harness.keyholder(["show"] + workspace.keyArguments() + [path])
        #expect(show.status == 0)
        #expect(!Harness.hasRawControl(show.stdout), "\(show.stdout.debugDescription)")
        #expect(show.stdout.contains("""
            message (3 lines):
            > first line
            > \\u{1b}]0;owned\\u{7}second \\u{202e}line
            > keyholder: error: fake
            """))
        let showJSON = try Harness.keyholder(["show", "--json"] + workspace.keyArguments() + [path])
        #expect(!Harness.hasRawControl(showJSON.stdout))
        let shown = try #require(try JSONSerialization.jsonObject(with: Data(showJSON.stdout.utf8)) as? [String: Any])
        #expect(shown["message"] as? String == message)

        let decrypt = try Harness.keyholder(["decrypt"] + workspace.keyArguments() + ["--out", workspace.out, path])
        #expect(decrypt.status == 0)
        #expect(!Harness.hasRawControl(decrypt.stdout))
        let names = workspace.outputs()
        #expect(names.count == 1)
        #expect(!Harness.hasRawControl(names[0]))
        #expect(names[0] == "[31mred[0m fdp.exe 2J linebreakcr sep.txt")
    }

    @Test("31: a hostile submission file name is escaped in errors and verify lines")
    func hostileFileName() throws {
        let workspace = try Workspace()
        let path = (workspace.inbox as NSString).appendingPathComponent("\u{1B}[2Jevil\n\u{202E}.sealdrop")
        try Harness.vector("flip_data_chunk").body.write(to: URL(fileURLWithPath: path))
        let verify = try Harness.keyholder(["verify"] + workspace.keyArguments() + [workspace.inbox])
        #expect(verify.status == 1)
        #expect(!Harness.hasRawControl(verify.stdout) && !Harness.hasRawControl(verify.stderr))
        #expect(verify.stdout == "\(workspace.inbox)/\\u{1b}[2Jevil\\u{a}\\u{202e}.sealdrop: payload failure\n")
        let list = try Harness.keyholder(["list", "--json"] + workspace.keyArguments() + [workspace.inbox])
        #expect(!Harness.hasRawControl(list.stdout) && !Harness.hasRawControl(list.stderr))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])
        #expect(object["file"] as? String == path)
        #expect(object["status"] as? String == "ok")
    }

    @Test("32: an out-of-range metadata length is refused from the header, before anything is allocated")
    func hugeMetadataLength() throws {
        let workspace = try Workspace()
        let path = try workspace.seal(Data("x".utf8), name: "x.txt")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        for (length, shown) in [([UInt8](repeating: 0xFF, count: 4), "4294967295"), ([0, 1, 0x10, 0], "69632"), ([0, 0, 0, 0], "0")] {
            bytes.replaceSubrange(10..<14, with: length)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let message = "keyholder: error: \(path): header failure: malformed header: metadata length \(shown) is not a multiple of 4096 in 4096...65536"
            // Under a 96 MiB address-space limit: a 4 GiB allocation (or even the key's Argon2id)
            // could not happen. (Not under a sanitizer, which needs terabytes for its shadow.)
            let arguments = ["verify"] + workspace.keyArguments() + [path]
            let limit = activeSanitizer == nil ? "ulimit -v 98304 && " : ""
            let limited = try runProcess("/bin/sh", ["-c", limit + "exec /usr/bin/setsid -w \"$0\" \"$@\"", Harness.keyholderPath] + arguments)
            #expect(limited.status == 1, "\(limited.stderr)")
            #expect(limited.stdout == "\(path): header failure\n")
            #expect(limited.stderr.contains(message), "\(limited.stderr)")
            let decrypt = try Harness.keyholder(["decrypt"] + workspace.keyArguments() + ["--out", workspace.out, path])
            #expect(decrypt.status == 1)
            #expect(decrypt.stderr.contains(message))
            #expect(workspace.everything().isEmpty)
            let inspect = try Harness.keyholder(["inspect", path])
            #expect(inspect.status == 1)
            #expect(inspect.stderr.contains(message))
        }
    }

    @Test("32: a 10 MB name cannot be sealed: the writer refuses metadata over the 64 KiB chunk")
    func hugeName() throws {
        let workspace = try Workspace()
        let tenMegabytes = String(repeating: "n", count: 10_000_000)
        #expect(throws: SealingError.metadataTooLarge(10_000_000 + #"{"name":"","sealed_by":"source","time":"2026-01-01T00:00:00Z"}"#.utf8.count)) {
            _ = try EnvelopeWriter(recipients: [try Harness.publicKey("a")],
                                   metadata: Metadata(name: tenMegabytes, time: Date(timeIntervalSince1970: 1_767_225_600), sealedBy: .source))
        }
        // Through sealdrop (a command line holds at most 128 KiB per argument): refused, no output.
        let input = workspace.dir.file("in.txt")
        try Data("x".utf8).write(to: URL(fileURLWithPath: input))
        let output = workspace.dir.file("big-name.sealdrop")
        let seal = try Harness.sealdrop(["seal", "--recipient", try Harness.publicKey("a").text, "--name", String(repeating: "n", count: 100_000), "--output", output, input])
        #expect(seal.status == 1)
        #expect(seal.stderr.contains("sealdrop: error: metadata too large"), "\(seal.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
        // The largest name that fits decrypts under a shortened safe name, and lists escaped.
        let path = try workspace.write(Array("fits".utf8), metadata: Metadata(name: String(repeating: "é", count: 30_000) + ".txt", sealedBy: .source))
        let decrypt = try Harness.keyholder(["decrypt"] + workspace.keyArguments() + ["--out", workspace.out, path])
        #expect(decrypt.status == 0)
        #expect(workspace.outputs() == [String(repeating: "é", count: 98) + ".txt"])
    }

    @Test("33: the output folder a symbolic link is refused; its target stays empty")
    func outputFolderSymlink() throws {
        let workspace = try Workspace()
        let path = try workspace.seal(Data("secret".utf8), name: "x.txt")
        let real = workspace.dir.file("real")
        try FileManager.default.createDirectory(atPath: real, withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: workspace.out, withDestinationPath: real)
        let result = try Harness.keyholder(["decrypt"] + workspace.keyArguments() + ["--out", workspace.out, path])
        #expect(result.status == 2)
        #expect(result.stderr == """
            keyholder: error: output folder \(workspace.out) is a symbolic link
            keyholder: hint: give the real folder's path; SealDrop never writes through a link

            """)
        #expect(try FileManager.default.contentsOfDirectory(atPath: real).isEmpty)
        #expect(result.stdout.isEmpty)
    }

    @Test("33: a symbolic link planted at the output's name is left alone; nothing is written through it")
    func plantedSymlink() throws {
        let workspace = try Workspace()
        let path = try workspace.seal(Data("secret".utf8), name: "report.pdf")
        let dangling = try workspace.seal(Data("secret 2".utf8), name: "notes.txt")
        try FileManager.default.createDirectory(atPath: workspace.out, withIntermediateDirectories: false)
        let target = workspace.dir.file("target.txt")
        try Data("precious".utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.createSymbolicLink(atPath: "\(workspace.out)/report.pdf", withDestinationPath: target)
        try FileManager.default.createSymbolicLink(atPath: "\(workspace.out)/notes.txt", withDestinationPath: workspace.dir.file("created-by-attacker"))
        let result = try Harness.keyholder(["decrypt"] + workspace.keyArguments() + ["--out", workspace.out, path, dangling])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("keyholder: warning: \(workspace.out)/report.pdf is a symbolic link: left untouched, the output took another name"))
        #expect(result.stdout == "\(path): ok -> \(workspace.out)/report (1).pdf\n\(dangling): ok -> \(workspace.out)/notes (1).txt\n")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "precious")
        #expect(!FileManager.default.fileExists(atPath: workspace.dir.file("created-by-attacker")))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(workspace.out)/report.pdf") == target)
        #expect(try workspace.output("report (1).pdf") == Data("secret".utf8))
        #expect(workspace.outputs() == ["notes (1).txt", "notes.txt", "report (1).pdf", "report.pdf"])
    }

    @Test("34: long names, Unicode and case variants and duplicates get unique safe names; nothing is overwritten")
    func collisions() throws {
        let workspace = try Workspace()
        let long = String(repeating: "é", count: 150) + ".pdf"  // 304 bytes
        let items: [(String, String)] = [
            (long, "long"), ("caf\u{E9}.txt", "composed"), ("cafe\u{301}.txt", "decomposed"),
            ("Report.PDF", "upper"), ("report.pdf", "lower"), ("same.txt", "same 0"), ("same.txt", "same 1"), ("same.txt", "same 2"),
            ("existing.txt", "new"),
        ]
        var paths: [String] = []
        for (name, content) in items { paths.append(try workspace.seal(Data(content.utf8), name: name)) }
        try FileManager.default.createDirectory(atPath: workspace.out, withIntermediateDirectories: false)
        try Data("already here".utf8).write(to: URL(fileURLWithPath: "\(workspace.out)/existing.txt"))
        let result = try Harness.keyholder(["decrypt"] + workspace.keyArguments() + ["--out", workspace.out] + paths)
        #expect(result.status == 0, "\(result.stderr)")
        let shortened = String(repeating: "é", count: 98) + ".pdf"
        #expect(shortened.utf8.count <= 200)
        let expected: [String: String] = [
            shortened: "long", "caf\u{E9}.txt": "composed", "caf\u{E9} (1).txt": "decomposed",
            "Report.PDF": "upper", "report.pdf": "lower", "same.txt": "same 0", "same (1).txt": "same 1", "same (2).txt": "same 2",
            "existing.txt": "already here", "existing (1).txt": "new",
        ]
        #expect(workspace.outputs() == expected.keys.sorted())
        for (name, content) in expected {
            #expect(try workspace.output(name) == Data(content.utf8), "\(name)")
        }
        #expect(workspace.outputs().allSatisfy { $0.utf8.count <= 255 })
    }
}
