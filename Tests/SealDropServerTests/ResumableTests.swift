import Foundation
import Logging
import SealDropCrypto
import SealDropFormat
import SealDropServer
import SealDropStore
import SealDropTestSupport
import Testing

/// The resumable-upload verbs against a real daemon on a loopback port: `CREATE`, `OFFSET`,
/// `APPEND`, over raw sockets as `nc` would speak them.
@Suite("Resumable uploads")
struct ResumableTests {
    /// A resumable upload as the client knows it.
    struct Created {
        let id: String
        let token: String
    }

    static func create(_ port: Int, length: Int) async throws -> Created {
        let reply = try await exchange(port: port, Array("SEALDROP/1 CREATE \(length)\n\n".utf8))
        let words = reply.dropLast().split(separator: " ")
        try #require(reply.hasSuffix("\n") && words.count == 3 && words[0] == "OK", "\(reply)")
        return Created(id: String(words[1]), token: String(words[2]))
    }

    static func offset(_ port: Int, _ upload: Created, token: String? = nil) async throws -> String {
        try await exchange(port: port, Array("SEALDROP/1 OFFSET\nUpload: \(upload.id)\nToken: \(token ?? upload.token)\n\n".utf8))
    }

    static func appendHead(_ upload: Created, offset: Int, length: Int, token: String? = nil) -> [UInt8] {
        Array("SEALDROP/1 APPEND \(length)\nUpload: \(upload.id)\nToken: \(token ?? upload.token)\nOffset: \(offset)\n\n".utf8)
    }

    /// Sends the rest of `envelope` from `offset`; returns the reply.
    static func append(_ port: Int, _ upload: Created, _ envelope: [UInt8], from offset: Int, token: String? = nil) async throws -> String {
        try await exchange(port: port, appendHead(upload, offset: offset, length: envelope.count - offset, token: token) + envelope[offset...])
    }

    /// Sends `count` bytes of the rest of `envelope` from `offset`, then ends the connection
    /// early: an orderly end (as the onion service's tor closes a dead circuit's connection),
    /// answered `ERR truncated` once the daemon has kept what arrived; or, with `reset`, a reset,
    /// which may also discard what the daemon had not read yet.
    static func appendAndCut(_ port: Int, _ upload: Created, _ envelope: [UInt8], from offset: Int, count: Int, reset: Bool = false) async throws {
        let reply = try await blocking { () -> String in
            let socket = try TestSocket(port: port)
            try socket.send(appendHead(upload, offset: offset, length: envelope.count - offset) + envelope[offset..<(offset + count)])
            if reset {
                usleep(100_000)
                socket.reset()
                return "ERR truncated (reset)"
            }
            socket.shutdownWrite()
            return socket.readReply()
        }
        #expect(errorCode(reply) == "truncated", "\(reply)")
    }

    static func envelope(_ drop: Drop, size: Int, seed: Int = 1) throws -> [UInt8] {
        try sealLocally(content(seed, size: size), to: [drop.recipient.publicKey], name: "leak.bin")
    }

    static func partialFiles(_ drop: Drop) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: drop.spool.path + "/partial")) ?? []).sorted()
    }

    @Test("CREATE, a cut APPEND, OFFSET and the rest: every byte received is kept, and the receipt is the upload's ID")
    func cutAndResume() async throws {
        try await withDrop { drop in
            let envelope = try Self.envelope(drop, size: 1_000_000)
            let upload = try await Self.create(drop.port, length: envelope.count)
            #expect(SubmissionID(upload.id) != nil && upload.token.count == 32)
            #expect(try await Self.offset(drop.port, upload) == "OK 0\n")
            try await Self.appendAndCut(drop.port, upload, envelope, from: 0, count: 300_001)
            // Nothing received is lost: the daemon kept the bytes up to the cut.
            #expect(await eventually { (try? await Self.offset(drop.port, upload)) == "OK 300001\n" })
            try await Self.appendAndCut(drop.port, upload, envelope, from: 300_001, count: 77)
            #expect(await eventually { (try? await Self.offset(drop.port, upload)) == "OK 300078\n" })
            // A reset keeps at most what arrived.
            try await Self.appendAndCut(drop.port, upload, envelope, from: 300_078, count: 100_000, reset: true)
            var resumeAt = 0
            #expect(await eventually {
                guard let reply = try? await Self.offset(drop.port, upload), let held = Int(reply.dropFirst(3).dropLast()) else { return false }
                resumeAt = held
                return held >= 300_078 && held <= 400_078
            })
            #expect(drop.spool.inboxFiles().isEmpty && drop.spool.tempFiles().isEmpty)
            let reply = try await Self.append(drop.port, upload, envelope, from: resumeAt)
            #expect(reply == "OK \(upload.id)\n")
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: drop.spool.submission(upload.id)))) == envelope)
            #expect(try drop.recipient.open(drop.spool.submission(upload.id)).content == content(1, size: 1_000_000))
            #expect(drop.spool.recordFiles() == ["\(upload.id).record"])
            // The receipt is not lost with a reply that never arrived: the upload says it is stored.
            #expect(errorCode(try await Self.offset(drop.port, upload)) == "upload-finished")
            #expect(errorCode(try await Self.append(drop.port, upload, envelope, from: envelope.count)) == "upload-finished")
            #expect(Self.partialFiles(drop) == ["\(upload.id).state"])
            // The token is never logged.
            #expect(drop.logs.entries.count > 3 && drop.logs.entries.allSatisfy { !"\($0.message) \($0.metadata)".contains(upload.token) })
        }
    }

    @Test("hostile requests each get their own code and change nothing")
    func hostileRequests() async throws {
        try await withDrop { drop in
            let envelope = try Self.envelope(drop, size: 200_000)
            let upload = try await Self.create(drop.port, length: envelope.count)
            let other = try await Self.create(drop.port, length: envelope.count)
            try await Self.appendAndCut(drop.port, upload, envelope, from: 0, count: 100_000)
            #expect(await eventually { (try? await Self.offset(drop.port, upload)) == "OK 100000\n" })
            let data = drop.spool.path + "/partial/\(upload.id).partial"
            let before = try Data(contentsOf: URL(fileURLWithPath: data))
            let cases: [(String, [UInt8], String)] = [
                ("a wrong token", Self.appendHead(upload, offset: 100_000, length: envelope.count - 100_000, token: String(repeating: "0", count: 32)) + envelope[100_000...], "bad-token"),
                ("another upload's token", Self.appendHead(upload, offset: 100_000, length: envelope.count - 100_000, token: other.token) + envelope[100_000...], "bad-token"),
                ("a token that is not hex", Self.appendHead(upload, offset: 100_000, length: envelope.count - 100_000, token: "x") + envelope[100_000...], "bad-token"),
                ("a wrong offset", Self.appendHead(upload, offset: 50_000, length: envelope.count - 50_000) + envelope[50_000...], "offset-mismatch"),
                ("an offset past the end", Self.appendHead(upload, offset: envelope.count + 1, length: 0), "past-end"),
                ("a length short of the end", Self.appendHead(upload, offset: 100_000, length: 10) + envelope[100_000..<100_010], "bad-length"),
                ("an unknown upload", Array("SEALDROP/1 OFFSET\nUpload: \(SubmissionID.random())\nToken: \(upload.token)\n\n".utf8), "unknown-upload"),
                ("a malformed upload ID", Array("SEALDROP/1 OFFSET\nUpload: ../../inbox/x\nToken: \(upload.token)\n\n".utf8), "unknown-upload"),
                ("no token", Array("SEALDROP/1 OFFSET\nUpload: \(upload.id)\n\n".utf8), "bad-header"),
                ("no offset", Array("SEALDROP/1 APPEND 0\nUpload: \(upload.id)\nToken: \(upload.token)\n\n".utf8), "bad-header"),
                ("an offset with a sign", Array("SEALDROP/1 APPEND 0\nUpload: \(upload.id)\nToken: \(upload.token)\nOffset: +5\n\n".utf8), "bad-header"),
                ("a CREATE too short for an envelope", Array("SEALDROP/1 CREATE 100\n\n".utf8), "bad-envelope"),
                ("a CREATE over the maximum", Array("SEALDROP/1 CREATE \((8 << 30) + 1)\n\n".utf8), "too-large"),
            ]
            for (label, request, code) in cases {
                let reply = try await exchange(port: drop.port, request)
                #expect(errorCode(reply) == code, "\(label): \(reply)")
            }
            // None of them changed the upload.
            #expect(try Data(contentsOf: URL(fileURLWithPath: data)) == before)
            #expect(try await Self.offset(drop.port, upload) == "OK 100000\n")
            #expect(try await Self.offset(drop.port, other) == "OK 0\n")
            #expect(try await Self.append(drop.port, upload, envelope, from: 100_000) == "OK \(upload.id)\n")
            // An envelope addressed to nobody here ends the upload: it can never be stored.
            let stranger = try sealLocally(content(9, size: 200_000), to: [SecretKey.generate().publicKey])
            #expect(errorCode(try await Self.append(drop.port, other, stranger, from: 0)) == "not-addressed")
            #expect(errorCode(try await Self.offset(drop.port, other)) == "unknown-upload")
            #expect(drop.spool.inboxFiles() == ["\(upload.id).sealdrop"])
            try await drop.expectServes()
        }
    }

    @Test("two connections racing on one upload: the later takes it over, the earlier is told so, and the bytes never interleave")
    func takeover() async throws {
        try await withDrop(limits: testLimits { $0.idleTimeout = .seconds(30) }) { drop in
            let envelope = try Self.envelope(drop, size: 500_000)
            let upload = try await Self.create(drop.port, length: envelope.count)
            // A connection that stalls mid-upload, as behind a dead circuit.
            let stalled = try await blocking { () -> TestSocket in
                let socket = try TestSocket(port: drop.port, timeout: 30)
                try socket.send(Self.appendHead(upload, offset: 0, length: envelope.count) + envelope[..<200_000])
                return socket
            }
            #expect(await eventually { drop.server.activeConnections == 1 })
            try? await Task.sleep(for: .milliseconds(300))
            // A new connection with the token: OFFSET takes it over and reports what was kept
            // (what the daemon had received of the 200,000 bytes by then).
            let reply = try await Self.offset(drop.port, upload)
            let offset = try #require(Int(reply.dropFirst(3).dropLast()), "\(reply)")
            #expect(offset > 0 && offset <= 200_000, "\(reply)")
            let old = try await blocking { stalled.readReply() }
            #expect(errorCode(old) == "taken-over", "\(old)")
            // The old connection can no longer write into it.
            _ = try? await blocking { try stalled.send(Array(envelope[200_000..<210_000])) }
            #expect(try await Self.offset(drop.port, upload) == reply)
            #expect(try await Self.append(drop.port, upload, envelope, from: offset) == "OK \(upload.id)\n")
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: drop.spool.submission(upload.id)))) == envelope)
        }
    }

    @Test("expiry, the idle limit and the cap on open uploads: each enforced, and the quota counts partial uploads")
    func limits() async throws {
        let empty = Layout.sealedByteCount(contentLength: 0, recipients: 1, metadataLength: 4096)
        let perFile = (empty + 4095) / 4096 * 4096 + 4096
        try await withDrop(limits: testLimits {
            $0.maxPartialUploads = 2
            $0.partialExpiry = .seconds(3)
            $0.spoolQuotaBytes = 12 * perFile + (1 << 20)
        }) { drop in
            let envelope = try Self.envelope(drop, size: 3 << 20)
            let first = try await Self.create(drop.port, length: envelope.count)
            let second = try await Self.create(drop.port, length: envelope.count)
            let third = try await exchange(port: drop.port, Array("SEALDROP/1 CREATE \(envelope.count)\n\n".utf8))
            #expect(errorCode(third) == "busy", "\(third)")
            // The quota counts what the open uploads hold: about 1 MiB fits, not 3.
            let quota = try await Self.append(drop.port, first, envelope, from: 0)
            #expect(errorCode(quota) == "quota", "\(quota)")
            let kept = try #require(UInt64(try await Self.offset(drop.port, first).dropFirst(3).dropLast()))
            #expect(kept > 0 && kept < UInt64(envelope.count), "a refused append keeps what fit: \(kept)")
            #expect(errorCode(try await drop.put(Array(repeating: 1, count: 2 << 20))) == "quota")
            // Expiry: swept once past it, its place freed, its client told.
            try await Task.sleep(for: .seconds(4))
            #expect(await drop.server.sweepPartialUploads().expired == 2)
            #expect(errorCode(try await Self.offset(drop.port, first)) == "upload-expired")
            #expect(errorCode(try await Self.append(drop.port, second, envelope, from: 0)) == "upload-expired")
            #expect(Self.partialFiles(drop) == ["\(first.id).state", "\(second.id).state"].sorted())
            _ = try await Self.create(drop.port, length: envelope.count)
            try await drop.expectServes()
        }
        try await withDrop(limits: testLimits { $0.partialIdleLimit = .seconds(3) }) { drop in
            let envelope = try Self.envelope(drop, size: 100_000)
            let idle = try await Self.create(drop.port, length: envelope.count)
            let busy = try await Self.create(drop.port, length: envelope.count)
            try await Task.sleep(for: .milliseconds(1500))
            try await Self.appendAndCut(drop.port, busy, envelope, from: 0, count: 50_000)
            try await Task.sleep(for: .seconds(2))
            // Only the upload without progress for three seconds goes.
            #expect(await drop.server.sweepPartialUploads().expired == 1)
            #expect(errorCode(try await Self.offset(drop.port, idle)) == "upload-expired")
            #expect(try await Self.offset(drop.port, busy) == "OK 50000\n")
        }
    }

    @Test("a record reads back as written, and anything else is refused; at start a damaged record's upload is removed")
    func records() async throws {
        let state = PartialState(status: .open, length: 300_000, offset: 65_553, tokenHash: Array(0..<32),
                                 until: PartialState.coarse(Date(timeIntervalSince1970: 1_796_000_123), plus: 48 * 3600))
        #expect(state.until.timeIntervalSince1970.truncatingRemainder(dividingBy: 3600) == 0, "kept to the hour")
        #expect(state.encoded.count == PartialState.byteCount)
        #expect(PartialState(parsing: state.encoded) == state)
        let text = String(decoding: state.encoded, as: UTF8.self)
        for (find, replace) in [("open", "opened"), ("offset: 65553", "offset: 300001"), ("SEALDROP-PARTIAL-1", "SEALDROP-PARTIAL-2"),
                                ("length: ", "length: -"), ("token-hash: 00", "token-hash: 0g")] {
            #expect(PartialState(parsing: Array(text.replacingOccurrences(of: find, with: replace).utf8)) == nil, "\(find)")
        }
        #expect(PartialState(parsing: Array(state.encoded.dropLast())) == nil)
        try await withDrop { drop in
            let envelope = try Self.envelope(drop, size: 100_000)
            let upload = try await Self.create(drop.port, length: envelope.count)
            try Data("damaged".utf8).write(to: URL(fileURLWithPath: drop.spool.path + "/partial/\(upload.id).state"))
            // A damaged record names no upload the drop can trust.
            #expect(errorCode(try await Self.offset(drop.port, upload)) == "server-error")
        }
        // At start, a damaged record goes with its data; an intact one stays.
        let folder = try SpoolFolder("records")
        let spool = try Spool.open(root: folder.path)
        let damaged = SubmissionID.random(), intact = SubmissionID.random()
        try spool.createPartial(damaged, state: state, dayOf: Date())
        try spool.createPartial(intact, state: PartialState(status: .open, length: 300_000, offset: 0, tokenHash: Array(0..<32), until: state.until),
                                dayOf: Date())
        try Data("damaged".utf8).write(to: URL(fileURLWithPath: spool.partialPath + "/\(damaged.text).state"))
        #expect(try spool.recoverKeptUploads() == 1)
        let left = try FileManager.default.contentsOfDirectory(atPath: spool.partialPath).sorted()
        #expect(left == ["\(intact.text).partial", "\(intact.text).state"])
    }

    @Test("a full disk pauses a resumable upload: the append is refused, the partial kept, and it resumes once space is back",
          .enabled(if: Machine.canMountTmpfs, "mounting a small tmpfs needs root"))
    func diskFullPauses() async throws {
        let small = try await StorageTests.SmallDiskDrop(try TemporaryDirectory("sealdropd-resume-disk"), mebibytes: 16,
                                                         limits: testLimits { $0.freeDiskReserveBytes = 3 << 20 })
        defer { small.unmount() }
        let (disk, spool, recipient, server, port) = (small.disk, small.spool, small.recipient, small.server, small.port)
        let plaintext = content(5, size: 12 << 20)
        let envelope = try sealLocally(plaintext, to: [recipient.publicKey])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let upload = try await Self.create(port, length: envelope.count)
            // Fill the disk but for about 7 MiB: the append stops at the daemon's 3 MiB reserve
            // (which leaves room to record how far it got).
            _ = try runProcess("/bin/dd", ["if=/dev/zero", "of=\(disk)/filler", "bs=1M", "count=7"])
            _ = try runProcess("/bin/dd", ["if=/dev/zero", "of=\(disk)/filler2", "bs=64k"])
            try FileManager.default.removeItem(atPath: disk + "/filler")
            let paused = try await Self.append(port, upload, envelope, from: 0)
            #expect(errorCode(paused) == "disk-full", "\(paused)")
            let reply = try await Self.offset(port, upload)
            let kept = try #require(Int(reply.dropFirst(3).dropLast()), "\(reply)")
            #expect(kept > 0 && kept < envelope.count, "\(kept) \(paused) \((try? FileManager.default.contentsOfDirectory(atPath: spool + "/partial")) ?? [])")
            // Space is back: the upload goes on from where it stopped.
            try FileManager.default.removeItem(atPath: disk + "/filler2")
            #expect(try await Self.append(port, upload, envelope, from: kept) == "OK \(upload.id)\n")
            #expect(try recipient.open(spool + "/inbox/\(upload.id).sealdrop").content == plaintext)
            group.cancelAll()
        }
    }
}
