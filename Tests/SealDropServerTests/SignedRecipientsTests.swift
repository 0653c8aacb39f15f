import Foundation
import SealDropCrypto
import SealDropKeys
import SealDropServer
import SealDropTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A recipients list signed by the newsroom's offline signing key: served byte for byte by
/// `KEYS`, refused at start and on reload when signed by another key, edited after signing, or
/// older than the list already accepted (also across restarts).
@Suite("Signed recipients lists")
struct SignedRecipientsTests {
    /// A spool, a signing key, and a place for the signed list.
    struct Newsroom {
        let spool: SpoolFolder
        let signing: SigningSecretKey
        let listPath: String

        init() throws {
            spool = try SpoolFolder("signed")
            signing = SigningSecretKey.generate()
            listPath = spool.directory.file("recipients.signed")
        }

        /// Signs `recipients` with `serial` (by `key`, the newsroom's unless given) and writes the list.
        @discardableResult
        func publish(_ recipients: [Recipient], serial: UInt64, by key: SigningSecretKey? = nil) throws -> SignedRecipients {
            let list = try SignedRecipients.sign(recipients: recipients.map(\.publicKey), serial: serial, with: key ?? signing)
            try write(list.text)
            return list
        }

        func write(_ text: String) throws {
            try Data(text.utf8).write(to: URL(fileURLWithPath: listPath), options: .atomic)
        }

        /// The daemon's arguments for this spool, list and pinned key.
        func arguments(_ extra: [String] = []) -> [String] {
            ["--listen", "127.0.0.1:0", "--spool", spool.path, "--signed-recipients", listPath,
             "--signing-key", signing.publicKey.text, "--free-disk-reserve", "0", "--recipients-poll", "0"] + extra
        }

        var serialFile: String { (spool.path as NSString).appendingPathComponent("recipients-serial") }

        /// The serial recorded in the spool.
        func recordedSerial() throws -> UInt64? {
            let text = try String(contentsOfFile: serialFile, encoding: .utf8)
            return text.split(separator: "\n").first { $0.hasPrefix("serial: ") }.flatMap { UInt64($0.dropFirst(8)) }
        }
    }

    /// Runs the daemon expecting it to refuse to start; returns stderr.
    func expectRefusal(_ arguments: [String], mentions: String, hint: String? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let (status, stderr) = try await runDaemonExpectingExit(arguments)
        #expect(status == 1, "status \(status): \(stderr)", sourceLocation: sourceLocation)
        #expect(stderr.hasPrefix("sealdropd: error: "), "\(stderr)", sourceLocation: sourceLocation)
        #expect(stderr.contains("\nsealdropd: hint: "), "\(stderr)", sourceLocation: sourceLocation)
        #expect(stderr.contains(mentions), "\(stderr)", sourceLocation: sourceLocation)
        if let hint { #expect(stderr.contains(hint), "\(stderr)", sourceLocation: sourceLocation) }
        #expect(!stderr.contains("listening on"), sourceLocation: sourceLocation)
        return stderr
    }

    /// An upload is sealed to exactly `expected` (by key ID) and opens with the first of them.
    func expectSealed(to expected: [Recipient], port: Int, spool: SpoolFolder, not others: [Recipient] = [],
                      sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let body = content(Int.random(in: 0..<1_000_000), size: 4000)
        let id = try #require(receipt(try await exchange(port: port, request(body: body))), sourceLocation: sourceLocation)
        #expect(try headerKeyIDs(spool.submission(id)) == Set(expected.map(\.publicKey.keyID)), sourceLocation: sourceLocation)
        #expect(try opens(spool.submission(id), with: expected[0], giving: body), sourceLocation: sourceLocation)
        for other in others {
            #expect(try !opens(spool.submission(id), with: other, giving: body), sourceLocation: sourceLocation)
        }
    }

    @Test("KEYS returns the signed list byte for byte; it verifies against the pinned key; uploads are sealed to its keys; the serial is recorded (0600)")
    func servesSignedList() async throws {
        let newsroom = try Newsroom()
        let (a, b) = (Recipient(), Recipient())
        let list = try newsroom.publish([a, b], serial: 7)
        let daemon = try DaemonProcess(newsroom.arguments())
        let port = try await daemon.waitUntilListening()

        let document = try await fetchKeysDocument(port: port)
        #expect(document == Array(try Data(contentsOf: URL(fileURLWithPath: newsroom.listPath))))
        #expect(document == Array(list.text.utf8))
        let verified = try SignedRecipients.parse(String(decoding: document, as: UTF8.self), pinnedKey: newsroom.signing.publicKey)
        #expect(verified.recipients == [a.publicKey, b.publicKey])
        #expect(verified.serial == 7)

        try await expectSealed(to: [a, b], port: port, spool: newsroom.spool)
        try await expectSealed(to: [b, a], port: port, spool: newsroom.spool, not: [Recipient()])

        // The start-up log names the key IDs, the serial and the pinned key's fingerprint.
        #expect(daemon.stderr.contains("recipients.key_ids=\(a.publicKey.keyID),\(b.publicKey.keyID)"))
        #expect(daemon.stderr.contains("recipients.serial=7"))
        #expect(daemon.stderr.contains(newsroom.signing.publicKey.fingerprint))

        var info = stat()
        #expect(lstat(newsroom.serialFile, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(UInt32(info.st_mode) & UInt32(S_IFMT) == UInt32(S_IFREG))
        #expect(try newsroom.recordedSerial() == 7)
        #expect(try FileManager.default.contentsOfDirectory(atPath: newsroom.spool.path).sorted() == ["drop.key", "inbox", "partial", "recipients-serial", "reload-outcome", "tmp"])
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }

    @Test("refused at start: another signer, an edit after signing, a secret key, settings that conflict or are missing")
    func refusedAtStart() async throws {
        let newsroom = try Newsroom()
        let (a, b) = (Recipient(), Recipient())

        // Signed by another key than the pinned one.
        try newsroom.publish([a], serial: 3, by: SigningSecretKey.generate())
        _ = try await expectRefusal(newsroom.arguments(), mentions: "not by the pinned signing key", hint: "fingerprint")

        // Edited after signing: a key swapped for another.
        let list = try SignedRecipients.sign(recipients: [a.publicKey], serial: 3, with: newsroom.signing)
        try newsroom.write(list.text.replacingOccurrences(of: a.text, with: b.text))
        _ = try await expectRefusal(newsroom.arguments(), mentions: "the signature does not verify", hint: "never edit a signed list by hand")
        // ... or a line that is not part of the format, or text before it that is not a comment.
        try newsroom.write(list.text.replacingOccurrences(of: "serial: 3", with: "serial: 3\nnote: hi"))
        _ = try await expectRefusal(newsroom.arguments(), mentions: "not a valid signed recipients list")
        try newsroom.write("Hello\n" + list.text)
        _ = try await expectRefusal(newsroom.arguments(), mentions: "only # comment lines may come before")
        try newsroom.write("# the newsroom's list\n\(SecretKeyText.sample)\n" + list.text)
        _ = try await expectRefusal(newsroom.arguments(), mentions: "contains a secret key")
        // A plain list of keys given as a signed list.
        try newsroom.write("\(a.text)\n")
        _ = try await expectRefusal(newsroom.arguments(), mentions: "no SEALDROP-RECIPIENTS-1 line", hint: "--recipients-file")
        #expect(!FileManager.default.fileExists(atPath: newsroom.serialFile), "a refused list is never recorded")

        // A signed list without the pinned signing key, and the key without a list.
        try newsroom.write(list.text)
        let withoutKey = ["--listen", "127.0.0.1:0", "--spool", newsroom.spool.path, "--signed-recipients", newsroom.listPath]
        _ = try await expectRefusal(withoutKey, mentions: "needs the signing key", hint: "pin the newsroom's signing key")
        _ = try await expectRefusal(["--spool", newsroom.spool.path, "--recipient", a.text, "--signing-key", newsroom.signing.publicKey.text],
                                    mentions: "no signed recipients list")
        // One source of truth: no --recipient or --recipients-file beside a signed list.
        _ = try await expectRefusal(newsroom.arguments(["--recipient", b.text]), mentions: "the only source of recipients")
        let plain = newsroom.spool.directory.file("recipients")
        try "\(b.text)\n".write(toFile: plain, atomically: true, encoding: .utf8)
        _ = try await expectRefusal(newsroom.arguments(["--recipients-file", plain]), mentions: "the only source of recipients")
        let config = newsroom.spool.directory.file("sealdropd.yaml")
        try "recipients-file: \(plain)\n".write(toFile: config, atomically: true, encoding: .utf8)
        _ = try await expectRefusal(newsroom.arguments(["--config", config]), mentions: "the only source of recipients")

        // The signing key itself: a secret key, a typo, a recipient key instead.
        // (The shape of a signing key file's key line; the daemon must not need more to refuse it.)
        let secretLine = "\(SigningKeyFile.magic)-1:" + String(repeating: "B", count: 120)
        let base = ["--listen", "127.0.0.1:0", "--spool", newsroom.spool.path, "--signed-recipients", newsroom.listPath, "--signing-key"]
        let stderr = try await expectRefusal(base + [secretLine], mentions: "is a secret key")
        #expect(!stderr.contains("BBBBBBBB"), "the secret key is echoed")
        var typo = newsroom.signing.publicKey.text
        let last = typo.removeLast()
        typo.append(last == "q" ? "p" : "q")
        _ = try await expectRefusal(base + [typo], mentions: "mistyped")
        _ = try await expectRefusal(base + [a.text], mentions: "not a SealDrop signing public key")

        // A recipients file that holds a signed list says where it belongs.
        _ = try await expectRefusal(["--spool", newsroom.spool.path, "--recipients-file", newsroom.listPath],
                                    mentions: "is a signed recipients list", hint: "--signed-recipients")
        #expect(newsroom.spool.inboxFiles().isEmpty && newsroom.spool.tempFiles().isEmpty)
    }

    @Test("an older serial, or the same serial for another list, is refused at start, also after a restart (the serial is kept in the spool)")
    func olderSerialRefusedAfterRestart() async throws {
        let newsroom = try Newsroom()
        let (a, b, c) = (Recipient(), Recipient(), Recipient())
        let old = try newsroom.publish([a], serial: 4)
        let current = try SignedRecipients.sign(recipients: [b.publicKey], serial: 5, with: newsroom.signing)
        try newsroom.write(current.text)
        let first = try DaemonProcess(newsroom.arguments())
        _ = try await first.waitUntilListening()
        first.signal(SIGTERM)
        #expect(await first.waitForExit() == 0)
        #expect(try newsroom.recordedSerial() == 5)

        // After the restart: serial 4 is older than 5.
        try newsroom.write(old.text)
        _ = try await expectRefusal(newsroom.arguments(), mentions: "serial 4 is older than serial 5", hint: "higher than 5")
        // Serial 5 again, but for other keys: a different list under a number already used.
        try newsroom.publish([c], serial: 5)
        _ = try await expectRefusal(newsroom.arguments(), mentions: "serial 5 was already accepted for a different list")
        #expect(try newsroom.recordedSerial() == 5)

        // The same list again starts (comments may differ); a newer one too, and is recorded.
        try newsroom.write("# copied again\n" + current.text)
        let second = try DaemonProcess(newsroom.arguments())
        let port = try await second.waitUntilListening()
        try await expectSealed(to: [b], port: port, spool: newsroom.spool, not: [a, c])
        second.signal(SIGTERM)
        #expect(await second.waitForExit() == 0)
        try newsroom.publish([c], serial: 9)
        let third = try DaemonProcess(newsroom.arguments())
        _ = try await third.waitUntilListening()
        #expect(try newsroom.recordedSerial() == 9)
        third.signal(SIGTERM)
        #expect(await third.waitForExit() == 0)

        // A damaged record is refused, not silently reset.
        try "serial: nine\n".write(toFile: newsroom.serialFile, atomically: true, encoding: .utf8)
        _ = try await expectRefusal(newsroom.arguments(), mentions: "recipients-serial is damaged")
    }

    @Test("refused on reload (old list stays, KEYS still serves it): another signer, an edit, an older serial, the same serial for another list; a newer list is taken and recorded")
    func refusedOnReload() async throws {
        let newsroom = try Newsroom()
        let (a, b, c) = (Recipient(), Recipient(), Recipient())
        let first = try newsroom.publish([a], serial: 5)
        let daemon = try DaemonProcess(newsroom.arguments())
        let port = try await daemon.waitUntilListening()
        #expect(try await fetchKeysDocument(port: port) == Array(first.text.utf8))

        let edited = try SignedRecipients.sign(recipients: [a.publicKey], serial: 6, with: newsroom.signing).text
            .replacingOccurrences(of: a.text, with: b.text)
        let refusals: [(name: String, text: String, mentions: String)] = [
            ("another signer", try SignedRecipients.sign(recipients: [b.publicKey], serial: 6, with: SigningSecretKey.generate()).text,
             "not by the pinned signing key"),
            ("edited after signing", edited, "the signature does not verify"),
            ("an older serial", try SignedRecipients.sign(recipients: [b.publicKey], serial: 4, with: newsroom.signing).text,
             "serial 4 is older than serial 5"),
            ("the same serial, another list", try SignedRecipients.sign(recipients: [b.publicKey], serial: 5, with: newsroom.signing).text,
             "serial 5 was already accepted for a different list"),
            ("not a signed list", "\(b.text)\n", "not a valid signed recipients list"),
        ]
        for (number, (name, text, mentions)) in refusals.enumerated() {
            try newsroom.write(text)
            daemon.signal(SIGHUP)
            #expect(await eventually { occurrences(of: "signed recipients list refused; keeping the previous recipients", in: daemon.stderr) == number + 1 },
                    "\(name): \(daemon.stderr)")
            let line = daemon.stderr.split(separator: "\n").last { $0.contains("refused") } ?? ""
            #expect(line.contains(mentions), "\(name): \(line)")
            #expect(try await fetchKeysDocument(port: port) == Array(first.text.utf8), "\(name)")
            try await expectSealed(to: [a], port: port, spool: newsroom.spool, not: [b])
        }
        #expect(!daemon.stderr.contains("recipients reloaded"))
        #expect(try newsroom.recordedSerial() == 5)

        // A newer list, signed by the newsroom: B and C from now on, recorded before it is used.
        let next = try newsroom.publish([b, c], serial: 6)
        daemon.signal(SIGHUP)
        #expect(await daemon.waitForOutput("recipients reloaded"))
        #expect(daemon.stderr.contains("recipients.serial=6"))
        #expect(try newsroom.recordedSerial() == 6)
        let served = try await fetchKeysDocument(port: port)
        #expect(served == Array(next.text.utf8))
        #expect(try SignedRecipients.parse(String(decoding: served, as: UTF8.self), pinnedKey: newsroom.signing.publicKey).recipients
                == [b.publicKey, c.publicKey])
        try await expectSealed(to: [b, c], port: port, spool: newsroom.spool, not: [a])
        try await expectSealed(to: [c, b], port: port, spool: newsroom.spool, not: [a])

        // Now serial 5 (the list in force a moment ago) is a replay.
        try newsroom.write(first.text)
        daemon.signal(SIGHUP)
        #expect(await eventually { occurrences(of: "signed recipients list refused", in: daemon.stderr) == refusals.count + 1 })
        #expect(try await fetchKeysDocument(port: port) == Array(next.text.utf8))
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)

        // And after a restart too.
        _ = try await expectRefusal(newsroom.arguments(), mentions: "serial 5 is older than serial 6")
    }

    @Test("a newer serial that cannot be recorded (rename fails, injected with strace) is refused: at start, and on reload with the old list kept",
          .enabled(if: Machine.canInjectFaults, "injecting faults needs strace and ptrace"))
    func serialNotRecorded() async throws {
        let newsroom = try Newsroom()
        let (a, b) = (Recipient(), Recipient())
        let first = try newsroom.publish([a], serial: 1)
        // Only the serial record uses rename(at); the spool's commit uses renameat2.
        let strace = ["/usr/bin/strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=renameat", "-e", "inject=renameat:error=EIO"]
        let (status, stderr) = try await runDaemonExpectingExit(newsroom.arguments(), wrapper: strace)
        #expect(status == 1, "\(stderr)")
        #expect(stderr.contains("sealdropd: error: cannot record the accepted recipients serial"), "\(stderr)")
        #expect(stderr.contains("Input/output error"), "\(stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: newsroom.spool.path).sorted() == ["inbox", "partial", "tmp"])

        // Serial 1 recorded by a normal start; then, under strace, serial 1 needs no record, serial 2 cannot get one.
        let normal = try DaemonProcess(newsroom.arguments())
        _ = try await normal.waitUntilListening()
        normal.signal(SIGTERM)
        #expect(await normal.waitForExit() == 0)
        let daemon = try DaemonProcess(newsroom.arguments(), wrapper: strace)
        let port = try await daemon.waitUntilListening()
        try newsroom.publish([b], serial: 2)
        kill(daemon.daemonPID, SIGHUP)
        #expect(await daemon.waitForOutput("signed recipients list refused; keeping the previous recipients"), "\(daemon.stderr)")
        #expect(daemon.stderr.contains("cannot record the accepted recipients serial"))
        #expect(try await fetchKeysDocument(port: port) == Array(first.text.utf8))
        try await expectSealed(to: [a], port: port, spool: newsroom.spool, not: [b])
        #expect(try newsroom.recordedSerial() == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: newsroom.spool.path).sorted() == ["drop.key", "inbox", "partial", "recipients-serial", "reload-outcome", "tmp"])
        kill(daemon.daemonPID, SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }

    @Test("a new signed list is noticed without SIGHUP (recipients-poll)")
    func signedListChangeNoticed() async throws {
        let newsroom = try Newsroom()
        let (a, b) = (Recipient(), Recipient())
        try newsroom.publish([a], serial: 1)
        var arguments = newsroom.arguments()
        arguments[arguments.count - 1] = "100ms"
        let daemon = try DaemonProcess(arguments)
        let port = try await daemon.waitUntilListening()
        let next = try newsroom.publish([b], serial: 2)
        #expect(await daemon.waitForOutput("recipients reloaded"))
        #expect(try await fetchKeysDocument(port: port) == Array(next.text.utf8))
        try await expectSealed(to: [b], port: port, spool: newsroom.spool, not: [a])
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }
}
