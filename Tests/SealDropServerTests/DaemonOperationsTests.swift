import Foundation
import SealDropServer
import SealDropTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Running the daemon as an operator does, through the real binary: readiness and reloads
/// reported to systemd's notify socket, `sealdropd reload` waiting for the outcome,
/// `sealdropd status`, and retention.
@Suite("Operating the daemon: notify, reload, status, retention", .serialized)
struct DaemonOperationsTests {
    typealias Newsroom = SignedRecipientsTests.Newsroom

    func sealdropd(_ arguments: [String], environment: [String: String]? = nil) throws -> ProcessResult {
        try runProcess(DaemonProcess.binary, arguments, environment: environment)
    }

    /// A datagram socket standing in for systemd's `NOTIFY_SOCKET`, collecting what arrives.
    final class NotifySocket: @unchecked Sendable {
        let path: String
        private let fd: Int32

        init(in folder: TemporaryDirectory) throws {
            path = folder.file("notify")
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            try #require(bound == 0, "bind \(path)")
            var wait = timeval(tv_sec: 0, tv_usec: 100_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit { close(fd) }

        /// The messages that arrive within `seconds`, until one contains `until`.
        func receive(until: String, within seconds: Double = 10) -> [String] {
            var messages: [String] = []
            let deadline = Date().addingTimeInterval(seconds)
            var buffer = [UInt8](repeating: 0, count: 4096)
            while Date() < deadline {
                let count = recv(fd, &buffer, buffer.count, 0)
                guard count > 0 else { continue }
                messages.append(String(decoding: buffer[..<count], as: UTF8.self))
                if messages.last!.contains(until) { break }
            }
            return messages
        }
    }

    @Test("Type=notify: READY=1 once both front doors listen; RELOADING=1 and READY=1 around a reload; STOPPING=1 on SIGTERM; sealdropd reload waits for the outcome and fails when the reload was refused")
    func notifyAndReload() async throws {
        let newsroom = try Newsroom()
        let (first, second) = (Recipient(), Recipient())
        try newsroom.publish([first], serial: 1)
        let notify = try NotifySocket(in: newsroom.spool.directory)
        let webPort = try freePort()
        let settings = newsroom.arguments(["--web-listen", "127.0.0.1:\(webPort)"])
        let daemon = try DaemonProcess(settings, environment: ProcessInfo.processInfo.environment.merging(["NOTIFY_SOCKET": notify.path]) { $1 })
        let ready = notify.receive(until: "READY=1")
        #expect(ready.count == 1 && ready[0].hasPrefix("READY=1\nSTATUS=listening on 127.0.0.1:"), "\(ready)")
        // READY only once the page listens too: at once, its port takes a connection. (Its
        // "upload page on" line was written before READY, but this side may read it later.)
        let page = try TestSocket(port: webPort)
        page.close()
        _ = try await daemon.waitUntilListening()

        // A good new list: reload prints what is in force and exits 0.
        try newsroom.publish([first, second], serial: 2)
        let reload = try sealdropd(["reload"] + settings)
        #expect(reload.status == 0, "\(reload.stderr)")
        #expect(reload.stdout == "reloaded: 2 key(s), key ID \(first.publicKey.keyID), \(second.publicKey.keyID), serial 2\n", "\(reload.stdout)")
        #expect(notify.receive(until: "READY=1") == ["RELOADING=1", "READY=1\nSTATUS=listening on 127.0.0.1:\(try await daemon.waitUntilListening())"])

        // A list that goes backwards is refused: reload says why and exits 1; the daemon serves on.
        try newsroom.publish([first], serial: 1)
        let refused = try sealdropd(["reload"] + settings)
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("sealdropd: error: the daemon refused the reload: signed recipients list"), "\(refused.stderr)")
        #expect(refused.stderr.contains("keeping 2 key(s)") && refused.stderr.contains("\nsealdropd: hint: it serves on with the previous recipients"))
        let port = try await daemon.waitUntilListening()
        #expect(receipt(try await exchange(port: port, request(body: Array("still here".utf8)))) != nil)

        // Under systemd, $MAINPID must be the daemon the spool names.
        let wrongMain = try sealdropd(["reload"] + settings, environment: ["MAINPID": "1"])
        #expect(wrongMain.status == 1 && wrongMain.stderr.contains("systemd's main process is 1"), "\(wrongMain.stderr)")

        daemon.signal(SIGTERM)
        #expect(notify.receive(until: "STOPPING=1").last == "STOPPING=1")
        #expect(await daemon.waitForExit() == 0)
        let stopped = try sealdropd(["reload"] + settings)
        #expect(stopped.status == 1 && stopped.stderr.contains("is not running"), "\(stopped.stderr)")
        #expect(stopped.stderr.contains("sealdropd: hint: start it"))
    }

    @Test("status: counts and padded sizes, free space, quota, keys in force, the oldest submission's age; text and JSON; nothing about a source")
    func status() async throws {
        let newsroom = try Newsroom()
        let recipient = Recipient()
        try newsroom.publish([recipient], serial: 3)
        let settings = newsroom.arguments(["--retention", "30d"])
        let daemon = try DaemonProcess(settings)
        let port = try await daemon.waitUntilListening()
        var ids: [String] = []
        for size in [10, 100_000] {
            let reply = try await exchange(port: port, request(body: Array(repeating: 7, count: size), headers: ["Name: secret-name.pdf"]))
            ids.append(try #require(receipt(reply), "\(reply)"))
        }
        // One submission arrived (by its file's day) three days ago.
        try setArrival(newsroom.spool.submission(ids[0]), daysAgo: 3)
        let text = try sealdropd(["status"] + settings)
        #expect(text.status == 0, "\(text.stderr)")
        let sizes = ids.map { (try? FileManager.default.attributesOfItem(atPath: newsroom.spool.submission($0))[.size] as? UInt64) ?? 0 }
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("daemon: running (process \(daemon.pid))"), "\(text.stdout)")
        #expect(lines.contains { $0.hasPrefix("inbox: 2 submission(s), ") && $0.contains("; 2 record(s), ") }, "\(text.stdout)")
        #expect(lines.contains("oldest submission: arrived 3 day(s) ago"), "\(text.stdout)")
        #expect(lines.contains("retention: 30 day(s)"))
        #expect(lines.contains { $0.hasPrefix("recipients: key ID \(recipient.publicKey.keyID); signed list serial 3, expires 20") }, "\(text.stdout)")
        #expect(lines.contains { $0.hasPrefix("quota: ") && $0.hasSuffix(" of 32.0 GiB used (0.0%)") }, "\(text.stdout)")
        for id in ids { #expect(!text.stdout.contains(id), "no submission ID") }
        #expect(!text.stdout.contains("secret-name"))

        let json = try sealdropd(["status", "--json"] + settings)
        #expect(json.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let inbox = try #require(object["inbox"] as? [String: Any])
        #expect(inbox["count"] as? Int == 2)
        #expect((inbox["bytes"] as? NSNumber)?.uint64Value == sizes.reduce(0, +), "sealed, padded sizes summed")
        #expect(object["daemon_running"] as? Bool == true)
        #expect(object["oldest_submission_days"] as? Int == 3)
        #expect(object["retention_days"] as? Int == 30)
        #expect((object["recipients"] as? [String: Any])?["key_ids"] as? [String] == [recipient.publicKey.keyID.description])
        #expect((object["recipients"] as? [String: Any])?["serial"] as? Int == 3)
        #expect((object["free_bytes"] as? NSNumber).map { $0.uint64Value > 0 } == true)
        #expect((object["quota_used_bytes"] as? NSNumber).map { $0.uint64Value >= sizes.reduce(0, +) } == true)
        #expect(object["last_reload"] as? String == "started")

        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
        let after = try sealdropd(["status"] + settings)
        #expect(after.stdout.contains("daemon: not running"), "\(after.stdout)")
        let missing = try sealdropd(["status"] + settings + ["--spool", newsroom.spool.directory.file("none")])
        #expect(missing.status == 1 && missing.stderr.hasPrefix("sealdropd: error: "), "\(missing.stderr)")
    }

    @Test("retention: exactly the submissions past it are removed, at start and on the timer, with their records, logged as a count; never an upload in progress or a resumable upload")
    func retention() async throws {
        let spool = try SpoolFolder("retention")
        let recipient = Recipient()
        let first = try await RealDrop.start(spool: spool, recipient: recipient, extra: ["--max-partial-uploads", "4"])
        var ids: [String] = []
        for index in 0..<4 {
            ids.append(try #require(receipt(try await first.put(Array("submission \(index)".utf8)))))
        }
        // A resumable upload, begun and left unfinished.
        let created = try await exchange(port: first.port, Array("SEALDROP/1 CREATE 100000\n\n".utf8))
        #expect(created.hasPrefix("OK "), "\(created)")
        #expect(await first.stop() == 0)
        // Two arrived 40 days ago, one 29 days ago, one today; everything else in the spool is old too.
        try setArrival(spool.submission(ids[0]), daysAgo: 40)
        try setArrival(spool.submission(ids[1]), daysAgo: 40)
        try setArrival(spool.submission(ids[2]), daysAgo: 29)
        for folder in ["partial"] {
            let path = spool.path + "/" + folder
            for name in try FileManager.default.contentsOfDirectory(atPath: path) { try setArrival(path + "/" + name, daysAgo: 40) }
        }
        let partialBefore = try FileManager.default.contentsOfDirectory(atPath: spool.path + "/partial").sorted()
        #expect(partialBefore.count == 2, "\(partialBefore)")

        let drop = try await RealDrop.start(spool: spool, recipient: recipient,
                                            extra: ["--retention", "30d", "--retention-check", "1s", "--max-partial-uploads", "4", "--partial-expiry", "365d", "--partial-idle-limit", "365d"])
        #expect(spool.inboxFiles() == [ids[2], ids[3]].sorted().map { "\($0).sealdrop" })
        #expect(spool.recordFiles() == [ids[2], ids[3]].sorted().map { "\($0).record" }, "records go with their submissions")
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool.path + "/partial").sorted() == partialBefore, "resumable uploads are never retention's")
        let logged = drop.daemon.stderr.split(separator: "\n").filter { $0.contains("past their retention") }
        #expect(logged.count == 1 && logged[0].contains("retention.removed=2"), "\(logged)")
        for id in ids { #expect(!drop.daemon.stderr.contains(id), "a count, never which") }

        // An upload in progress, whatever its file's time, is left alone by the timer.
        let socket = try TestSocket(port: drop.port)
        try socket.send(Array("SEALDROP/1 PUT 200000\n\n".utf8) + Array(repeating: 1, count: 50_000))
        #expect(await eventually(timeout: 5) { spool.tempFiles().count == 1 })
        try setArrival(spool.temp + "/" + spool.tempFiles()[0], daysAgo: 40)
        // Past its retention while the daemon runs: the timer removes it.
        try setArrival(spool.submission(ids[2]), daysAgo: 31)
        #expect(await eventually(timeout: 10) { spool.inboxFiles() == ["\(ids[3]).sealdrop"] }, "\(spool.inboxFiles())")
        try socket.send(Array(repeating: 1, count: 150_000))
        socket.shutdownWrite()
        let reply = socket.readReply()
        let late = try #require(receipt(reply), "the upload in progress was stored: \(reply)")
        #expect(spool.inboxFiles() == [ids[3], late].sorted().map { "\($0).sealdrop" })
        #expect(await drop.stop() == 0)
    }

    @Test("retention below a day, or not a duration, is refused with the setting's name")
    func retentionValues() async throws {
        let spool = try SpoolFolder()
        for value in ["12h", "soon", "4000d"] {
            let (status, stderr) = try await runDaemonExpectingExit(["--spool", spool.path, "--recipient", Recipient().text, "--retention", value])
            #expect(status == 1 && stderr.hasPrefix("sealdropd: error: --retention: \"\(value)\" is not "), "\(stderr)")
        }
    }

    /// Sets a file's access and modification times to 00:00 UTC `days` days ago, as the spool
    /// sets them on arrival.
    func setArrival(_ path: String, daysAgo days: Int) throws {
        let now = Int(Date().timeIntervalSince1970)
        let day = now - now % 86_400 - days * 86_400
        var times = [timespec(tv_sec: day, tv_nsec: 0), timespec(tv_sec: day, tv_nsec: 0)]
        try #require(utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW) == 0, "utimensat \(path)")
    }
}
