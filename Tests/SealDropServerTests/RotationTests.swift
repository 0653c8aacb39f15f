import Foundation
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropServer
import SealDropTestSupport
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Key rotation without downtime, with the real `sealdropd` and real signals: the recipients
/// file changes while uploads keep coming; each upload is sealed to the set in force when its
/// head arrived.
@Suite("Key rotation")
struct RotationTests {
    /// One finished upload, as the client saw it.
    struct Upload: Sendable {
        let index: Int
        let body: [UInt8]
        let reply: String
        let started: ContinuousClock.Instant
        let finished: ContinuousClock.Instant
    }

    final class Progress: Sendable {
        let next = Atomic(0)
        let acknowledged = Atomic(0)
        let uploads = Mutex<[Upload]>([])
    }

    @Test("200 uploads run while the recipients change from A to B+C and SIGHUP is sent twice: all acknowledged, none lost, each opens with exactly its keys")
    func rotationUnderLoad() async throws {
        let spool = try SpoolFolder()
        let (a, b, c) = (Recipient(), Recipient(), Recipient())
        let file = spool.directory.file("recipients")
        try "# newsroom\n\(a.text)\n".write(toFile: file, atomically: true, encoding: .utf8)
        // The file check is off: the reloads here are the SIGHUPs.
        let daemon = try DaemonProcess(["--listen", "127.0.0.1:0", "--spool", spool.path, "--recipients-file", file,
                                        "--free-disk-reserve", "0", "--recipients-poll", "0"])
        let port = try await daemon.waitUntilListening()

        // An upload whose head arrives before both reloads and whose body ends after them.
        let heldBody = content(5000, size: 300_000)
        let heldRequest = request(body: heldBody, headers: ["Name: held.bin"])
        let held = try await blocking { () -> TestSocket in
            let socket = try TestSocket(port: port)
            try socket.send(Array(heldRequest.prefix(100_000)))
            return socket
        }
        #expect(await eventually { spool.tempFiles().count == 1 })

        let total = 200, workers = 4
        let progress = Progress()
        let clock = ContinuousClock()
        let start = clock.now
        var firstSighup = clock.now, firstReloadSeen = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask {
                    try await blocking {
                        while true {
                            let index = progress.next.add(1, ordering: .relaxed).oldValue
                            guard index < total else { return }
                            let body = content(index, size: [700, 9_000, 40_000, 90_000][index % 4])
                            let bytes = request(body: body, headers: ["Name: upload-\(index).bin"])
                            let started = clock.now
                            let socket = try TestSocket(port: port)
                            // In two pieces with a pause, so that uploads are in flight at each reload.
                            try socket.send(Array(bytes.prefix(bytes.count / 2)))
                            usleep(20_000)
                            try socket.send(Array(bytes.dropFirst(bytes.count / 2)))
                            socket.shutdownWrite()
                            let reply = socket.readReply()
                            let upload = Upload(index: index, body: body, reply: reply, started: started, finished: clock.now)
                            progress.uploads.withLock { $0.append(upload) }
                            if receipt(reply) != nil { progress.acknowledged.add(1, ordering: .relaxed) }
                            // Paced: the 200 uploads take a few seconds.
                            usleep(50_000)
                        }
                    }
                }
            }
            // A quarter in: the file now names B and C; SIGHUP.
            #expect(await eventually(timeout: 30) { progress.acknowledged.load(ordering: .relaxed) >= total / 4 })
            try "# rotated: A left\n\(b.text)\n\(c.text)\n".write(toFile: file, atomically: true, encoding: .utf8)
            firstSighup = clock.now
            daemon.signal(SIGHUP)
            #expect(await daemon.waitForOutput("recipients reloaded"))
            firstReloadSeen = clock.now
            // Over half-way: SIGHUP again (the same file: the same set, under load).
            #expect(await eventually(timeout: 30) { progress.acknowledged.load(ordering: .relaxed) >= total * 3 / 5 })
            daemon.signal(SIGHUP)
            #expect(await eventually { occurrences(of: "recipients reloaded", in: daemon.stderr) == 2 })
            try await group.waitForAll()
        }
        let elapsed = clock.now - start

        let heldReply = try await blocking { () -> String in
            try held.send(Array(heldRequest.dropFirst(100_000)))
            held.shutdownWrite()
            return held.readReply()
        }
        let heldID = try #require(receipt(heldReply), "\(heldReply)")

        // Every upload acknowledged, and the inbox holds exactly the receipts: none lost.
        let uploads = progress.uploads.withLock { $0 }.sorted { $0.index < $1.index }
        #expect(uploads.count == total)
        let refused = uploads.filter { receipt($0.reply) == nil }
        #expect(refused.isEmpty, "refused: \(refused.prefix(3).map { "\($0.index): \($0.reply)" })")
        let receipts = uploads.compactMap { receipt($0.reply) } + [heldID]
        #expect(Set(receipts).count == total + 1)
        #expect(Set(spool.inboxFiles()) == Set(receipts.map { "\($0).sealdrop" }))
        #expect(spool.tempFiles().isEmpty)

        // Each submission is sealed to {A} or to {B, C}, and opens with exactly those keys.
        let oldSet: Set<KeyID> = [a.publicKey.keyID]
        let newSet: Set<KeyID> = [b.publicKey.keyID, c.publicKey.keyID]
        var sealedToOld = 0, sealedToNew = 0
        for upload in uploads {
            guard let id = receipt(upload.reply) else { continue }
            let path = spool.submission(id)
            let keyIDs = try headerKeyIDs(path)
            if keyIDs == oldSet {
                sealedToOld += 1
                #expect(try opens(path, with: a, giving: upload.body), "upload \(upload.index)")
                #expect(try !opens(path, with: b, giving: upload.body), "upload \(upload.index)")
                #expect(try !opens(path, with: c, giving: upload.body), "upload \(upload.index)")
                // Sealed to A, so its head arrived before the reload's swap.
                #expect(upload.started < firstReloadSeen, "upload \(upload.index) started after the reload but was sealed to A")
            } else if keyIDs == newSet {
                sealedToNew += 1
                #expect(try opens(path, with: b, giving: upload.body), "upload \(upload.index)")
                #expect(try opens(path, with: c, giving: upload.body), "upload \(upload.index)")
                #expect(try !opens(path, with: a, giving: upload.body), "upload \(upload.index)")
                #expect(upload.finished > firstSighup, "upload \(upload.index) finished before the SIGHUP but was sealed to B and C")
            } else {
                Issue.record("upload \(upload.index) is sealed to \(keyIDs.map(\.description).sorted())")
            }
        }
        #expect(sealedToOld > 0 && sealedToNew > 0)
        // The upload in flight across both reloads keeps the set it started with.
        #expect(try headerKeyIDs(spool.submission(heldID)) == oldSet)
        #expect(try opens(spool.submission(heldID), with: a, giving: heldBody))
        #expect(try !opens(spool.submission(heldID), with: b, giving: heldBody))

        // The log names the key IDs in force after each reload, nothing about the uploads.
        #expect(daemon.stderr.contains("recipients.key_ids=\(b.publicKey.keyID),\(c.publicKey.keyID)"))
        #expect(!daemon.stderr.contains("upload-"))
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
        print("rotation under load: \(total + 1) uploads in \(elapsed), \(sealedToOld) sealed to A, \(sealedToNew) to B+C")
    }

    @Test("a broken recipients file on reload leaves the daemon serving with the old keys")
    func brokenFileKeepsOldKeys() async throws {
        let spool = try SpoolFolder()
        let (a, b) = (Recipient(), Recipient())
        let file = spool.directory.file("recipients")
        try "\(a.text)\n".write(toFile: file, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(["--listen", "127.0.0.1:0", "--spool", spool.path, "--recipients-file", file,
                                        "--free-disk-reserve", "0", "--recipients-poll", "0"])
        let port = try await daemon.waitUntilListening()
        let documentBefore = try await fetchKeysDocument(port: port)

        var typo = b.text
        let last = typo.removeLast()
        typo.append(last == "q" ? "p" : "q")
        let tooMany = (0...32).map { _ in Recipient().text }.joined(separator: "\n")
        let signedList = try SignedRecipients.sign(recipients: [b.publicKey], serial: 1, with: SigningSecretKey.generate()).text
        let broken: [(name: String, data: Data?, mentions: String)] = [
            ("a typo in B's key", Data("\(typo)\n".utf8), "line 1"),
            ("no keys at all", Data("# everyone left\n".utf8), "no recipients"),
            ("33 keys", Data(tooMany.utf8), "at most 32"),
            ("a secret key", Data("\(b.text)\n\(SecretKeyText.sample)\n".utf8), "contains a secret key"),
            ("a signed list", Data(signedList.utf8), "is a signed recipients list"),
            ("not UTF-8", Data("\(b.text)\n".utf8) + Data([0xFF, 0xFE, 0x0A]), "not UTF-8"),
            ("the file removed", nil, "cannot read recipients file"),
        ]
        for (number, (name, data, mentions)) in broken.enumerated() {
            if let data {
                try data.write(to: URL(fileURLWithPath: file), options: .atomic)
            } else {
                try FileManager.default.removeItem(atPath: file)
            }
            daemon.signal(SIGHUP)
            #expect(await eventually { occurrences(of: "recipients file refused; keeping the previous recipients", in: daemon.stderr) == number + 1 },
                    "\(name): \(daemon.stderr)")
            let line = daemon.stderr.split(separator: "\n").last { $0.contains("refused") } ?? ""
            #expect(line.contains(mentions), "\(name): \(line)")
            // Still sealing to A, and serving A.
            let body = content(number, size: 5000)
            let id = try #require(receipt(try await exchange(port: port, request(body: body))), "\(name)")
            #expect(try opens(spool.submission(id), with: a, giving: body), "\(name)")
            #expect(try !opens(spool.submission(id), with: b, giving: body), "\(name)")
            #expect(try await fetchKeysDocument(port: port) == documentBefore, "\(name)")
        }
        #expect(!daemon.stderr.contains("recipients reloaded"))
        #expect(!daemon.stderr.contains(String(SecretKeyText.sample.dropFirst(22).prefix(16))), "the secret key is echoed")

        // A good file again: B from now on.
        try "\(b.text)\n".write(toFile: file, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(await daemon.waitForOutput("recipients reloaded"))
        let body = content(99, size: 5000)
        let id = try #require(receipt(try await exchange(port: port, request(body: body))))
        #expect(try opens(spool.submission(id), with: b, giving: body))
        #expect(try Recipients.parse(String(decoding: try await fetchKeysDocument(port: port), as: UTF8.self)) == [b.publicKey])
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }

    @Test("a change to the recipients file is noticed without SIGHUP (recipients-poll); a broken one is refused once")
    func fileChangeNoticed() async throws {
        let spool = try SpoolFolder()
        let (a, b) = (Recipient(), Recipient())
        let file = spool.directory.file("recipients")
        try "\(a.text)\n".write(toFile: file, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(["--listen", "127.0.0.1:0", "--spool", spool.path, "--recipients-file", file,
                                        "--free-disk-reserve", "0", "--recipients-poll", "100ms"])
        let port = try await daemon.waitUntilListening()
        try await Task.sleep(for: .milliseconds(300))
        #expect(!daemon.stderr.contains("recipients file changed"), "an unchanged file is not reloaded")

        try "# rotated\n\(b.text)\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(await daemon.waitForOutput("recipients reloaded"))
        #expect(daemon.stderr.contains("recipients file changed; reloading"))
        let body = content(1, size: 3000)
        let id = try #require(receipt(try await exchange(port: port, request(body: body))))
        #expect(try opens(spool.submission(id), with: b, giving: body))

        try "not a key\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(await daemon.waitForOutput("recipients file refused"))
        try await Task.sleep(for: .milliseconds(500))
        #expect(occurrences(of: "recipients file refused", in: daemon.stderr) == 1, "refused again and again: \(daemon.stderr)")
        let second = try #require(receipt(try await exchange(port: port, request(body: body))))
        #expect(try opens(spool.submission(second), with: b, giving: body))
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }
}
