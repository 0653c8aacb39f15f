import Foundation
import SealDropCrypto
import SealDropKeys
import SealDropTestSupport
import Testing

/// `sealdrop send` against the real daemon, through real SOCKS5 servers from Debian.
@Suite("sealdrop send", .serialized)
struct SendTests {
    static let onion = String(repeating: "a", count: 55) + "d.onion"

    @Test("through dante with authentication: sealed here, decrypted byte-identical, fresh credentials each run, a domain-name CONNECT")
    func throughAuthenticatingProxy() throws {
        let drop = try SendDrop()
        let dante = try DanteProxy(in: drop.dir)
        let wire = try WireRecorder(to: dante.port, in: drop.dir)
        let canary = Data("CANARY-\(UUID().uuidString)".utf8)
        // Three chunks and a bit, with the canary in the middle of the second.
        var first = Data(testBytes(count: 200_000))
        first.replaceSubrange(70_000..<70_000 + canary.count, with: canary)
        try first.write(to: URL(fileURLWithPath: drop.dir.file("minutes.bin")))
        try Data("Page 3 matters. \(String(decoding: canary, as: UTF8.self))".utf8).write(to: URL(fileURLWithPath: drop.dir.file("note.txt")))
        let piped = canary + Data(" from a pipe".utf8)

        let run = try sendCommand(["send", "--proxy", "socks5h://127.0.0.1:\(wire.port)", "--message-file", drop.dir.file("note.txt"),
                                   try drop.address(), drop.dir.file("minutes.bin"), "-"], stdin: piped)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.isEmpty, "off a terminal only the receipts: \(run.stderr)")
        let receipts = run.stdout.split(separator: "\n").map(String.init)
        #expect(receipts.count == 2)
        guard receipts.count == 2 else { return }

        let opened = try drop.open(receipts[0], expecting: "minutes.bin")
        #expect(opened.content == first)
        #expect(opened.about.contains("Page 3 matters."))
        #expect(opened.about.contains("through SEALED"))
        let fromPipe = try drop.open(receipts[1], expecting: receipts[1])  // no name: the ID names it
        #expect(fromPipe.content == piped)
        #expect(!drop.spoolContains(canary), "plaintext reached the server's disk")

        // On the wire: username/password only, then the credentials (32 hex digits each), then
        // CONNECT with the host as a domain name (address type 3), never resolved here.
        let sent = try wire.clientBytes()
        #expect(Array(sent.prefix(3)) == [5, 1, 2])
        #expect(sent.count > 3 && sent[3] == 1 && sent[4] == 32)
        let host = Array("127.0.0.1".utf8)
        #expect(containsRun(sent, [5, 1, 0, 3, UInt8(host.count)] + host + [UInt8(drop.daemon.port >> 8), UInt8(drop.daemon.port & 0xff)]))

        // A second run, with the proxy from SEALDROP_PROXY: new credentials.
        try Data("second".utf8).write(to: URL(fileURLWithPath: drop.dir.file("second.txt")))
        let again = try sendCommand(["send", try drop.address(), drop.dir.file("second.txt")],
                                    environment: ["SEALDROP_PROXY": "socks5h://127.0.0.1:\(dante.port)"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try drop.open(again.stdout.trimmingCharacters(in: .whitespacesAndNewlines), expecting: "second.txt").content == Data("second".utf8))
        let users = try dante.users()
        // KEYS and two uploads (CREATE and APPEND each) in the first run, KEYS and one upload in
        // the second.
        #expect(users.count == 8, "\(users)")
        #expect(Set(users.prefix(5)).count == 1 && Set(users.suffix(3)).count == 1, "one login per run: \(users)")
        #expect(users.first != users.last, "the second run must log in afresh")
        #expect(users.allSatisfy { $0.count == 32 })
    }

    @Test("a list that does not verify stops the run after KEYS, with nothing stored")
    func refusedLists() throws {
        try Data("leak".utf8).write(to: URL(fileURLWithPath: NSTemporaryDirectory() + "/send-refused.txt"))
        let file = NSTemporaryDirectory() + "/send-refused.txt"
        func expectStopped(_ result: ProcessResult, _ why: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(result.status == 1, sourceLocation: sourceLocation)
            #expect(result.stdout.isEmpty, sourceLocation: sourceLocation)
            #expect(result.stderr.contains("sealdrop: error: stop: this may not be the newsroom's drop"), "\(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.stderr.contains(why), "\(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.stderr.contains("sealdrop: hint: nothing was sent"), sourceLocation: sourceLocation)
        }

        // The real drop, with an address that pins another key.
        let drop = try SendDrop()
        let other = SigningSecretKey.generate().publicKey
        expectStopped(try sendCommand(["send", try drop.address(pinning: other), file]), "signed by another key")
        // The real drop serving no signed list at all.
        let unsigned = try SendDrop(unsigned: true)
        expectStopped(try sendCommand(["send", try unsigned.address(), file]), "not a valid signed recipients list")
        for spool in [drop, unsigned] { #expect(spool.stored().isEmpty, "\(spool.stored())") }

        // A drop serving the newsroom's list edited, or an expired one (the real daemon serves
        // only what verifies, so a stand-in serves these).
        let key = try PublicKey(text: drop.key.publicKeyText)
        let list = try SignedRecipients.sign(recipients: [key], serial: 1, with: drop.signing).text
        let edited = list.replacingOccurrences(of: "serial: 1\n", with: "serial: 9\n")
        let expired = try SignedRecipients.sign(recipients: [key], serial: 1, date: Date(timeIntervalSinceNow: -100 * 86_400),
                                                expires: Date(timeIntervalSinceNow: -86_400), with: drop.signing).text
        for (document, why) in [(edited, "the signature does not verify"), (expired, "expired")] {
            let fake = try FakeDrop(reply: Data("OK \(document.utf8.count)\n\(document)".utf8))
            let address = try DropAddress(host: .loopback([127, 0, 0, 1]), port: UInt16(fake.port), signingKey: drop.signing.publicKey).text
            expectStopped(try sendCommand(["send", address, file]), why)
            #expect(fake.received == [Data("SEALDROP/1 KEYS\n\n".utf8)], "only KEYS, on one connection")
        }
    }

    @Test("an onion drop without a proxy, or a proxy that resolves names locally, is refused before any connection")
    func refusedBeforeConnecting() throws {
        let dir = try TemporaryDirectory("send-route")
        try Data("leak".utf8).write(to: URL(fileURLWithPath: dir.file("f.txt")))
        let onion = try DropAddress(host: .init(name: Self.onion), port: 80, signingKey: SigningSecretKey.generate().publicKey).text
        let cases: [(arguments: [String], environment: [String: String], says: String)] = [
            (["send", onion, dir.file("f.txt")], [:], "is reached only through Tor, and no proxy was given"),
            (["send", "--proxy", "socks5://127.0.0.1:9050", onion, dir.file("f.txt")], [:], "with socks5:// this computer would look up the drop's name itself"),
            (["send", onion, dir.file("f.txt")], ["SEALDROP_PROXY": "socks5://127.0.0.1:9050"], "with socks5:// this computer would look up"),
            (["send", "--proxy", "socks5h://localhost:9050", onion, dir.file("f.txt")], [:], "must be given by its IP address"),
        ]
        // The trace does see a connection when one is made (to a loopback drop nobody runs).
        let loopback = try DropAddress(host: .loopback([127, 0, 0, 1]), port: UInt16(try freePort()), signingKey: SigningSecretKey.generate().publicKey).text
        _ = try sendCommand(["send", loopback, dir.file("f.txt")], wrapper: ["/usr/bin/strace", "-f", "-qq", "-e", "trace=connect", "-o", dir.file("trace-control")])
        #expect(try String(contentsOfFile: dir.file("trace-control"), encoding: .utf8).contains("AF_INET"))
        for (index, test) in cases.enumerated() {
            let trace = dir.file("trace-\(index)")
            let result = try sendCommand(test.arguments, environment: test.environment,
                                         wrapper: ["/usr/bin/strace", "-f", "-qq", "-e", "trace=connect,sendto", "-o", trace])
            #expect(result.status == 1, "\(result.stderr)")
            #expect(result.stderr.contains(test.says), "\(result.stderr)")
            #expect(result.stderr.contains("sealdrop: hint: "))
            let calls = try String(contentsOfFile: trace, encoding: .utf8)
            #expect(!calls.contains("AF_INET"), "a connection was attempted: \(calls)")
        }
    }

    @Test("Tor not running, a proxy that checks passwords, a drop that is not there: each said in plain words")
    func unreachable() throws {
        let dir = try TemporaryDirectory("send-unreachable")
        try Data("leak".utf8).write(to: URL(fileURLWithPath: dir.file("f.txt")))
        let key = SigningSecretKey.generate().publicKey
        let onion = try DropAddress(host: .init(name: Self.onion), port: 80, signingKey: key).text
        // A network namespace of its own: nothing listens on 9050 or 9150 there, whatever this machine runs.
        let noTor = try runProcess("/usr/bin/unshare", ["-n", TestBinaries.path("sealdrop"), "send", "--tor", onion, dir.file("f.txt")])
        #expect(noTor.status == 1)
        #expect(noTor.stderr.contains("cannot reach Tor on this computer: nothing answers on port 9050 (the tor service) or 9150 (Tor Browser)"), "\(noTor.stderr)")
        #expect(noTor.stderr.contains("hint: start Tor Browser and leave it open, or start the tor service"))

        let port = try freePort()
        let microsocks = try BackgroundProgram("/usr/bin/microsocks", ["-i", "127.0.0.1", "-p", "\(port)", "-u", "someone", "-P", "secret"])
        #expect(waitForListener(port: port))
        let checked = try sendCommand(["send", "--proxy", "socks5h://127.0.0.1:\(port)", onion, dir.file("f.txt")])
        #expect(checked.status == 1)
        #expect(checked.stderr.contains("will not take the separate login this program uses for each run"), "\(checked.stderr)")
        withExtendedLifetime(microsocks) {}

        let nobody = try DropAddress(host: .loopback([127, 0, 0, 1]), port: UInt16(try freePort()), signingKey: key).text
        let absent = try sendCommand(["send", nobody, dir.file("f.txt")])
        #expect(absent.status == 1)
        #expect(absent.stderr.contains("cannot reach the drop on this computer"), "\(absent.stderr)")
    }

    @Test("a file the drop refuses gets no receipt and the next is still sent; exit 1; a full drop says try later")
    func dropRefusals() throws {
        let drop = try SendDrop(daemonArguments: ["--max-body-size", "1M"])
        try Data(testBytes(count: 2 << 20)).write(to: URL(fileURLWithPath: drop.dir.file("big.bin")))
        try Data("small".utf8).write(to: URL(fileURLWithPath: drop.dir.file("small.txt")))
        let result = try sendCommand(["send", try drop.address(), drop.dir.file("big.bin"), drop.dir.file("small.txt")])
        #expect(result.status == 1)
        #expect(result.stderr.contains("big.bin: the file is larger than this drop accepts"), "\(result.stderr)")
        #expect(result.stderr.contains("1 of 2 file(s) got no receipt"))
        let receipts = result.stdout.split(separator: "\n")
        #expect(receipts.count == 1)
        #expect(try drop.open(String(receipts[0]), expecting: "small.txt").content == Data("small".utf8))

        let full = try SendDrop(daemonArguments: ["--spool-quota", "64K"])
        let refused = try sendCommand(["send", try full.address(), drop.dir.file("big.bin"), drop.dir.file("small.txt")])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("the drop cannot take more files right now: it is full"), "\(refused.stderr)")
        #expect(refused.stderr.contains("hint: try again later"), "\(refused.stderr)")
        #expect(refused.stderr.contains("2 of 2 file(s) got no receipt"), "a full drop stops the run: \(refused.stderr)")
        #expect(full.stored().isEmpty)
    }

    @Test("a missing file stops the run before the drop is contacted")
    func missingFile() throws {
        let drop = try SendDrop()
        try Data("x".utf8).write(to: URL(fileURLWithPath: drop.dir.file("here.txt")))
        let result = try sendCommand(["send", try drop.address(), drop.dir.file("here.txt"), drop.dir.file("not-here.txt")])
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot open \(drop.dir.file("not-here.txt"))"))
        #expect(result.stdout.isEmpty)
        #expect(drop.stored().isEmpty)
    }

    @Test("--scrub removes embedded metadata in memory and says what; without it, one line warns")
    func scrub() throws {
        let drop = try SendDrop()
        let photo = drop.dir.file("photo.png")
        try Data(Self.pngWithMetadata).write(to: URL(fileURLWithPath: photo))
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: "/dev/shm"))
        let scrubbed = try sendCommand(["send", "--scrub", try drop.address(), photo])
        #expect(scrubbed.status == 0, "\(scrubbed.stderr)")
        #expect(scrubbed.stderr.contains("scrubbed \(photo): removed Author, Comment"), "\(scrubbed.stderr)")
        let opened = try drop.open(scrubbed.stdout.trimmingCharacters(in: .whitespacesAndNewlines), expecting: "photo.png")
        #expect(opened.content.range(of: Data("Jane Source".utf8)) == nil)
        #expect(opened.content.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: "/dev/shm")) == before, "the copy in memory was left behind")

        let plain = try sendCommand(["send", try drop.address(), photo])
        #expect(plain.status == 0)
        #expect(plain.stderr.contains("photo.png is a kind of file that often carries hidden details"), "\(plain.stderr)")
        #expect(try drop.open(plain.stdout.trimmingCharacters(in: .whitespacesAndNewlines), expecting: "photo.png").content == Data(Self.pngWithMetadata))

        let stored = drop.stored().count
        let noMat2 = try sendCommand(["send", "--scrub", try drop.address(), photo], environment: ["PATH": "/nonexistent"])
        #expect(noMat2.status == 1)
        #expect(noMat2.stderr.contains("--scrub needs mat2, which is not installed"))
        #expect(drop.stored().count == stored)
    }

    @Test("on a terminal: progress with bytes, rate and time left, then what a receipt is for")
    func terminal() throws {
        let drop = try SendDrop()
        try Data(testBytes(count: 24 << 20)).write(to: URL(fileURLWithPath: drop.dir.file("large.bin")))
        let shown = try runOnTerminal([TestBinaries.path("sealdrop"), "send", try drop.address(), drop.dir.file("large.bin")])
        #expect(shown.status == 0, "\(shown.output)")
        #expect(shown.output.contains("keys verified: signed by the newsroom's key \(drop.signing.publicKey.fingerprint)"))
        #expect(shown.output.contains("MiB/s  ETA "), "\(shown.output)")
        #expect(shown.output.contains(" of 24.0 MiB"), "\(shown.output)")
        #expect(shown.output.contains("A receipt lets you ask the newsroom about what you sent"))
        #expect(drop.stored().filter { $0.hasSuffix(".sealdrop") }.count == 1)
    }

    /// A 4×4 PNG with two text chunks a source would not want to send: an author and a comment.
    static let pngWithMetadata: [UInt8] = {
        let hex = "89504e470d0a1a0a0000000d4948445200000004000000040802000000269309290000001274455874417574686f7200"
            + "4a616e6520536f75726365dcda3a060000002674455874436f6d6d656e740074616b656e20696e20746865206d696e69"
            + "7374727920626173656d656e7441153c520000001049444154789c63f8cfc000470cc47100ae930ff1d05f239e000000"
            + "0049454e44ae426082"
        return stride(from: 0, to: hex.count, by: 2).map { offset in
            let start = hex.index(hex.startIndex, offsetBy: offset)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)!
        }
    }()
}
