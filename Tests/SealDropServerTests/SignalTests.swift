import Foundation
import SealDropFormat
import SealDropKeys
import SealDropServer
import SealDropTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The real binary under real signals: SIGTERM (graceful), SIGHUP (recipients), SIGKILL
/// (BAD-INPUTS class 16).
@Suite("Signals")
struct SignalTests {
    @Test("SIGTERM: stops accepting, the upload in progress finishes and is stored, exit 0")
    func sigterm() async throws {
        let drop = try await RealDrop.start()
        let body = content(30, size: 400_000)
        let whole = request(body: body)
        let port = drop.port
        let socket = try await blocking { () -> TestSocket in
            let socket = try TestSocket(port: port)
            try socket.send(Array(whole.prefix(150_000)))
            return socket
        }
        #expect(await eventually { drop.spool.tempFiles().count == 1 })
        kill(drop.daemonPID, SIGTERM)
        #expect(await drop.daemon.waitForOutput("waiting for uploads in progress"))
        #expect(throws: SocketError.self) { try TestSocket(port: port, timeout: 2) }
        let reply = try await blocking { () -> String in
            try socket.send(Array(whole.dropFirst(150_000)))
            socket.shutdownWrite()
            return socket.readReply()
        }
        let id = try #require(receipt(reply), "\(reply)")
        #expect(await drop.daemon.waitForExit() == 0, "\(drop.daemon.stderr)")
        #expect(try drop.recipient.open(drop.spool.submission(id)).content == body)
        #expect(drop.spool.tempFiles().isEmpty)
    }

    @Test("SIGTERM: an upload that does not finish within the grace period is discarded, never stored")
    func sigtermGraceExpires() async throws {
        let drop = try await RealDrop.start(extra: ["--shutdown-grace", "1s"])
        let port = drop.port
        let socket = try await blocking { () -> TestSocket in
            let socket = try TestSocket(port: port)
            try socket.send(Array("SEALDROP/1 PUT 1000000\n\n".utf8) + content(31, size: 100_000))
            return socket
        }
        #expect(await eventually { drop.spool.tempFiles().count == 1 })
        let start = Date()
        kill(drop.daemonPID, SIGTERM)
        #expect(await drop.daemon.waitForExit(timeout: 10) == 0)
        #expect(Date().timeIntervalSince(start) < 5)
        let reply = try await blocking { socket.readReply() }
        #expect(reply.isEmpty || errorCode(reply) == "busy", "\(reply)")
        #expect(drop.spool.inboxFiles().isEmpty)
        #expect(drop.spool.tempFiles().isEmpty)
        #expect(drop.daemon.stderr.contains("grace period over"))
    }

    @Test("SIGINT stops the daemon gracefully too; a second signal does not wait for the grace period")
    func sigintTwice() async throws {
        let drop = try await RealDrop.start(extra: ["--shutdown-grace", "60s"])
        let port = drop.port
        let socket = try await blocking { () -> TestSocket in
            let socket = try TestSocket(port: port)
            try socket.send(Array("SEALDROP/1 PUT 1000000\n\n".utf8) + content(32, size: 1000))
            return socket
        }
        #expect(await eventually { drop.spool.tempFiles().count == 1 })
        kill(drop.daemonPID, SIGINT)
        #expect(await drop.daemon.waitForOutput("waiting for uploads in progress"))
        kill(drop.daemonPID, SIGINT)
        #expect(await drop.daemon.waitForExit(timeout: 10) != nil)
        socket.close()
        #expect(drop.spool.inboxFiles().isEmpty)
        #expect(drop.spool.tempFiles().isEmpty)
    }

    @Test("SIGHUP re-reads the recipients file; a bad file keeps the old set; uploads in progress keep theirs")
    func sighup() async throws {
        let spool = try SpoolFolder()
        let (a, b) = (Recipient(), Recipient())
        let file = spool.directory.file("recipients")
        try "\(a.text)\n".write(toFile: file, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(["--listen", "127.0.0.1:0", "--spool", spool.path, "--recipients-file", file, "--free-disk-reserve", "0"])
        let port = try await daemon.waitUntilListening()
        #expect(daemon.stderr.contains("recipients.key_ids=\(a.publicKey.keyID)"))

        // An upload that starts under key A and finishes after the switch to B.
        let body = content(33, size: 100_000)
        let whole = request(body: body)
        let inFlight = try await blocking { () -> TestSocket in
            let socket = try TestSocket(port: port)
            try socket.send(Array(whole.prefix(50_000)))
            return socket
        }
        #expect(await eventually { spool.tempFiles().count == 1 })
        try "# rotated\n\(b.text)\n".write(toFile: file, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(await daemon.waitForOutput("recipients reloaded"))
        #expect(daemon.stderr.contains("recipients.key_ids=\(b.publicKey.keyID)"))
        let first = try await blocking { () -> String in
            try inFlight.send(Array(whole.dropFirst(50_000)))
            inFlight.shutdownWrite()
            return inFlight.readReply()
        }
        let firstID = try #require(receipt(first), "\(first)")
        #expect(try a.open(spool.submission(firstID)).content == body)
        #expect(throws: EnvelopeError.self) { try b.open(spool.submission(firstID)) }

        // A new upload is sealed to B.
        let second = try #require(receipt(try await exchange(port: port, request(body: body))))
        #expect(try b.open(spool.submission(second)).content == body)
        #expect(throws: EnvelopeError.self) { try a.open(spool.submission(second)) }

        // A broken file is refused; B stays in force.
        try "not a key\n".write(toFile: file, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(await daemon.waitForOutput("recipients file refused; keeping the previous recipients"))
        let third = try #require(receipt(try await exchange(port: port, request(body: body))))
        #expect(try b.open(spool.submission(third)).content == body)
        let keys = try await exchange(port: port, Array("SEALDROP/1 KEYS\n\n".utf8))
        #expect(try Recipients.parse(String(keys.drop(while: { $0 != "\n" }).dropFirst())) == [b.publicKey])

        // A secret key in the file is refused the same way.
        try "\(SecretKeyText.sample)\n".write(toFile: file, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(await daemon.waitForOutput("contains a secret key"))
        #expect(receipt(try await exchange(port: port, request(body: body))) != nil)

        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }

    @Test("class 16: kill -9 at any point; after a restart the inbox holds only complete files, every receipt is there, tmp is swept")
    func killNine() async throws {
        let spool = try SpoolFolder()
        let recipient = Recipient()
        var receipts: [String: [UInt8]] = [:]
        var partialsLeft = 0
        for round in 0..<3 {
            let drop = try await RealDrop.start(spool: spool, recipient: recipient)
            #expect(drop.spool.tempFiles().isEmpty, "round \(round): tmp not swept at start-up")
            let port = drop.port
            // One upload stalls half-way, so a partial file is certainly in tmp at the kill.
            let stalled = try await blocking { () -> TestSocket in
                let socket = try TestSocket(port: port)
                try socket.send(Array("SEALDROP/1 PUT 1000000\n\n".utf8) + content(999, size: 200_000))
                return socket
            }
            // Uploads of several sizes start together; the daemon is killed while some are in flight.
            let results = try await withThrowingTaskGroup(of: (String, [UInt8]).self) { group in
                for index in 0..<12 {
                    let body = content(round * 100 + index, size: [1000, 70_000, 300_000, 2_000_000][index % 4])
                    group.addTask {
                        let reply = try await blocking { () -> String in
                            guard let socket = try? TestSocket(port: port, timeout: 10) else { return "" }
                            let bytes = request(body: body)
                            // Send in pieces so the kill can land mid-body.
                            var offset = 0
                            while offset < bytes.count {
                                let end = min(bytes.count, offset + 100_000)
                                guard (try? socket.send(Array(bytes[offset..<end]))) != nil else { return "" }
                                offset = end
                                usleep(5000)
                            }
                            socket.shutdownWrite()
                            return socket.readReply()
                        }
                        return (reply, body)
                    }
                }
                // Kill while some uploads are acknowledged and others are half-written in tmp.
                let inboxBefore = spool.inboxFiles().count
                _ = await eventually(timeout: 5) { spool.inboxFiles().count > inboxBefore && spool.tempFiles().count >= 2 }
                try await Task.sleep(for: .milliseconds(10 * round))
                drop.daemon.signal(SIGKILL)
                var results: [(String, [UInt8])] = []
                for try await result in group { results.append(result) }
                return results
            }
            #expect(await drop.daemon.waitForExit() == 128 + SIGKILL)
            stalled.close()
            for (reply, body) in results {
                if let id = receipt(reply) { receipts[id] = body }
            }
            // Uploads the kill interrupted are left in tmp, to be swept at the next start.
            partialsLeft += spool.tempFiles().count
        }
        #expect(!receipts.isEmpty, "no upload finished before a kill")
        #expect(partialsLeft > 0, "no kill landed mid-upload")
        // Restart: tmp swept; the inbox holds every receipt ever sent, and only complete files.
        let drop = try await RealDrop.start(spool: spool, recipient: recipient)
        #expect(spool.tempFiles().isEmpty)
        for (id, body) in receipts {
            #expect(try recipient.open(spool.submission(id)).content == body, "receipt \(id)")
        }
        for name in spool.inboxFiles() {
            let opened = try recipient.open((spool.inbox as NSString).appendingPathComponent(name))
            #expect(opened.content.count == Int(opened.metadata.size ?? 0))
        }
        #expect(receipt(try await drop.put(Array("after the crashes".utf8))) != nil)
        #expect(await drop.stop() == 0)
    }
}

/// The text of a secret key line, for tests that hand one over by mistake.
enum SecretKeyText {
    static let sample = "SEALDROP-SECRET-KEY-1:" + String(repeating: "A", count: 184)
}
