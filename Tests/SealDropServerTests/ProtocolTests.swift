import Foundation
import SealDropCrypto
import SealDropFormat
import SealDropServer
import SealDropStore
import SealDropTestSupport
import Testing

/// BAD-INPUTS classes 1, 2, 4, 5, 6, 7, 12 and 13: each refusal has its own code, nothing
/// reaches the inbox, tmp is left empty, and the daemon goes on serving.
@Suite("Protocol refusals")
struct ProtocolTests {
    /// Sends `bytes`, expects `ERR <code>`, then checks the invariants.
    func expectRefused(_ bytes: [UInt8], code: String, drop: Drop, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let before = drop.spool.inboxFiles()
        let reply = try await exchange(port: drop.port, bytes)
        #expect(errorCode(reply) == code, "reply: \(reply)", sourceLocation: sourceLocation)
        #expect(reply.hasSuffix("\n") && reply.filter { $0 == "\n" }.count == 1, "one reply line: \(reply)", sourceLocation: sourceLocation)
        try await drop.expectNothingStoredAndStillServing(inboxBefore: before, sourceLocation: sourceLocation)
    }

    @Test("class 1: bad magic, unknown version or verb")
    func badMagicVersionVerb() async throws {
        try await withDrop { drop in
            try await expectRefused(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), code: "bad-request", drop: drop)
            try await expectRefused(Array("SEALDROP 1 PUT 5\n\nhello".utf8), code: "bad-request", drop: drop)
            try await expectRefused(Array("sealdrop/1 PUT 5\n\nhello".utf8), code: "bad-request", drop: drop)
            try await expectRefused(Array("SEALDROP/2 PUT 5\n\nhello".utf8), code: "unsupported-version", drop: drop)
            try await expectRefused(Array("SEALDROP/1 POST 5\n\nhello".utf8), code: "unknown-verb", drop: drop)
            try await expectRefused(Array("SEALDROP/1 put 5\n\nhello".utf8), code: "unknown-verb", drop: drop)
            try await expectRefused([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00], code: "bad-request", drop: drop)  // a TLS hello
        }
    }

    @Test("class 2: absurd lengths are refused before any body byte", arguments: [
        ("18446744073709551615", "too-large"), ("18446744073709551616", "bad-length"), ("-1", "bad-length"),
        ("abc", "bad-length"), ("+5", "bad-length"), (String(repeating: "9", count: 40), "bad-length"),
        ("007", "bad-length"), ("5 5", "bad-request"), ("", "bad-request"), ("0x10", "bad-length"),
    ])
    func absurdLength(length: String, code: String) async throws {
        try await withDrop { drop in
            // No body follows: the refusal must not wait for one.
            let port = drop.port
            let reply = try await blocking {
                let socket = try TestSocket(port: port, timeout: 5)
                try socket.send("SEALDROP/1 PUT \(length)\n\n")
                return socket.readReply()
            }
            #expect(errorCode(reply) == code, "\(length): \(reply)")
            try await drop.expectNothingStoredAndStillServing()
        }
    }

    @Test("class 4: bytes after the declared end are refused with trailing-data, never appended")
    func trailingData() async throws {
        try await withDrop { drop in
            try await expectRefused(request(body: Array("hello".utf8)) + Array("EXTRA".utf8), code: "trailing-data", drop: drop)
            // A second request on the same connection is trailing data too: one request per connection.
            try await expectRefused(request(body: Array("hello".utf8)) + request(body: Array("again".utf8)), code: "trailing-data", drop: drop)
            let envelope = try sealLocally(content(7, size: 1000), to: [drop.recipient.publicKey])
            try await expectRefused(request("SEALED", body: envelope) + [0], code: "trailing-data", drop: drop)
        }
    }

    @Test("class 5: a zero-byte PUT is stored as an empty submission (a message alone); a zero-byte SEALED is refused")
    func zeroBytes() async throws {
        try await withDrop { drop in
            let reply = try await drop.put([], headers: ["Message: see the paper on the 4th floor"])
            let id = try #require(receipt(reply), "\(reply)")
            let opened = try drop.recipient.open(drop.spool.submission(id))
            #expect(opened.content.isEmpty)
            #expect(opened.metadata.size == 0)
            #expect(opened.metadata.message == "see the paper on the 4th floor")
            let before = drop.spool.inboxFiles()
            let sealed = try await exchange(port: drop.port, request("SEALED", body: []))
            #expect(errorCode(sealed) == "bad-envelope", "\(sealed)")
            try await drop.expectNothingStoredAndStillServing(inboxBefore: before)
        }
    }

    @Test("class 6: over the size limit, declared or streamed; the file never outgrows the limit plus the format's overhead")
    func overSizeLimit() async throws {
        let limit = 256 * 1024
        try await withDrop(limits: testLimits { $0.maxBodyBytes = UInt64(limit) }) { drop in
            // Declared over the limit: refused at the request line, before any body byte is read.
            let port = drop.port
            let reply = try await blocking {
                let socket = try TestSocket(port: port, timeout: 5)
                try socket.send("SEALDROP/1 PUT \(limit + 1)\n\n")
                return socket.readReply()
            }
            #expect(errorCode(reply) == "too-large", "\(reply)")
            try await drop.expectNothingStoredAndStillServing()
            let afterFirst = drop.spool.inboxFiles()

            // Streamed over the declared length: refused as trailing data; meanwhile the temporary
            // file never grows past the sealed size of the declared length.
            let maxSealed = Layout.sealedByteCount(contentLength: UInt64(limit), recipients: 1, metadataLength: 4096)
            let temp = drop.spool.temp
            let watcher = Task.detached {
                var largest: UInt64 = 0
                while !Task.isCancelled {
                    for name in (try? FileManager.default.contentsOfDirectory(atPath: temp)) ?? [] {
                        let size = (try? FileManager.default.attributesOfItem(atPath: (temp as NSString).appendingPathComponent(name))[.size] as? UInt64) ?? 0
                        largest = max(largest, size)
                    }
                    try? await Task.sleep(for: .milliseconds(1))
                }
                return largest
            }
            let oversized = Array("SEALDROP/1 PUT \(limit)\n\n".utf8) + content(8, size: limit + 100_000)
            let streamed = try await exchange(port: drop.port, oversized)
            #expect(errorCode(streamed) == "trailing-data", "\(streamed)")
            watcher.cancel()
            #expect(await watcher.value <= maxSealed)
            try await drop.expectNothingStoredAndStillServing(inboxBefore: afterFirst)

            // Exactly at the limit: stored, at exactly the sealed size.
            let atLimit = try await drop.put(content(9, size: limit))
            let id = try #require(receipt(atLimit), "\(atLimit)")
            let size = try FileManager.default.attributesOfItem(atPath: drop.spool.submission(id))[.size] as? UInt64
            #expect(size == maxSealed)
        }
    }

    @Test("class 6: uploads that declare huge sizes and then trickle cannot reserve the quota and lock others out")
    func declaredSizesDoNotLockTheQuota() async throws {
        let quota: UInt64 = 64 << 20
        try await withDrop(limits: testLimits { $0.spoolQuotaBytes = quota; $0.freeDiskReserveBytes = 0 }) { drop in
            // Four stalled uploads, each declaring almost the whole quota: together 240 MiB.
            var stalled: [TestSocket] = []
            for _ in 0..<4 {
                let socket = try TestSocket(port: drop.port)
                try socket.send("SEALDROP/1 PUT \(60 << 20)\n\n")
                try socket.send(content(20, size: 1000))
                stalled.append(socket)
            }
            #expect(await eventually { drop.server.activeConnections == 4 })
            // An honest 10 MiB upload still goes through.
            let reply = try await drop.put(content(21, size: 10 << 20))
            #expect(receipt(reply) != nil, "\(reply)")
            // An upload larger than the whole quota is refused once its bytes do not fit, not
            // before: a declared length is never compared with the quota.
            let tooBig = try await exchange(port: drop.port, Array("SEALDROP/1 PUT \(quota + 1)\n\n".utf8) + content(22, size: Int(quota) + 1))
            #expect(errorCode(tooBig) == "quota", "\(tooBig)")
            withExtendedLifetime(stalled) {}
        }
    }

    /// What the daemon answers to `SEALED <length>` with a valid envelope header and nothing
    /// more: whether it answers before the body (it must not), and its reply once the client
    /// half-closes.
    static func probe(port: Int, length: UInt64, header: [UInt8]) async throws -> (early: Bool, reply: String) {
        try await blocking {
            let socket = try TestSocket(port: port, timeout: 10)
            try socket.send(Array("SEALDROP/1 SEALED \(length)\n\n".utf8) + header)
            var poller = pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)
            let early = poll(&poller, 1, 500) > 0
            socket.shutdownWrite()
            return (early, socket.readReply())
        }
    }

    @Test("no oracle: a declared length just under and just over the free space, or the quota, gets the same reply before body bytes arrive")
    func noSpaceOracle() async throws {
        let spool = try SpoolFolder("oracle")
        var info = statvfs()
        #expect(statvfs(spool.path, &info) == 0)
        let free = UInt64(info.f_bavail) * UInt64(info.f_frsize)
        // The reserve leaves 64 MiB of the disk to uploads: 32 MiB fits, 256 MiB does not.
        let limits = testLimits { $0.freeDiskReserveBytes = free - (64 << 20); $0.spoolQuotaBytes = 128 << 20 }
        try await withDrop(limits: limits) { drop in
            let envelope = try sealLocally(content(30, size: 100), to: [drop.recipient.publicKey])
            let header = Array(envelope.prefix(Layout.headerByteCount(recipients: 1)))
            var replies: [String] = []
            // Under and over the free space; over the quota too.
            for length: UInt64 in [32 << 20, 256 << 20, 1 << 30] {
                let (early, reply) = try await Self.probe(port: drop.port, length: length, header: header)
                #expect(!early, "a reply came before the body for \(length): \(reply)")
                #expect(errorCode(reply) == "truncated", "\(length): \(reply)")
                replies.append(reply)
            }
            #expect(Set(replies).count == 1, "\(replies)")
            try await drop.expectNothingStoredAndStillServing()
        }
    }

    @Test("class 6: spool quota and free-disk reserve each have their own code")
    func quotaAndReserve() async throws {
        let quota: UInt64 = 300_000
        try await withDrop(limits: testLimits { $0.spoolQuotaBytes = quota }) { drop in
            let first = try await drop.put(content(10, size: 200_000))
            #expect(receipt(first) != nil, "\(first)")
            let before = drop.spool.inboxFiles()
            let second = try await drop.put(content(11, size: 200_000))
            #expect(errorCode(second) == "quota", "\(second)")
            #expect(drop.spool.inboxFiles() == before)
            #expect(await drop.spool.waitForEmptyTemp())
            // Small uploads still fit.
            #expect(receipt(try await drop.put(content(12, size: 10_000))) != nil)
            // Once the keyholder takes the first away, the space is free again: the next upload
            // after the daemon's rescan (at most a second later) is stored.
            for name in drop.spool.inboxFiles() { try FileManager.default.removeItem(atPath: (drop.spool.inbox as NSString).appendingPathComponent(name)) }
            #expect(try await eventually { receipt(try await drop.put(content(13, size: 200_000))) != nil })
        }
        try await withDrop(limits: testLimits { $0.freeDiskReserveBytes = UInt64.max / 2 }) { drop in
            let reply = try await drop.put(content(14, size: 1000))
            #expect(errorCode(reply) == "disk-full", "\(reply)")
            #expect(drop.spool.inboxFiles().isEmpty)
            #expect(await drop.spool.waitForEmptyTemp())
        }
    }

    @Test("class 7: a request split into random pieces or single bytes gives the same result")
    func splitRequests() async throws {
        try await withDrop { drop in
            let body = content(15, size: 3000)
            let whole = request(body: body, headers: ["Name: split.txt", "Message: in pieces"])
            let port = drop.port
            for mode in ["whole", "bytes", "random", "crlf-bytes"] {
                let bytes = mode == "crlf-bytes"
                    ? Array("SEALDROP/1 PUT \(body.count)\r\nName: split.txt\r\nMessage: in pieces\r\n\r\n".utf8) + body
                    : whole
                let reply = try await blocking {
                    let socket = try TestSocket(port: port)
                    switch mode {
                    case "whole":
                        try socket.send(bytes)
                    case "random":
                        var generator = SystemRandomNumberGenerator()
                        var offset = 0
                        while offset < bytes.count {
                            let piece = min(bytes.count - offset, Int.random(in: 1...700, using: &generator))
                            try socket.send(Array(bytes[offset..<offset + piece]))
                            offset += piece
                            usleep(UInt32.random(in: 0...2000, using: &generator))
                        }
                    default:
                        // Byte by byte through the head and the first part of the body.
                        for (index, byte) in bytes.enumerated() {
                            try socket.send([byte])
                            if index > 400 {
                                try socket.send(Array(bytes[(index + 1)...]))
                                break
                            }
                        }
                    }
                    socket.shutdownWrite()
                    return socket.readReply()
                }
                let id = try #require(receipt(reply), "\(mode): \(reply)")
                let opened = try drop.recipient.open(drop.spool.submission(id))
                #expect(opened.content == body, "\(mode)")
                #expect(opened.metadata.name == "split.txt", "\(mode)")
                #expect(opened.metadata.message == "in pieces", "\(mode)")
            }
            #expect(drop.spool.inboxFiles().count == 4)
        }
    }

    @Test("class 12: fuzzed heads and envelopes never crash the daemon; each gets one reply")
    func fuzz() async throws {
        try await withDrop { drop in
            var generator = SystemRandomNumberGenerator()
            let valid = request(body: Array("fuzz".utf8), headers: ["Name: a", "Message: b"])
            let envelope = try sealLocally(content(16, size: 5000), to: [drop.recipient.publicKey])
            let sealedRequest = request("SEALED", body: envelope)
            var cases: [[UInt8]] = []
            for _ in 0..<60 {
                // Random bytes, some with the magic in front.
                let noise = (0..<Int.random(in: 0...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                cases.append(Bool.random(using: &generator) ? Array("SEALDROP/1 ".utf8) + noise : noise)
            }
            for _ in 0..<60 {
                // A valid head with a few bytes flipped.
                var mutated = valid
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
                cases.append(mutated)
            }
            for _ in 0..<60 {
                // A SEALED request whose envelope header has flipped bytes (the length stays right).
                var mutated = sealedRequest
                let headStart = sealedRequest.count - envelope.count
                for _ in 0..<Int.random(in: 1...3, using: &generator) {
                    mutated[headStart + Int.random(in: 0..<200, using: &generator)] ^= UInt8.random(in: 1...255, using: &generator)
                }
                cases.append(mutated)
            }
            let port = drop.port
            var stored = 0
            for (index, bytes) in cases.enumerated() {
                let reply = try await exchange(port: port, bytes)
                if let id = receipt(reply) {
                    stored += 1
                    // Whatever was stored must be complete: a PUT decrypts; a SEALED envelope stays as sent.
                    #expect(FileManager.default.fileExists(atPath: drop.spool.submission(id)))
                } else {
                    #expect(errorCode(reply) != nil, "case \(index): \(reply.debugDescription)")
                }
            }
            #expect(drop.spool.inboxFiles().count == stored)
            #expect(await drop.spool.waitForEmptyTemp())
            try await drop.expectServes()
        }
    }

    @Test("class 13: over-long header line, too many header lines, non-UTF-8 or control characters")
    func badHeaders() async throws {
        try await withDrop(limits: testLimits { $0.maxHeaderLineBytes = 200; $0.maxHeaderLines = 4 }) { drop in
            let body = Array("x".utf8)
            try await expectRefused(request(body: body, headers: ["Name: " + String(repeating: "a", count: 300)]), code: "header-too-long", drop: drop)
            // Refused before the line ends: no LF ever comes.
            let port = drop.port
            let early = try await blocking {
                let socket = try TestSocket(port: port, timeout: 5)
                try socket.send("SEALDROP/1 PUT 1\nName: " + String(repeating: "b", count: 1000))
                return socket.readReply()
            }
            #expect(errorCode(early) == "header-too-long", "\(early)")
            try await expectRefused(request(body: body, headers: (0..<5).map { "X-\($0): y" }), code: "too-many-headers", drop: drop)
            try await expectRefused(Array("SEALDROP/1 PUT 1\nName: caf".utf8) + [0xC3, 0x28] + Array("\n\nx".utf8), code: "bad-header", drop: drop)
            try await expectRefused(request(body: body, headers: ["Name: a\u{01}b"]), code: "bad-header", drop: drop)
            try await expectRefused(request(body: body, headers: ["Message: bell\u{07}"]), code: "bad-header", drop: drop)
            try await expectRefused(request(body: body, headers: ["Name: esc\u{1B}[31m"]), code: "bad-header", drop: drop)
            try await expectRefused(request(body: body, headers: ["Name: c1\u{85}"]), code: "bad-header", drop: drop)
            try await expectRefused(request(body: body, headers: ["no colon here"]), code: "bad-header", drop: drop)
            try await expectRefused(request(body: body, headers: ["Name: a", "name: b"]), code: "bad-header", drop: drop)
            try await expectRefused(Array("SEALDROP/1 PUT 1\nName: a\rb\n\nx".utf8), code: "bad-header", drop: drop)
        }
    }

    @Test("SEALED: a malformed header, an envelope for someone else, or an impossible length")
    func sealedRefusals() async throws {
        try await withDrop { drop in
            let envelope = try sealLocally(content(17, size: 2000), to: [drop.recipient.publicKey])
            var badMagic = envelope
            badMagic[0] = UInt8(ascii: "X")
            try await expectRefused(request("SEALED", body: badMagic), code: "bad-envelope", drop: drop)
            let stranger = try sealLocally(content(18, size: 2000), to: [SecretKey.generate().publicKey])
            try await expectRefused(request("SEALED", body: stranger), code: "not-addressed", drop: drop)
            // Cut short, with the length saying so, at a length no envelope can have (inside the
            // smallest possible last chunk). A cut at a plausible length cannot be told apart
            // without a key: it is stored, and the keyholder reports it as truncated.
            let header = try #require(try EnvelopeHeader.parse(prefix: envelope))
            let prefixLength = header.bytes.count + Layout.streamHeaderByteCount + header.metadataLength + 17
            try await expectRefused(request("SEALED", body: Array(envelope.prefix(prefixLength + 10))), code: "bad-envelope", drop: drop)
            // Shorter than an envelope header.
            try await expectRefused(request("SEALED", body: Array(envelope.prefix(40))), code: "bad-envelope", drop: drop)
            // Addressed to the recipient among others: accepted.
            let shared = try sealLocally(content(19, size: 2000), to: [SecretKey.generate().publicKey, drop.recipient.publicKey])
            #expect(receipt(try await exchange(port: drop.port, request("SEALED", body: shared))) != nil)
        }
    }
}
