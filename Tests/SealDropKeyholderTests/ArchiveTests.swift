import Foundation
import SealDropCLISupport
import SealDropCrypto
import SealDropFormat
import SealDropKeyholder
import SealDropKeys
import SealDropStore
import SealDropTestSupport
import Testing

/// The keyholder library called in-process: import, list, verify, decrypt and rekey on an
/// archive, as the `keyholder` executable calls them.
@Suite("Keyholder library: import")
struct ImportTests {
    @Test("import copies each submission byte for byte, authenticated, and records where from, key IDs, size and hash")
    func importsAndRecords() throws {
        let fixture = try Fixture()
        let first = try fixture.submit(testBytes(count: 200_000))
        let second = try fixture.submit([], name: nil, message: "just a note")
        let record = try fixture.importMedium()
        #expect(record.medium == fixture.medium)
        #expect(record.entries.count == 2)
        for path in [first, second] {
            let id = SubmissionFile(path: path, fromFolder: true).label
            let entry = try #require(record.entries.first { $0.id == id })
            let archived = fixture.archive.path(for: SubmissionID(id)!)
            #expect(try fixture.bytes(archived) == fixture.bytes(path))
            #expect(entry.action == .imported && entry.status == "ok")
            #expect(entry.keyIDs == [try Fixture.publicKey("a").keyID.description])
            #expect(entry.size == UInt64(try fixture.bytes(path).count))
            #expect(entry.blake2b == BLAKE2b.hash(try fixture.bytes(path)).hexString)
            let mode = try FileManager.default.attributesOfItem(atPath: archived)[.posixPermissions] as? Int
            #expect(mode == 0o600)
        }
        let saved = fixture.archive.importRecords()
        #expect(saved.count == 1 && saved[0].entries.count == 2 && saved[0].medium == fixture.medium)
        // Nothing was written to the medium.
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.medium).count == 2)
    }

    @Test("importing again finds the archived copy, also after it was re-keyed; a different file under a known ID is a conflict")
    func againRekeyedAndConflict() throws {
        let fixture = try Fixture()
        let path = try fixture.submit(testBytes(count: 100_000))
        let id = SubmissionFile(path: path, fromFolder: true).id!
        let ring = try fixture.ring()
        _ = try fixture.importMedium(ring: ring)
        #expect(try fixture.importMedium(ring: ring).entries.map(\.action) == [.alreadyArchived])
        let archived = SubmissionFile(path: fixture.archive.path(for: id), fromFolder: false)
        #expect(try Rekeyer(archive: fixture.archive, ring: ring).rekey(archived, to: [try Fixture.publicKey("a"), try Fixture.publicKey("b")], full: false) == .rekeyed)
        #expect(try fixture.importMedium(ring: ring).entries.map(\.action) == [.rekeyedInArchive])

        let before = try fixture.bytes(archived.path)
        try fixture.submit(testBytes(count: 100_000), id: id)
        let conflict = try Importer(archive: fixture.archive, ring: ring).importMedium(fixture.medium)
        #expect(conflict.entries.map(\.action) == [.conflict])
        #expect(try fixture.bytes(archived.path) == before, "the archived copy is kept")
    }

    @Test("a damaged submission is not imported; one no key opens is imported and said so; the others go on")
    func damagedAndForeign() throws {
        let fixture = try Fixture()
        let damaged = try fixture.submit(testBytes(count: 150_000))
        var bytes = try fixture.bytes(damaged)
        bytes[bytes.count - 1_000] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: damaged))
        let foreign = try fixture.submit(testBytes(count: 10), to: [try Fixture.publicKey("c")])
        let good = try fixture.submit(testBytes(count: 10))
        var problems: [CLIError] = []
        let record = try Importer(archive: fixture.archive, ring: try fixture.ring()).importMedium(fixture.medium) { event in
            if case .finished(_, let problem?) = event { problems.append(problem) }
        }
        func entry(_ path: String) -> ImportRecord.Entry? { record.entries.first { $0.id == SubmissionFile(path: path, fromFolder: true).label } }
        #expect(entry(damaged)?.action == .notImported && entry(damaged)?.status == "payload failure")
        #expect(entry(foreign)?.action == .imported && entry(foreign)?.status == "no match")
        #expect(entry(good)?.action == .imported && entry(good)?.status == "ok")
        #expect(problems.count == 2)
        #expect(problems.contains { $0.message.contains("payload failure") })
        #expect(problems.contains { $0.message.contains("no matching key") })
        let archived = try fixture.archive.submissionFiles().map(\.label).sorted()
        #expect(archived == [entry(foreign)!.id, entry(good)!.id].sorted())
        // No temporary file was left in the archive.
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.archive.submissionsPath).count == 2)
    }

    @Test("a file not named by an ID gets the ID of its header, the same on every import")
    func derivedID() throws {
        let fixture = try Fixture()
        let path = try fixture.submit(testBytes(count: 10))
        let renamed = (fixture.medium as NSString).appendingPathComponent("from-a-friend.sealdrop")
        try FileManager.default.moveItem(atPath: path, toPath: renamed)
        let ring = try fixture.ring()
        let first = try fixture.importMedium(ring: ring)
        let id = try #require(first.entries.first?.id)
        #expect(SubmissionID(id) != nil && id != SubmissionFile(path: path, fromFolder: true).label)
        #expect(try fixture.importMedium(ring: ring).entries.map { "\($0.id) \($0.action.rawValue)" } == ["\(id) already archived"])
    }

    @Test("the archive may not lie on the medium, nor the medium in the archive")
    func archiveAndMediumApart() throws {
        let fixture = try Fixture()
        try fixture.submit([1])
        let onMedium = try Archive.open((fixture.medium as NSString).appendingPathComponent("archive"), create: true)
        #expect { _ = try Importer(archive: onMedium, ring: try fixture.ring()).importMedium(fixture.medium) } throws: { error in
            (error as? CLIError)?.message.contains("lies on the medium") == true
        }
        #expect { _ = try Importer(archive: fixture.archive, ring: try fixture.ring()).importMedium(fixture.archive.submissionsPath) } throws: { error in
            (error as? CLIError)?.message.contains("lies inside the archive") == true
        }
    }
}

@Suite("Keyholder library: list, verify, decrypt, rekey")
struct ArchiveWorkTests {
    @Test("list says which archive submissions are new; decrypt writes each beside its text file, records it, and skips it next time")
    func listDecryptRecord() throws {
        let fixture = try Fixture()
        let content = testBytes(count: 300_000)
        try fixture.submit(content, name: "report.pdf", message: "page 3\n\u{1B}[31mred")
        try fixture.submit([7], name: "other.txt")
        _ = try fixture.importMedium()
        let ring = try fixture.ring()
        let files = try fixture.archive.submissionFiles()
        let (rows, failures) = try listing(files, ring: ring, archive: fixture.archive)
        #expect(failures.isEmpty)
        #expect(rows.allSatisfy { $0.new == true && $0.outcome == .success })

        let decryptor = Decryptor(ring: ring, archive: fixture.archive)
        let target = try OutputTarget(path: fixture.dir.file("opened"), inputs: files, archive: fixture.archive)
        let report = try #require(files.first { try! probe($0, ring: ring).row.name == "report.pdf" })
        let output = try decryptor.decrypt(report, into: target)
        #expect(output.name == "report.pdf" && output.aboutName == "report.pdf.about.txt")
        #expect(try fixture.bytes(fixture.dir.file("opened/report.pdf")) == content)
        let about = try String(contentsOfFile: fixture.dir.file("opened/report.pdf.about.txt"), encoding: .utf8)
        #expect(about.hasPrefix("SealDrop submission \(report.label)\n"))
        #expect(about.contains("> page 3\n> \\u{1b}[31mred\n"), "the message is quoted and escaped: \(about)")
        #expect(!about.unicodeScalars.contains { $0.value == 0x1B })
        let mode = try FileManager.default.attributesOfItem(atPath: fixture.dir.file("opened/report.pdf.about.txt"))[.posixPermissions] as? Int
        #expect(mode == 0o600)

        #expect(fixture.archive.decryptedIDs() == [report.label])
        let after = try listing(files, ring: ring, archive: fixture.archive).rows
        #expect(after.first { $0.id == report.label }?.new == false)
        #expect(after.first { $0.id != report.label }?.new == true)
        let (toDo, skipped) = decryptor.pending(files, again: false)
        #expect(skipped.map(\.label) == [report.label] && toDo.count == 1)
        #expect(decryptor.pending(files, again: true).toDecrypt.count == 2)
    }

    @Test("verify authenticates every byte in-process and names the outcome of a damaged copy")
    func verifyInProcess() throws {
        let fixture = try Fixture()
        try fixture.submit(testBytes(count: 200_000))
        _ = try fixture.importMedium()
        let ring = try fixture.ring()
        let file = try #require(try fixture.archive.submissionFiles().first)
        var progress: UInt64 = 0
        let (row, failure) = try verify(file, ring: ring) { progress = $0 }
        #expect(failure == nil && row.outcome == .success && row.size == 200_000)
        #expect(progress == UInt64(try fixture.bytes(file.path).count))
        var bytes = try fixture.bytes(file.path)
        bytes[bytes.count - 50] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: file.path))
        let damaged = try verify(file, ring: ring)
        #expect(damaged.row.outcome == .payloadFailure)
        #expect(damaged.failure?.message.hasPrefix("payload failure: ") == true)
    }

    @Test("rekey rewrites an archive copy for new recipients in one pass, skips one already sealed to them, and refuses a file outside the archive")
    func rekeyInProcess() throws {
        let fixture = try Fixture()
        let onMedium = try fixture.submit(testBytes(count: 200_000))
        _ = try fixture.importMedium()
        let ring = try fixture.ring()
        let rekeyer = Rekeyer(archive: fixture.archive, ring: ring)
        let file = try #require(try fixture.archive.submissionFiles().first)
        let before = try fixture.bytes(file.path)
        let b = try Fixture.publicKey("b")
        #expect(throws: CLIError.self) { try rekeyer.checkInArchive([SubmissionFile(path: onMedium, fromFolder: false)]) }
        try rekeyer.checkInArchive([file])
        var seen: UInt64 = 0
        #expect(try rekeyer.rekey(file, to: [b], full: false) { done, _ in seen = done } == .rekeyed)
        #expect(seen == UInt64(before.count))
        let after = try fixture.bytes(file.path)
        #expect(after.count == before.count)
        #expect(after[134...] == before[134...])
        let header = try #require(try EnvelopeHeader.parse(prefix: after))
        #expect(header.keyIDs == [b.keyID])
        #expect(try rekeyer.rekey(file, to: [b], full: false) == .alreadySealedToTargets)
        #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.archive.submissionsPath) == [file.path.split(separator: "/").last.map(String.init)!])
    }
}

@Suite("Keyholder library: output folders, passphrases, retirement")
struct PolicyTests {
    @Test("an output folder in the archive, beside the inputs, in a spool, in a folder of submissions under any name, or on an imported medium is refused")
    func outputRefusals() throws {
        let fixture = try Fixture()
        try fixture.submit([1])
        _ = try fixture.importMedium()
        let files = try fixture.archive.submissionFiles()
        func refused(_ path: String, _ inputs: [SubmissionFile] = [], _ phrase: String) {
            #expect { _ = try OutputTarget(path: path, inputs: inputs, archive: fixture.archive) } throws: { error in
                (error as? CLIError)?.message.contains(phrase) == true
            }
        }
        refused(fixture.archive.path + "/opened", files, "lies inside the archive")
        refused(fixture.medium, [], "holds submissions")
        // Emptied since (the operator moved the files away), it is still the medium imported.
        for name in try FileManager.default.contentsOfDirectory(atPath: fixture.medium) {
            try FileManager.default.removeItem(atPath: (fixture.medium as NSString).appendingPathComponent(name))
        }
        refused(fixture.medium, [], "a medium imported on")
        refused(fixture.medium + "/opened", [], "a medium imported on")
        let spool = fixture.dir.file("spool")
        for folder in ["inbox", "tmp"] { try FileManager.default.createDirectory(atPath: "\(spool)/\(folder)", withIntermediateDirectories: true) }
        refused(spool + "/inbox/x", [], "is a SealDrop spool")
        let loose = fixture.dir.file("loose")
        try FileManager.default.createDirectory(atPath: loose, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: files[0].path, toPath: loose + "/renamed.bin")
        refused(loose, [], "holds submissions (renamed.bin is one)")
        refused(loose + "/opened", [], "holds submissions")
        refused(fixture.dir.file("elsewhere/x"), [], "parent folder does not exist")
        // A stray submission two folders up (in /tmp, a home folder) does not refuse outputs below.
        try FileManager.default.createDirectory(atPath: fixture.dir.file("sub"), withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: files[0].path, toPath: fixture.dir.file("stray.sealdrop"))
        _ = try OutputTarget(path: fixture.dir.file("sub/opened"), inputs: files, archive: fixture.archive)
        refused(fixture.dir.file("opened"), [], "holds submissions (stray.sealdrop)")
        try FileManager.default.removeItem(atPath: fixture.dir.file("stray.sealdrop"))
        // A protocol request kept in a file starts with SEALDROP too, but is no submission.
        let requests = fixture.dir.file("requests")
        try FileManager.default.createDirectory(atPath: requests, withIntermediateDirectories: false)
        try Data("SEALDROP/1 PUT 5\n\nhello".utf8).write(to: URL(fileURLWithPath: requests + "/request"))
        _ = try OutputTarget(path: requests + "/opened", inputs: files, archive: fixture.archive)
        _ = try OutputTarget(path: fixture.dir.file("opened"), inputs: files, archive: fixture.archive)
    }

    @Test("passphrase estimates: a, password, the famous four words and repeats fall short; five random words and generated ones pass")
    func passphraseEstimates() {
        func bits(_ text: String) -> Double { PassphrasePolicy.estimatedBits(Array(text.utf8).withUnsafeBytes { SecureBytes(copying: $0) }) }
        #expect(bits("a") < 10)
        #expect(bits("password1") < 40)
        #expect(bits("correct horse battery staple") < PassphrasePolicy.minimumBits)
        #expect(bits("passwordpasswordpasswordpassword") < 40)
        #expect(bits("abcdefghijklmnopqrstuvwxyz") < 40)
        #expect(bits("Tr0ub4dor&3") < PassphrasePolicy.minimumBits)
        #expect(bits("plaza yodel snowcap eligible rumor") >= PassphrasePolicy.minimumBits)
        #expect(bits("t-shirt") == bits("plaza"), "a hyphenated word of the list is one word")
        #expect(bits("q7Rz2Lw9Xk4Tn8Vm3Pj6") >= PassphrasePolicy.minimumBits)
        #expect(bits("aB3dE5gH7jK9mN1pQ3sT") < PassphrasePolicy.minimumBits, "letters in alphabetical order count little")
        for _ in 0..<20 {
            let generated = PassphrasePolicy.generate()
            let text = generated.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
            let words = text.split(separator: " ")
            #expect(words.count == 6)
            #expect(PassphrasePolicy.estimatedBits(generated) >= PassphrasePolicy.minimumBits, "\(text)")
            if Set(words).count == 6 { #expect(PassphrasePolicy.estimatedBits(generated) >= 77, "\(text)") }
        }
    }

    @Test("retirement: the key stays while the archive needs it or no import came after the retirement; then the check passes")
    func retirementCheck() throws {
        let fixture = try Fixture()
        try fixture.submit([1, 2, 3])
        _ = try fixture.importMedium()
        let a = try Fixture.publicKey("a"), b = try Fixture.publicKey("b")
        // Retire a: rename it as rotate does, record it, and put b in the keyring.
        let retiredName = "a.\(a.keyID).retired.key"
        try FileManager.default.moveItem(atPath: fixture.keyring + "/a.key", toPath: fixture.keyring + "/" + retiredName)
        try FileManager.default.copyItem(atPath: Fixture.vectorKeys.appendingPathComponent("b.key").path, toPath: fixture.keyring + "/b.key")
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: fixture.keyring + "/b.key")
        try Keyring.record(Keyring.Retirement(keyID: a.keyID.description, event: "retired", time: Date(), file: retiredName), in: fixture.keyring)
        func check() throws -> Retirement.Check {
            try Retirement.check(keyID: a.keyID, keyringFolder: fixture.keyring, archive: fixture.archive, extraPaths: [])
        }
        #expect { _ = try check() } throws: { ($0 as? CLIError)?.message.contains("1 submission(s) still need key ID") == true }
        let ring = try fixture.ring()
        for file in try fixture.archive.submissionFiles() { _ = try Rekeyer(archive: fixture.archive, ring: ring).rekey(file, to: [b], full: false) }
        #expect { _ = try check() } throws: { ($0 as? CLIError)?.message.contains("no medium holding submissions was imported since") == true }
        try fixture.submit([4], to: [b])
        _ = try fixture.importMedium(ring: ring)
        let passed = try check()
        #expect(passed.archiveCount == 2 && passed.importsSince.count == 1 && passed.examined == 4 && passed.newKeySeen)
        // A submission sealed to a alone that failed to import still needs it.
        let stray = try fixture.submit(testBytes(count: 100_000), to: [a])
        var bytes = try fixture.bytes(stray)
        bytes[bytes.count - 10] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: stray))
        _ = try fixture.importMedium(ring: ring)
        #expect { _ = try check() } throws: { ($0 as? CLIError)?.message.contains("still need key ID") == true }
    }

    @Test("keyring names: alice.key and alice.KEYID.retired.key are both alice")
    func keyringNames() throws {
        let fixture = try Fixture()
        let keys = try Keyring.keys(in: fixture.keyring)
        #expect(keys.map(\.name) == ["a"] && keys.map(\.retired) == [false])
        let id = try Fixture.publicKey("a").keyID
        try FileManager.default.moveItem(atPath: fixture.keyring + "/a.key", toPath: fixture.keyring + "/alice.\(id).retired.key")
        let retired = try Keyring.keys(in: fixture.keyring)
        #expect(retired.map(\.name) == ["alice"] && retired.map(\.retired) == [true])
    }
}
