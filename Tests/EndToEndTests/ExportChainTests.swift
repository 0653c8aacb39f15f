import Foundation
import SealDropStore
import SealDropTestSupport
import Testing

/// A drop and a keyholder for the export tests: the real `sealdropd` on loopback with a spool of
/// its own (and so a drop key of its own), the vector key `a` as the newsroom's key, the drop key
/// pinned with the real `keyholder trust-drop`, and an archive, all in one scratch folder.
final class ExportRig {
    let home: TemporaryDirectory
    let workspace: Workspace
    let spool: String
    let daemon: RunningDaemon
    /// The drop's public key, as `sealdropd drop-key --show` printed it.
    let dropKey: String
    var archive: String { home.file("archive") }
    var inbox: String { (spool as NSString).appendingPathComponent(SpoolLayout.inboxFolderName) }

    init() throws {
        home = try TemporaryDirectory("export-chain")
        workspace = try Workspace()
        spool = home.file("spool")
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let recipients = home.file("recipients")
        try Data("\(try Harness.publicKey("a").text)\n".utf8).write(to: URL(fileURLWithPath: recipients))
        daemon = try RunningDaemon(["--listen", "127.0.0.1:0", "--spool", spool, "--recipients-file", recipients,
                                    "--free-disk-reserve", "0", "--recipients-poll", "1h"])
        let show = try runProcess(TestBinaries.path("sealdropd"), ["drop-key", "--show", (spool as NSString).appendingPathComponent("drop.key")])
        dropKey = try #require(show.stdout.split(separator: "\n").last.map(String.init))
        let trust = try keyholder(["trust-drop", dropKey])
        #expect(trust.status == 0, "\(trust.stderr)")
    }

    /// Uploads `count` submissions (named `secret-<n>.txt`, a name no output may show); their receipts.
    func upload(_ count: Int) throws -> [String] {
        try (0..<count).map { try daemon.put(Data(testBytes(count: 3_000 + $0)), name: "secret-\($0).txt") }
    }

    /// `sealdropd export --to <home>/<name>` with the daemon's spool and `arguments`; `typed` is
    /// standard input.
    func export(_ name: String, _ arguments: [String] = [], typed: String? = nil) throws -> ProcessResult {
        try runProcess(TestBinaries.path("sealdropd"), ["export", "--to", home.file(name), "--spool", spool] + arguments,
                       stdin: typed.map { Data(($0 + "\n").utf8) })
    }

    /// The real keyholder, with this rig's home folder.
    func keyholder(_ arguments: [String]) throws -> ProcessResult {
        try Harness.keyholder(arguments, environment: Harness.environment(home: home.path))
    }

    /// `keyholder import` of `<home>/<name>` into the rig's archive with key `a`.
    func importMedium(_ name: String) throws -> ProcessResult {
        try keyholder(["import", "--archive", archive] + workspace.keyArguments() + [home.file(name)])
    }

    /// `keyholder verify --manifest <home>/<name>` against the rig's archive.
    func verifyManifest(_ name: String) throws -> ProcessResult {
        try keyholder(["verify", "--archive", archive, "--manifest", home.file(name)])
    }

    /// A copy of export `name` as `<home>/<copy>`, to tamper with.
    func copy(_ name: String, as copy: String) throws -> String {
        try FileManager.default.copyItem(atPath: home.file(name), toPath: home.file(copy))
        return home.file(copy)
    }

    /// The names in the spool's inbox.
    func inboxNames() -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: inbox)) ?? [])
    }

    /// The submissions in the archive.
    func archived() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: (archive as NSString).appendingPathComponent("submissions"))) ?? [])
            .filter { $0.hasSuffix(".sealdrop") }
    }

    /// The digest on a `manifest digest: …` line of `output`.
    static func digest(in output: String) -> String? {
        output.split(separator: "\n").first { $0.hasPrefix("manifest digest: ") }.map { String($0.dropFirst("manifest digest: ".count)) }
    }
}

/// `sealdropd export` and `keyholder import`/`verify --manifest` through the real binaries: a
/// signed chain of exports that proves each medium complete and unaltered and the exports in
/// order, and `--move`, which removes only what the typed-back digest vouches for.
@Suite("A signed chain of exports")
struct ExportChainTests {
    @Test("an honest chain of two exports verifies and imports; both sides print the same digest; nothing a source chose is shown")
    func honestChain() throws {
        let rig = try ExportRig()
        let first = try rig.upload(2)
        let export1 = try rig.export("usb-1")
        #expect(export1.status == 0, "\(export1.stderr)")
        #expect(export1.stdout.contains("exported 2 submissions ("), "\(export1.stdout)")
        #expect(export1.stdout.contains("export 1 of this drop (the first)"))
        let digest1 = try #require(ExportRig.digest(in: export1.stdout))
        #expect(digest1.count == 29)
        for output in [export1.stdout, export1.stderr] {
            #expect(!output.contains("secret-") && !output.contains("127.0.0.1"), "\(output)")
        }
        // On the medium: the pairs and the manifest, which lists no time and no name.
        let manifest = try String(contentsOfFile: rig.home.file("usb-1/sealdrop-export.manifest"), encoding: .utf8)
        #expect(manifest.hasPrefix("SEALDROP-EXPORT-1\ndrop-key: \(rig.dropKey)\nsequence: 1\nprevious-manifest-blake2b-256: none\nsubmissions: 2\n"))
        #expect(!manifest.contains("secret-"))
        let fields = ["SEALDROP-EXPORT-1", "drop-key:", "sequence:", "previous-manifest-blake2b-256:", "submissions:", "submission:", "signature:"]
        #expect(manifest.split(separator: "\n").allSatisfy { line in fields.contains { line.hasPrefix($0) } })
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: rig.home.file("usb-1"))) ==
                Set(first.flatMap { ["\($0).sealdrop", "\($0).record"] } + ["sealdrop-export.manifest"]))
        // The server keeps the chain's state only: never a manifest.
        let chain = try String(contentsOfFile: (rig.spool as NSString).appendingPathComponent("export-chain"), encoding: .utf8)
        #expect(chain.hasPrefix("SEALDROP-EXPORT-CHAIN-1\n\(rig.dropKey) 1 "))
        #expect(!(try FileManager.default.subpathsOfDirectory(atPath: rig.spool)).contains { $0.hasSuffix(".manifest") })

        let verify1 = try rig.verifyManifest("usb-1")
        #expect(verify1.status == 0, "\(verify1.stderr)")
        #expect(ExportRig.digest(in: verify1.stdout) == digest1)
        #expect(verify1.stdout.contains("the first export imported from this drop"))
        #expect(rig.archived().isEmpty)

        let import1 = try rig.importMedium("usb-1")
        #expect(import1.status == 0, "\(import1.stderr)")
        #expect(ExportRig.digest(in: import1.stdout) == digest1)
        #expect(import1.stdout.components(separatedBy: "imported (ok)  record: ok").count - 1 == 2, "\(import1.stdout)")
        #expect(import1.stderr.contains("export 1 of drop") && import1.stderr.contains("starts the chain"), "\(import1.stderr)")

        let second = try rig.upload(1)
        let export2 = try rig.export("usb-2")
        #expect(export2.status == 0, "\(export2.stderr)")
        #expect(export2.stdout.contains("exported 3 submissions ("))
        #expect(export2.stdout.contains("export 2 of this drop (it follows export 1)"))
        let digest2 = try #require(ExportRig.digest(in: export2.stdout))
        #expect(digest2 != digest1)
        let import2 = try rig.importMedium("usb-2")
        #expect(import2.status == 0, "\(import2.stderr)")
        #expect(ExportRig.digest(in: import2.stdout) == digest2)
        #expect(import2.stderr.contains("it continues the chain"), "\(import2.stderr)")
        #expect(import2.stdout.contains("\(second[0])  imported (ok)"))
        #expect(import2.stdout.components(separatedBy: "already archived").count - 1 == 2)
        #expect(Set(rig.archived()) == Set((first + second).map { "\($0).sealdrop" }))
        // A folder that already holds an export is refused.
        let again = try rig.export("usb-2")
        #expect(again.status == 1)
        #expect(again.stderr.contains("sealdropd: error: \(rig.home.file("usb-2")) already holds an export"), "\(again.stderr)")
        #expect(again.stderr.contains("sealdropd: hint: "))
    }

    @Test("a deleted, an injected and an altered submission, an altered manifest and a manifest signed by another drop key are each reported; nothing is imported")
    func tamperedMedia() throws {
        let rig = try ExportRig()
        let receipts = try rig.upload(2)
        #expect(try rig.export("usb").status == 0)
        let injected = SubmissionID.random().text
        let otherKey = rig.home.file("other.key")
        #expect(try runProcess(TestBinaries.path("sealdropd"), ["drop-key", "--output", otherKey]).status == 0)
        let otherDrop = try rig.export("usb-other-key", ["--drop-key", otherKey])
        #expect(otherDrop.status == 0, "\(otherDrop.stderr)")

        let cases: [(name: String, tamper: (String) throws -> Void, message: String)] = [
            ("deleted", { try FileManager.default.removeItem(atPath: "\($0)/\(receipts[0]).sealdrop") },
             "submission \(receipts[0]) is missing from the medium"),
            ("injected", { try FileManager.default.copyItem(atPath: "\($0)/\(receipts[1]).sealdrop", toPath: "\($0)/\(injected).sealdrop") },
             "submission \(injected) was added to the medium"),
            ("altered", { folder in
                let path = "\(folder)/\(receipts[1]).sealdrop"
                var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
                bytes[bytes.count - 100] ^= 0x01
                try bytes.write(to: URL(fileURLWithPath: path))
            }, "submission \(receipts[1]) was altered on the medium"),
            ("altered-record", { try Data("forged".utf8).write(to: URL(fileURLWithPath: "\($0)/\(receipts[0]).record")) },
             "the provenance record of submission \(receipts[0]) was altered on the medium"),
            ("altered-manifest", { folder in
                let path = "\(folder)/sealdrop-export.manifest"
                var text = try String(contentsOfFile: path, encoding: .utf8)
                let line = try #require(text.range(of: "submission: \(receipts[0]) "))
                let size = text[line.upperBound...].prefix { $0.isNumber }
                text.replaceSubrange(line.upperBound..<text.index(line.upperBound, offsetBy: size.count), with: String(Int(size)! + 1))
                try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            }, "the export manifest's signature does not verify: it was altered or forged"),
        ]
        var media = try cases.map { test in
            let folder = try rig.copy("usb", as: "usb-\(test.name)")
            try test.tamper(folder)
            return (test.name, test.message)
        }
        media.append(("other-key", "the manifest is signed by drop key"))
        for (name, message) in media {
            for result in [try rig.verifyManifest("usb-\(name)"), try rig.importMedium("usb-\(name)")] {
                #expect(result.status == 1, "\(name): \(result.stderr)")
                #expect(result.stderr.contains("keyholder: error: ") && result.stderr.contains(message), "\(name): \(result.stderr)")
                #expect(result.stderr.contains("keyholder: hint: "))
                #expect(ExportRig.digest(in: result.stdout) == nil, "\(name): a medium that does not verify gets no digest")
                expectOnlyDiagnostics(result.stderr)
            }
            #expect(rig.archived().isEmpty, "\(name): nothing is imported")
        }
        // The untouched medium still verifies and imports: the refused ones advanced nothing.
        let honest = try rig.importMedium("usb")
        #expect(honest.status == 0, "\(honest.stderr)")
        #expect(rig.archived().count == 2)
    }

    @Test("a chain rolled back, replayed or with an export missing is reported, and then the chain goes on")
    func rolledBack() throws {
        let rig = try ExportRig()
        for index in 1...4 {
            _ = try rig.upload(1)
            #expect(try rig.export("usb-\(index)").status == 0)
        }
        #expect(try rig.importMedium("usb-2").status == 0)
        let older = try rig.importMedium("usb-1")
        #expect(older.status == 1)
        #expect(older.stderr.contains("the chain goes backwards: this is export 1, but export 2 was imported already"), "\(older.stderr)")
        let replayed = try rig.importMedium("usb-2")
        #expect(replayed.status == 1)
        #expect(replayed.stderr.contains("the chain goes backwards: export 2 was imported already (a replayed export)"), "\(replayed.stderr)")
        let verifyReplayed = try rig.verifyManifest("usb-2")
        #expect(verifyReplayed.status == 1 && verifyReplayed.stderr.contains("a replayed export"))
        let gap = try rig.importMedium("usb-4")
        #expect(gap.status == 1)
        #expect(gap.stderr.contains("the chain breaks: this is export 4, but the last imported was export 2; export 3 is missing"), "\(gap.stderr)")
        #expect(rig.archived().count == 2, "the refused imports added nothing")
        #expect(try rig.importMedium("usb-3").status == 0)
        #expect(try rig.importMedium("usb-4").status == 0)
        #expect(rig.archived().count == 4)
    }

    @Test("an export after a lost one: refused with a hint, accepted only with --accept-gap (with a warning); a chain going backwards never is")
    func lostExport() throws {
        let rig = try ExportRig()
        for index in 1...3 {
            _ = try rig.upload(1)
            #expect(try rig.export("usb-\(index)").status == 0)
        }
        #expect(try rig.importMedium("usb-1").status == 0)
        // usb-2 is lost (without --move, its submission is still on the server and in usb-3).
        let refused = try rig.importMedium("usb-3")
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("keyholder: hint: nothing was imported; import the missing export first. Only if it was lost"), "\(refused.stderr)")
        let verified = try rig.keyholder(["verify", "--manifest", rig.home.file("usb-3"), "--accept-gap", "--archive", rig.archive])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stderr.contains("export 2 is missing; accepted with --accept-gap"), "\(verified.stderr)")
        let accepted = try rig.keyholder(["import", "--accept-gap", rig.home.file("usb-3")] + ["--archive", rig.archive] + rig.workspace.keyArguments())
        #expect(accepted.status == 0, "\(accepted.stderr)")
        #expect(accepted.stderr.contains("warning") && accepted.stderr.contains("accepted with --accept-gap"), "\(accepted.stderr)")
        #expect(ExportRig.digest(in: accepted.stdout) != nil)
        #expect(rig.archived().count == 3, "usb-3 held all three: nothing was moved off the server")
        let backwards = try rig.keyholder(["import", "--accept-gap", rig.home.file("usb-1")] + ["--archive", rig.archive] + rig.workspace.keyArguments())
        #expect(backwards.status == 1 && backwards.stderr.contains("the chain goes backwards"), "\(backwards.stderr)")
    }

    @Test("--move with a wrong digest, or none, removes nothing")
    func moveWithWrongDigest() throws {
        let rig = try ExportRig()
        _ = try rig.upload(2)
        let before = rig.inboxNames()
        #expect(before.count == 4)
        for (index, typed) in ["aaaa-bbbb-cccc-dddd-eeee-ffff", "", "yes"].enumerated() {
            let export = try rig.export("usb-\(index)", ["--move"], typed: typed)
            #expect(export.status == 1, "\(export.stdout)")
            #expect(export.stderr.contains("sealdropd: error: the digest typed does not match this export's manifest digest: nothing was removed"), "\(export.stderr)")
            #expect(export.stderr.contains("sealdropd: hint: "))
            #expect(rig.inboxNames() == before)
        }
        let closed = try runProcess(TestBinaries.path("sealdropd"), ["export", "--to", rig.home.file("usb-eof"), "--spool", rig.spool, "--move"], stdin: Data())
        #expect(closed.status == 1)
        #expect(rig.inboxNames() == before)
    }

    @Test("--move with the digest keyholder import printed removes exactly the listed submissions: one that arrived since stays")
    func moveWithRightDigest() throws {
        let rig = try ExportRig()
        let exported = try rig.upload(2)
        let export = try InteractiveProcess(TestBinaries.path("sealdropd"), ["export", "--to", rig.home.file("usb"), "--spool", rig.spool, "--move"])
        #expect(export.waitForStandardError("type the digest it printed"), "\(export.stdout) \(export.stderr)")
        let printed = try #require(ExportRig.digest(in: export.stdout))
        // On the air-gapped machine; meanwhile a source uploads again.
        let imported = try rig.importMedium("usb")
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(ExportRig.digest(in: imported.stdout) == printed)
        let arrived = try rig.upload(1)
        // Typed back as a person might: upper case, spaces for dashes.
        export.send(printed.uppercased().replacingOccurrences(of: "-", with: " "))
        #expect(export.finish() == 0, "\(export.stderr)")
        #expect(export.stdout.contains("removed 2 submissions from the inbox"), "\(export.stdout)")
        #expect(rig.inboxNames() == ["\(arrived[0]).sealdrop", "\(arrived[0]).record"])
        #expect(Set(rig.archived()) == Set(exported.map { "\($0).sealdrop" }))
        // The next export lists only what stayed, and continues the chain.
        let next = try rig.export("usb-2")
        #expect(next.stdout.contains("exported 1 submission (") && next.stdout.contains("export 2 of this drop"), "\(next.stdout)")
        #expect(try rig.importMedium("usb-2").status == 0)
    }
}

/// A program run with its standard input kept open, to answer it once it has asked.
final class InteractiveProcess {
    private let process = Process()
    private let input = Pipe()
    private let output = CollectedText(), errors = CollectedText()
    private let reading = DispatchGroup()

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardInput = input
        process.standardOutput = out
        process.standardError = err
        try process.run()
        for (pipe, text) in [(out, output), (err, errors)] {
            DispatchQueue.global().async(group: reading) {
                while true {
                    let data = pipe.fileHandleForReading.availableData
                    if data.isEmpty { break }
                    text.append(String(decoding: data, as: UTF8.self))
                }
            }
        }
    }

    var stdout: String { output.text }
    var stderr: String { errors.text }

    /// Waits until standard error shows `text`, or the program ends, or 60 seconds pass.
    func waitForStandardError(_ text: String) -> Bool {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && !stderr.contains(text) && process.isRunning { Thread.sleep(forTimeInterval: 0.02) }
        return stderr.contains(text)
    }

    /// Types `line` and closes standard input.
    func send(_ line: String) {
        try? input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
        try? input.fileHandleForWriting.close()
    }

    /// Waits for the program to end; its exit status.
    func finish() -> Int32 {
        process.waitUntilExit()
        reading.wait()
        return process.terminationStatus
    }
}
