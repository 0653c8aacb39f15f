import Foundation
import SealDropKeys
import SealDropTestSupport
import Testing

/// keygen → seal → decrypt through the real binaries, as a newsroom and a source would run them.
@Suite("CLI round trips")
struct CLIRoundTripTests {
    let sealdrop = TestBinaries.path("sealdrop")
    let keyholder = TestBinaries.path("keyholder")

    @Test("keygen writes a 0600 key file and prints the public key last, after '#' lines")
    func keygen() throws {
        let dir = try TemporaryDirectory()
        let key = try TestKey.make(in: dir)
        let mode = try FileManager.default.attributesOfItem(atPath: key.keyPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let pubkey = try runProcess(keyholder, ["pubkey", key.keyPath])
        #expect(pubkey.status == 0)
        #expect(pubkey.stdout == key.publicKeyText + "\n")
        // keygen never replaces an existing file.
        let again = try runProcess(keyholder, ["keygen", "--output", key.keyPath, "--passphrase-file", key.passphrasePath])
        #expect(again.status == 1)
        #expect(again.stderr.contains("keyholder: error: \(key.keyPath) already exists"))
        #expect(again.stderr.contains("keyholder: hint:"))
    }

    @Test("an empty passphrase file is refused", arguments: ["", "\n", "\nsecond line"])
    func emptyPassphrase(contents: String) throws {
        let dir = try TemporaryDirectory()
        try Data(contents.utf8).write(to: URL(fileURLWithPath: dir.file("pass")))
        let result = try runProcess(keyholder, ["keygen", "--output", dir.file("k.key"), "--passphrase-file", dir.file("pass")])
        #expect(result.status == 1)
        #expect(result.stderr.contains("empty line"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("k.key")))
    }

    @Test("seal then decrypt gives identical bytes, under the original name", arguments: [0, 1, 65_532, 1 << 20])
    func roundTrip(size: Int) throws {
        let dir = try TemporaryDirectory()
        let key = try TestKey.make(in: dir)
        let content = Data(testBytes(count: size))
        try content.write(to: URL(fileURLWithPath: dir.file("report.pdf")))
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: false)
        let seal = try runProcess(sealdrop, ["seal", "--recipient", key.publicKeyText, "--output", dir.file("in/s.sealdrop"), dir.file("report.pdf")])
        #expect(seal.status == 0, "\(seal.stderr)")
        let open = try Harness.keyholder(["decrypt", "--key", key.keyPath, "--passphrase-file", key.passphrasePath, "--out", dir.file("out"), dir.file("in/s.sealdrop")])
        #expect(open.status == 0, "\(open.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("out/report.pdf"))) == content)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("out")).sorted() == ["report.pdf", "report.pdf.about.txt"])
    }

    @Test("standard input, --name, --no-name and a second decrypt of the same submission")
    func namesAndStdin() throws {
        let dir = try TemporaryDirectory()
        let key = try TestKey.make(in: dir)
        let content = Data("from stdin".utf8)
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: false)
        let named = try runProcess(sealdrop, ["seal", "-r", key.publicKeyText, "--name", "chosen.txt", "-o", dir.file("in/a.sealdrop"), "-"], stdin: content)
        #expect(named.status == 0)
        try content.write(to: URL(fileURLWithPath: dir.file("telling-name.txt")))
        let unnamed = try runProcess(sealdrop, ["seal", "-r", key.publicKeyText, "--no-name", "-o", dir.file("in/b.sealdrop"), dir.file("telling-name.txt")])
        #expect(unnamed.status == 0)
        let args = ["decrypt", "--key", key.keyPath, "--passphrase-file", key.passphrasePath, "--out", dir.file("out")]
        #expect(try Harness.keyholder(args + [dir.file("in/a.sealdrop"), dir.file("in/b.sealdrop"), dir.file("in/a.sealdrop")]).status == 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.file("out")).filter { !$0.hasSuffix(".about.txt") }.sorted()
        // The unnamed one falls back to its file's stem; the repeat (a loose file, not one of the
        // archive, so not skipped) gets a suffix, never an overwrite.
        #expect(names == ["b", "chosen (1).txt", "chosen.txt"])
        #expect(!(try String(contentsOfFile: dir.file("in/b.sealdrop"), encoding: .isoLatin1)).contains("telling-name"))
    }

    @Test("sealdrop refuses a bad recipient, a secret key as recipient, an existing output and its own input")
    func sealRefusals() throws {
        let dir = try TemporaryDirectory()
        let key = try TestKey.make(in: dir)
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir.file("in.txt")))
        var typo = Array(key.publicKeyText)
        typo[20] = typo[20] == "q" ? "p" : "q"
        let cases: [([String], String)] = [
            (["-r", String(typo), "-o", dir.file("o1"), dir.file("in.txt")], "checksum mismatch"),
            (["-r", try String(contentsOfFile: key.keyPath, encoding: .utf8), "-o", dir.file("o2"), dir.file("in.txt")], "this is a secret key"),
            (["-r", key.publicKeyText, "-o", dir.file("in.txt"), dir.file("in.txt")], "the output is the input file itself"),
            (["-r", key.publicKeyText, "-o", dir.file("o3"), dir.file("missing.txt")], "cannot open"),
        ]
        for (arguments, message) in cases {
            let result = try runProcess(sealdrop, ["seal"] + arguments)
            #expect(result.status == 1, "\(arguments)")
            #expect(result.stderr.contains("sealdrop: error:") && result.stderr.contains(message), "\(result.stderr)")
            #expect(result.stderr.contains("sealdrop: hint:"), "\(result.stderr)")
        }
        #expect(try String(contentsOfFile: dir.file("in.txt"), encoding: .utf8) == "x")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("o") || $0.hasPrefix(".sealdrop") }
        #expect(leftovers.isEmpty)
    }

    @Test("an interrupted seal leaves nothing in the output folder", arguments: [SIGINT, SIGTERM])
    func interruptedSeal(signal: Int32) throws {
        let dir = try TemporaryDirectory()
        let key = try TestKey.make(in: dir)
        let out = dir.file("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: sealdrop)
        process.arguments = ["seal", "-r", key.publicKeyText, "-o", out + "/leak.sealdrop", "-"]
        let input = Pipe()
        process.standardInput = input
        process.standardError = Pipe()
        try process.run()
        // More than a chunk, so the sealed file has been started; then the source stalls.
        try input.fileHandleForWriting.write(contentsOf: Data(testBytes(count: 300_000)))
        var started = false
        for _ in 0..<100 where !started {
            started = isWritingUnnamedFile(pid: process.processIdentifier, in: out)
            if !started { usleep(50_000) }
        }
        #expect(started, "the output file was never seen being written")
        kill(process.processIdentifier, signal)
        for _ in 0..<200 where process.isRunning { usleep(50_000) }
        if process.isRunning {
            Issue.record("sealdrop ignored the signal for 10 s")
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).isEmpty)
    }
}
