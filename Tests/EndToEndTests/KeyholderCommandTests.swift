import Foundation
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropStore
import SealDropTestSupport
import Testing

/// Decodes JSON lines into objects.
private func jsonObjects(_ text: String) throws -> [[String: Any]] {
    try text.split(separator: "\n").map { line in
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }
}

@Suite("keyholder list")
struct KeyholderListTests {
    static let older = Date(timeIntervalSince1970: 1_800_000_000)  // 2027-01-15 08:00:00 UTC
    static let newer = Date(timeIntervalSince1970: 1_800_003_600)

    @Test("a table sorted by time with ID, date and whose clock, exact or padded size, key ID, status and name; failures last")
    func table() throws {
        let workspace = try Workspace()
        let olderID = SubmissionID.random(), newerID = SubmissionID.random()
        // Written newer first, so the order shown comes from the times, not the files.
        try workspace.write(Array(repeating: 1, count: 1000), metadata: Metadata(name: "newer.pdf", time: Self.newer, sealedBy: .server), id: newerID)
        try workspace.write(Array("hello".utf8), metadata: Metadata(name: "older.txt", size: 5, time: Self.older, sealedBy: .source), id: olderID)
        let broken = try workspace.addVector("flip_header_mac")
        let foreign = try workspace.addVector("wrong_key")

        let result = try Harness.keyholder(["list"] + workspace.keyArguments() + [workspace.inbox])
        #expect(result.status == 1)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 5)
        #expect(lines[0] == "ID                        SEALED (UTC)         BY       RECORD    SIZE        KEY ID            STATUS           NEW  NAME")
        // NEW is '-' for submissions outside the archive. Without a provenance record (RECORD
        // none), BY is only what the submission claims: marked '?'.
        #expect(lines[1] == "\(olderID.text)  2027-01-15 08:00:00  source?  none      5 B         8d709843a7bebbef  ok               -    older.txt")
        #expect(lines[2] == "\(newerID.text)  2027-01-15 09:00:00  server?  none      ≤1.00 KiB   8d709843a7bebbef  ok               -    newer.pdf")
        #expect(lines[3].hasPrefix("flip_header_mac           -                    -        -         ≤140 KiB    8d709843a7bebbef  header failure   -"))
        #expect(lines[4].hasPrefix("wrong_key                 -                    -        -         ≤104 B      26e3bd148a939dae +1  no match"))
        #expect(result.stderr.contains("keyholder: error: \(broken): header failure: header authentication failed"))
        #expect(result.stderr.contains("keyholder: error: \(foreign): no matching key: it is sealed to key ID 26e3bd148a939dae, 6b318b2da7c253f4"))
        #expect(result.stderr.hasSuffix("keyholder: 2 of 4 submissions failed\n"))
    }

    @Test("--json prints one escaped JSON object per submission, with size_exact and sealed_by")
    func json() throws {
        let workspace = try Workspace()
        let id = SubmissionID.random()
        try workspace.write(Array(repeating: 1, count: 1000), metadata: Metadata(name: "n.pdf", mediaType: "application/pdf", time: Self.newer, message: "hidden from list", sealedBy: .server), id: id)
        try workspace.addVector("wrong_key")
        let result = try Harness.keyholder(["list", "--json"] + workspace.keyArguments() + [workspace.inbox])
        #expect(result.status == 1)
        let objects = try jsonObjects(result.stdout)
        #expect(objects.count == 2)
        let ok = objects[0]
        #expect(ok["id"] as? String == id.text)
        #expect(ok["file"] as? String == "\(workspace.inbox)/\(id.fileName)")
        #expect(ok["status"] as? String == "ok")
        #expect(ok["time"] as? String == "2027-01-15T09:00:00Z")
        #expect(ok["sealed_by"] as? String == "server")
        #expect(ok["size"] as? Int == 1024)
        #expect(ok["size_exact"] as? Bool == false)
        #expect(ok["key_id"] as? String == "8d709843a7bebbef")
        #expect(ok["key_ids"] as? [String] == ["8d709843a7bebbef"])
        #expect(ok["name"] as? String == "n.pdf")
        #expect(ok["type"] as? String == "application/pdf")
        #expect(ok["message"] == nil)
        let failed = objects[1]
        #expect(failed["status"] as? String == "no match")
        #expect(failed["key_ids"] as? [String] == ["26e3bd148a939dae", "6b318b2da7c253f4"])
        #expect((failed["error"] as? String)?.hasPrefix("no matching key: ") == true)
        #expect(failed["time"] == nil && failed["name"] == nil)
    }

    @Test("list reads only the header and the metadata chunk: a damaged payload lists as ok, verify finds it")
    func readsOnlyHeaderAndMetadata() throws {
        let workspace = try Workspace()
        let path = try workspace.seal(Data(testBytes(count: 1 << 20)), name: "big.bin")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let prefix = Layout.headerByteCount(recipients: 1) + Layout.streamHeaderByteCount + 4096 + 17
        // Keep header and metadata chunk; the payload is cut off, or replaced by noise.
        try Data(bytes.prefix(prefix)).write(to: URL(fileURLWithPath: path))
        let noise = (workspace.inbox as NSString).appendingPathComponent(SubmissionID.random().fileName)
        try Data(bytes.prefix(prefix) + testBytes(count: bytes.count - prefix)).write(to: URL(fileURLWithPath: noise))
        let list = try Harness.keyholder(["list", "--json"] + workspace.keyArguments() + [path, noise])
        #expect(list.status == 0, "\(list.stderr)")
        let objects = try jsonObjects(list.stdout)
        #expect(objects.map { $0["status"] as? String } == ["ok", "ok"])
        #expect(objects.map { $0["name"] as? String } == ["big.bin", "big.bin"])
        #expect(objects.map { $0["size"] as? Int } == [1 << 20, 1 << 20])
        let verify = try Harness.keyholder(["verify"] + workspace.keyArguments() + [path, noise])
        #expect(verify.status == 1)
        #expect(verify.stdout == "\(path): payload failure\n\(noise): payload failure\n")
        #expect(verify.stderr.contains("\(path): payload failure: truncated or corrupt (the final chunk is missing)"))
    }

    @Test("paths: a spool root lists its inbox only; no argument lists the archive or --in; IDs and unique prefixes of at least 4 characters")
    func pathsAndIDs() throws {
        let workspace = try Workspace()
        let first = SubmissionID("aaaaaa" + SubmissionID.random().text.prefix(18))!
        let second = SubmissionID("aaaaaa" + SubmissionID.random().text.prefix(18))!
        for id in [first, second] {
            try workspace.write(Array(id.text.utf8), metadata: Metadata(name: "\(id.text).txt", sealedBy: .server), id: id)
        }
        // A spool root: <root>/inbox with the submissions, <root>/tmp with an upload in progress.
        let root = workspace.dir.file("spool")
        try FileManager.default.createDirectory(atPath: "\(root)/tmp", withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: workspace.inbox, toPath: "\(root)/inbox")
        let inbox = "\(root)/inbox"
        try FileManager.default.copyItem(atPath: "\(inbox)/\(first.fileName)", toPath: "\(root)/tmp/\(SubmissionID.random().text).partial")
        try FileManager.default.copyItem(atPath: "\(inbox)/\(first.fileName)", toPath: "\(inbox)/.hidden.sealdrop")
        try Data("notes".utf8).write(to: URL(fileURLWithPath: "\(inbox)/README.txt"))

        func ids(_ result: ProcessResult) throws -> [String] { try jsonObjects(result.stdout).compactMap { $0["id"] as? String }.sorted() }
        let both = [first.text, second.text].sorted()
        #expect(try ids(try Harness.keyholder(["list", "--json"] + workspace.keyArguments() + [root])) == both)
        #expect(try ids(try Harness.keyholder(["list", "--json", "--in", "."] + workspace.keyArguments(), currentDirectory: inbox)) == both)
        let noArchive = try Harness.keyholder(["list"] + workspace.keyArguments(), environment: Harness.environment(home: workspace.dir.file("no-home")))
        #expect(noArchive.status == 2)
        #expect(noArchive.stderr.contains("keyholder: error: there is no archive at \(workspace.dir.file("no-home"))/.sealdrop/archive"))
        #expect(noArchive.stderr.contains("keyholder: hint: import a medium first (keyholder import MEDIA)"))
        #expect(try ids(try Harness.keyholder(["list", "--json", "--in", root] + workspace.keyArguments())) == both)
        #expect(try ids(try Harness.keyholder(["list", "--json", "--in", inbox] + workspace.keyArguments() + [second.text])) == [second.text])
        #expect(try ids(try Harness.keyholder(["list", "--json", "--in", inbox] + workspace.keyArguments() + [String(first.text.prefix(10))])) == [first.text])

        let ambiguous = try Harness.keyholder(["list", "--in", inbox] + workspace.keyArguments() + ["aaaaaa"])
        #expect(ambiguous.status == 2)
        #expect(ambiguous.stderr.contains("keyholder: error: the ID prefix aaaaaa matches 2 submissions"))
        #expect(ambiguous.stderr.contains("keyholder: hint: give more characters of the ID"))
        // A prefix too short is named as such, not as a path that does not exist.
        let short = try Harness.keyholder(["show", "--in", inbox] + workspace.keyArguments() + ["j7"])
        #expect(short.status == 2)
        #expect(short.stderr.contains("keyholder: error: the ID prefix j7 is too short: a prefix needs at least 4 characters"), "\(short.stderr)")
        #expect(!short.stderr.contains("does not exist"))
        let unknown = try Harness.keyholder(["list", "--in", inbox] + workspace.keyArguments() + ["zzzzzzzz"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("keyholder: error: no submission zzzzzzzz in \(inbox)"))
        let missing = try Harness.keyholder(["list"] + workspace.keyArguments() + ["/nonexistent/x.sealdrop"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("keyholder: error: /nonexistent/x.sealdrop does not exist"))
        let empty = try Harness.keyholder(["list"] + workspace.keyArguments() + ["\(root)/tmp"])
        #expect(empty.status == 0)
        #expect(empty.stderr == "keyholder: no submissions found (looked for *.sealdrop files)\n")
    }
}

@Suite("keyholder show, inspect, verify")
struct KeyholderShowInspectVerifyTests {
    @Test("show prints the metadata and the message, by ID in --in folders, or by path")
    func show() throws {
        let workspace = try Workspace()
        let id = SubmissionID.random()
        try workspace.write(Array("the file".utf8), metadata: Metadata(
            name: "leak.pdf", mediaType: "application/pdf", size: 8, time: Date(timeIntervalSince1970: 1_800_000_000),
            message: "Please call me.\nNot from the office.", sealedBy: .source), id: id)
        let expected = """
            id         \(id.text)
            file       \(workspace.inbox)/\(id.fileName)
            key ID     8d709843a7bebbef
            record     none: no provenance record beside this file; the drop vouches for nothing about it
            sealed     the submission claims: sealed by the source, 2027-01-15 08:00:00 UTC (unverified)
            name       leak.pdf
            type       application/pdf
            size       8 bytes (8 B, as recorded)
            status     header and metadata intact; 'keyholder verify' authenticates the content
            message (2 lines):
            > Please call me.
            > Not from the office.

            """
        let byPath = try Harness.keyholder(["show"] + workspace.keyArguments() + ["\(workspace.inbox)/\(id.fileName)"])
        #expect(byPath.status == 0, "\(byPath.stderr)")
        #expect(byPath.stdout == expected)
        let byIn = try Harness.keyholder(["show", "--in", workspace.inbox] + workspace.keyArguments() + [id.text])
        #expect(byIn.stdout == expected)
        let here = try Harness.keyholder(["show", "--in", "."] + workspace.keyArguments() + [String(id.text.prefix(8))], currentDirectory: workspace.inbox)
        #expect(here.stdout.replacingOccurrences(of: "./\(id.fileName)", with: "\(workspace.inbox)/\(id.fileName)") == expected)

        let bare = try workspace.write([], metadata: Metadata(time: Date(timeIntervalSince1970: 1_800_000_000), sealedBy: .server))
        let plain = try Harness.keyholder(["show"] + workspace.keyArguments() + [bare])
        #expect(plain.stdout.contains("sealed     the submission claims: sealed by the server on receipt, 2027-01-15 08:00:00 UTC (unverified)"))
        #expect(plain.stdout.contains("name       (none recorded)"))
        #expect(plain.stdout.contains("size       at most 0 bytes (0 B): the padded length; no size was recorded"))
        #expect(plain.stdout.hasSuffix("message    (none)\n"))

        let folder = try Harness.keyholder(["show"] + workspace.keyArguments() + [workspace.inbox])
        #expect(folder.status == 2)
        #expect(folder.stderr.contains("holds 2 submissions; show takes one"))
        let broken = try workspace.addVector("flip_metadata_chunk")
        let failed = try Harness.keyholder(["show"] + workspace.keyArguments() + [broken])
        #expect(failed.status == 1)
        #expect(failed.stdout.isEmpty)
        #expect(failed.stderr.contains("keyholder: error: \(broken): payload failure: chunk 0 failed to decrypt and authenticate"))
    }

    @Test("inspect needs no key: version, recipients' key IDs, header and total size")
    func inspect() throws {
        let workspace = try Workspace()
        let path = try workspace.addVector("several_recipients_first")
        let home = workspace.dir.file("empty-home")
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: false)
        let result = try Harness.keyholder(["inspect", path], environment: ["HOME": home])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == """
            file            \(path)
            format          SealDrop submission, version 1
            recipients      3
              key ID        26e3bd148a939dae
              key ID        6b318b2da7c253f4
              key ID        8d709843a7bebbef
            header          310 bytes
            metadata chunk  4096 bytes (the metadata's size, to within 4 KiB)
            total size      9588 bytes (9.36 KiB)
            content         at most 5120 bytes (5.00 KiB): the padded length
            authenticated   no (inspect uses no key; 'keyholder verify' checks every byte)

            """)
        let json = try jsonObjects(try Harness.keyholder(["inspect", "--json", path]).stdout)
        #expect(json.count == 1)
        #expect(json[0]["version"] as? Int == 1)
        #expect(json[0]["key_ids"] as? [String] == ["26e3bd148a939dae", "6b318b2da7c253f4", "8d709843a7bebbef"])
        #expect(json[0]["header_size"] as? Int == 310)
        #expect(json[0]["total_size"] as? Int == 9588)

        let many = [UInt8](try Harness.vector("many_chunks").body)
        let cut = (workspace.inbox as NSString).appendingPathComponent("cut.sealdrop")
        try Data(many.prefix(134 + 24 + 4113 + Layout.fullChunkByteCount + 10)).write(to: URL(fileURLWithPath: cut))
        let impossible = try Harness.keyholder(["inspect", cut])
        #expect(impossible.status == 1)
        #expect(impossible.stdout.contains("content         unknown: the file's size is impossible for this header"))
        #expect(impossible.stderr.contains("keyholder: error: \(cut): payload failure: truncated or corrupt (69834 bytes is not a possible length for this header)"))
        let notOne = workspace.dir.file("notes.txt")
        try Data("Dear editor, ...".utf8).write(to: URL(fileURLWithPath: notOne))
        let wrong = try Harness.keyholder(["inspect", notOne])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("keyholder: error: \(notOne): header failure: not a SealDrop submission"))
        let folder = try Harness.keyholder(["inspect", workspace.inbox])
        #expect(folder.status == 2)
    }

    @Test("verify authenticates everything, writes nothing, and prints JSON on request")
    func verify() throws {
        let workspace = try Workspace()
        let good = try workspace.seal(Data(testBytes(count: 200_000)), name: "a.bin")
        let bad = try workspace.addVector("swapped_chunks")
        let before = try FileManager.default.subpathsOfDirectory(atPath: workspace.dir.path).sorted()
        let ok = try Harness.keyholder(["verify"] + workspace.keyArguments() + [good])
        #expect(ok.status == 0)
        #expect(ok.stdout == "\(good): ok\n")
        // Sealed and handed over outside a drop: no provenance record, flagged as a warning only.
        #expect(ok.stderr == "keyholder: warning: \(good): no provenance record: the drop vouches for nothing about it (it was not received through a drop, or its .record file was removed)\n")
        let json = try Harness.keyholder(["verify", "--json"] + workspace.keyArguments() + [good, bad])
        #expect(json.status == 1)
        let objects = try jsonObjects(json.stdout)
        #expect(objects.map { $0["status"] as? String } == ["ok", "payload failure"])
        #expect(objects[0]["size"] as? Int == 200_000)
        #expect((objects[1]["error"] as? String)?.contains("chunk 1 failed") == true)
        #expect(try FileManager.default.subpathsOfDirectory(atPath: workspace.dir.path).sorted() == before)
    }
}

@Suite("keyholder decrypt")
struct KeyholderDecryptTests {
    @Test("--all decrypts every submission of the --in folders; IDs are looked up there")
    func allAndIDs() throws {
        let workspace = try Workspace()
        let one = SubmissionID.random(), two = SubmissionID.random()
        try workspace.seal(Data("one".utf8), name: "one.txt", id: one)
        try workspace.seal(Data("two".utf8), name: "two.txt", id: two)
        let all = try Harness.keyholder(["decrypt", "--all", "--in", workspace.inbox, "--out", workspace.out] + workspace.keyArguments())
        #expect(all.status == 0, "\(all.stderr)")
        #expect(workspace.outputs() == ["one.txt", "two.txt"])
        #expect(workspace.everything() == ["one.txt", "one.txt.about.txt", "two.txt", "two.txt.about.txt"])
        let mode = try FileManager.default.attributesOfItem(atPath: workspace.out)[.posixPermissions] as? Int
        #expect(mode == 0o700)
        let byID = try Harness.keyholder(["decrypt", "--in", ".", "--out", workspace.out] + workspace.keyArguments() + [two.text], currentDirectory: workspace.inbox)
        #expect(byID.status == 0, "\(byID.stderr)")
        #expect(byID.stdout == "./\(two.fileName): ok -> \(workspace.out)/two (1).txt\n")
        #expect(try workspace.output("two (1).txt") == Data("two".utf8))
        #expect(workspace.everything().contains("two (1).txt.about.txt"))
    }

    @Test("usage errors exit 64", arguments: [
        ["decrypt", "x.sealdrop"], ["decrypt", "--out", "o", "--stdout", "x.sealdrop"], ["decrypt", "--out", "o"],
        ["decrypt", "--out", "o", "--all", "x.sealdrop"], ["decrypt", "--stdout", "--all"], ["list", "--key", "k", "--keyring", "r"],
        ["show"], ["inspect"], ["frobnicate"],
    ])
    func usage(_ arguments: [String]) throws {
        let result = try Harness.keyholder(arguments)
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test("--stdout writes one submission to a pipe, quietly")
    func standardOutput() throws {
        let workspace = try Workspace()
        let content = Data(testBytes(count: 1 << 20))
        let path = try workspace.seal(content, name: "a.bin")
        let result = try Harness.keyholder(["decrypt", "--stdout"] + workspace.keyArguments() + [path])
        #expect(result.status == 0)
        #expect(result.stdoutData == content)
        #expect(result.stderr.isEmpty)
        let two = try Harness.keyholder(["decrypt", "--stdout"] + workspace.keyArguments() + [path, path])
        #expect(two.status == 2)
        #expect(two.stderr.contains("keyholder: error: --stdout writes exactly one submission, and 2 were named"))
        #expect(two.stdoutData.isEmpty)
    }

    @Test("--stdout releases only authenticated chunks; a later failure exits 1 saying the output is incomplete")
    func standardOutputIncomplete() throws {
        let workspace = try Workspace()
        let content = Data(testBytes(count: 300_000))
        let path = try workspace.seal(content, name: "a.bin")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let thirdChunk = Layout.headerByteCount(recipients: 1) + 24 + 4096 + 17 + 2 * Layout.fullChunkByteCount
        bytes[thirdChunk + 100] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let result = try Harness.keyholder(["decrypt", "--stdout"] + workspace.keyArguments() + [path])
        #expect(result.status == 1)
        #expect(result.stdoutData == content.prefix(2 * Layout.chunkCapacity))
        #expect(result.stderr.contains("keyholder: error: \(path): payload failure: chunk 3 failed to decrypt and authenticate"))
        #expect(result.stderr.contains("; the output is incomplete: 131064 bytes were written before the failure"))
        #expect(result.stderr.contains("keyholder: hint: discard what was written to standard output"))

        let header = try workspace.addVector("flip_header_mac")
        let early = try Harness.keyholder(["decrypt", "--stdout"] + workspace.keyArguments() + [header])
        #expect(early.status == 1)
        #expect(early.stdoutData.isEmpty)
        #expect(!early.stderr.contains("incomplete"))
    }

    @Test("on a terminal: --stdout is refused, and a large file shows a progress bar with rate and ETA")
    func terminal() throws {
        let workspace = try Workspace()
        let content = Data(testBytes(count: 12 << 20))
        let path = try workspace.seal(content, name: "big.bin")
        let refused = try runOnTerminal([Harness.keyholderPath, "decrypt", "--stdout"] + workspace.keyArguments() + [path])
        #expect(refused.status == 2)
        #expect(refused.output.contains("keyholder: error: refusing to write a decrypted submission to a terminal"))
        #expect(refused.output.contains("keyholder: hint: redirect standard output to a file or a program, or use --out DIR"))

        let shown = try runOnTerminal([Harness.keyholderPath, "decrypt", "--out", workspace.out] + workspace.keyArguments() + [path])
        #expect(shown.status == 0, "\(shown.output)")
        #expect(shown.output.contains("100% [" + String(repeating: "#", count: 10)), "\(shown.output.debugDescription)")
        #expect(shown.output.contains("/s  ETA "))
        #expect(shown.output.contains("\u{1B}[K"))
        #expect(try workspace.output("big.bin") == content)
        // Not on a terminal: quiet.
        let quiet = try Harness.keyholder(["decrypt", "--out", workspace.out] + workspace.keyArguments() + [path])
        #expect(quiet.status == 0)
        #expect(quiet.stderr.isEmpty)
    }
}

/// Class 25 for interruptions: Ctrl-C in the middle of writing leaves no partial plaintext.
@Suite("keyholder decrypt interrupted")
struct KeyholderInterruptTests {
    @Test("SIGINT or SIGTERM while an output is being written removes the partial file", arguments: [SIGINT, SIGTERM])
    func interrupted(_ signal: Int32) throws {
        let workspace = try Workspace()
        let path = try workspace.seal(Data(count: 128 << 20), name: "big.bin")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Harness.keyholderPath)
        process.arguments = ["decrypt", "--out", workspace.out] + workspace.keyArguments() + [path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        var sawPartial = false
        while process.isRunning && Date() < deadline {
            if isWritingUnnamedFile(pid: process.processIdentifier, in: workspace.out) {
                sawPartial = true
                kill(process.processIdentifier, signal)
                break
            }
            usleep(2_000)
        }
        process.waitUntilExit()
        #expect(sawPartial, "the output was never seen being written")
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(process.terminationStatus == signal)
        #expect(workspace.everything().isEmpty, "left \(workspace.everything())")
    }
}

@Suite("keyholder keyring and passphrases")
struct KeyholderKeyringTests {
    /// A workspace whose keyring folder holds a and a new key d with another passphrase, and
    /// two submissions for each.
    func ringWithTwoPassphrases() throws -> (Workspace, keyring: String, d: TestKey, forA: [String], forD: [String]) {
        let workspace = try Workspace()
        let d = try TestKey.make(in: workspace.dir, name: "d", passphrase: "the other passphrase, of six or more words")
        let keyring = workspace.dir.file("ring")
        try FileManager.default.createDirectory(atPath: keyring, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try FileManager.default.copyItem(atPath: workspace.key("a"), toPath: "\(keyring)/a.key")
        try FileManager.default.moveItem(atPath: d.keyPath, toPath: "\(keyring)/d.key")
        let dKey = try PublicKey(text: d.publicKeyText)
        var forA: [String] = [], forD: [String] = []
        for n in 0..<2 {
            forA.append(try workspace.seal(Data("for a \(n)".utf8), name: "a\(n).txt"))
            let writer = try EnvelopeWriter(recipients: [dKey], metadata: Metadata(name: "d\(n).txt", sealedBy: .server))
            var bytes = writer.prefix
            Array("for d \(n)".utf8).withUnsafeBytes { buffer in writer.append(buffer) { bytes += $0 } }
            _ = try writer.finish { bytes += $0 }
            let path = (workspace.inbox as NSString).appendingPathComponent(SubmissionID.random().fileName)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            forD.append(path)
        }
        return (workspace, keyring, d, forA, forD)
    }

    @Test("a key is unlocked only when a submission needs it; a key the passphrase file does not open fails without a terminal")
    func lazyUnlock() throws {
        let (workspace, keyring, d, forA, forD) = try ringWithTwoPassphrases()
        let arguments = ["--keyring", keyring, "--passphrase-file", workspace.passphraseFile]
        let onlyA = try Harness.keyholder(["list"] + arguments + forA)
        #expect(onlyA.status == 0, "\(onlyA.stderr)")
        #expect(onlyA.stderr.isEmpty)
        let withD = try Harness.keyholder(["list"] + arguments + forA + forD)
        #expect(withD.status == 2)
        #expect(withD.stderr.contains("keyholder: error: wrong passphrase for key file \(keyring)/d.key (key ID \(d.keyID))"))
        // With d's own passphrase file, d opens and a does not: each key is tried with the file.
        let dOnly = try Harness.keyholder(["decrypt", "--keyring", keyring, "--passphrase-file", d.passphrasePath, "--out", workspace.out] + forD)
        #expect(dOnly.status == 0, "\(dOnly.stderr)")
        #expect(workspace.outputs() == ["d0.txt", "d1.txt"])
    }

    @Test("keys the passphrase file does not open are asked for on the terminal, once per run, without echo")
    func terminalPrompt() throws {
        let (workspace, keyring, d, forA, forD) = try ringWithTwoPassphrases()
        let prompt = "Passphrase for \(keyring)/d.key (key ID \(d.keyID)): "
        let result = try runOnTerminal(
            [Harness.keyholderPath, "list", "--keyring", keyring, "--passphrase-file", workspace.passphraseFile] + forA + forD,
            answers: [(prompt, "a wrong guess"), (prompt, "the other passphrase, of six or more words")]
        )
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("keyholder: the passphrase file does not open \(keyring)/d.key (key ID \(d.keyID))"))
        #expect(result.output.contains("keyholder: wrong passphrase, try again"))
        #expect(result.output.components(separatedBy: "Passphrase for ").count == 3, "asked more than twice: \(result.output)")
        #expect(!result.output.contains("the other passphrase") && !result.output.contains("a wrong guess"), "the passphrase was echoed")
        #expect(result.output.components(separatedBy: "  ok  ").count == 5, "\(result.output)")
    }

    @Test("the default keyring is ~/.sealdrop/keys; a missing or empty keyring is a clear error; signing keys there are skipped")
    func defaultKeyring() throws {
        let workspace = try Workspace()
        let path = try workspace.seal(Data("x".utf8), name: "x.txt")
        let home = workspace.dir.file("home")
        let environment = ["HOME": home, "PATH": "/usr/bin:/bin"]
        let missing = try Harness.keyholder(["list", "--passphrase-file", workspace.passphraseFile, path], environment: environment)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("keyholder: error: no keys: --key was not given and the keyring folder \(home)/.sealdrop/keys cannot be read"))
        #expect(missing.stderr.contains("keyholder: hint: pass --key KEYFILE, or keep your key files in ~/.sealdrop/keys (or --keyring DIR)"))
        try FileManager.default.createDirectory(atPath: "\(home)/.sealdrop/keys", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let empty = try Harness.keyholder(["list", "--passphrase-file", workspace.passphraseFile, path], environment: environment)
        #expect(empty.status == 2)
        #expect(empty.stderr.contains("holds no *.key files"))
        try FileManager.default.copyItem(atPath: workspace.key("a"), toPath: "\(home)/.sealdrop/keys/a.key")
        try Data("# SealDrop signing key\nSEALDROP-SIGNING-KEY-1:AAAA\n".utf8).write(to: URL(fileURLWithPath: "\(home)/.sealdrop/keys/signing.key"))
        let found = try Harness.keyholder(["list", "--json", "--passphrase-file", workspace.passphraseFile, path], environment: environment)
        #expect(found.status == 0, "\(found.stderr)")
        #expect(try jsonObjects(found.stdout).first?["name"] as? String == "x.txt")
    }

    @Test("several --key: the key ID in each submission picks the key")
    func severalKeys() throws {
        let workspace = try Workspace()
        let forB = try workspace.seal(Data("b".utf8), name: "b.txt", to: ["b"])
        let forC = try workspace.seal(Data("c".utf8), name: "c.txt", to: ["c"])
        let result = try Harness.keyholder(["list", "--json"] + workspace.keyArguments(["a", "b", "c"]) + [forB, forC])
        #expect(result.status == 0)
        #expect(try jsonObjects(result.stdout).map { $0["key_id"] as? String }.sorted { ($0 ?? "") < ($1 ?? "") }
                == ["26e3bd148a939dae", "6b318b2da7c253f4"])
    }
}

@Suite("keyholder help")
struct KeyholderHelpTests {
    @Test("--help documents the exit statuses; every command has help")
    func help() throws {
        let root = try Harness.keyholder(["--help"])
        #expect(root.status == 0)
        for line in ["Exit status:", "  0   everything succeeded", "  1   a submission failed (no match, header failure, payload failure,",
                     "  2   keyholder could not do its work: no usable key, a wrong passphrase,",
                     "  64  usage error", "  keygen, pubkey and fingerprint exit 0 on success and 1 on any error."] {
            #expect(root.stdout.contains(line), "missing: \(line)")
        }
        // Every tool says its version: the release, the format and the libsodium it runs on.
        for tool in ["keyholder", "sealdrop", "sealdropd"] {
            let version = try runProcess(TestBinaries.path(tool), ["--version"])
            #expect(version.status == 0, "\(tool)")
            #expect(version.stdout.hasPrefix("\(tool) \(SealDropVersion.release) (submission format 1; libsodium 1.0."), "\(version.stdout)")
        }
        // Every subcommand's help has an example and says its exit statuses.
        for command in ["keygen", "pubkey", "fingerprint", "keys", "import", "list", "show", "verify", "inspect", "decrypt",
                        "rotate", "rekey", "retire", "sign-recipients", "trust-drop", "shell"] {
            let help = try Harness.keyholder([command, "--help"])
            #expect(help.status == 0, "\(command)")
            #expect(help.stdout.contains("USAGE: keyholder \(command)"), "\(command)")
            #expect(help.stdout.contains("Example:\n  keyholder \(command)"), "\(command) has no example: \(help.stdout)")
            #expect(help.stdout.contains("Exit status: 0 "), "\(command) does not say its exit statuses")
        }
    }
}
