import Foundation
import SealDropServer
import SealDropTestSupport
import ServiceLifecycle
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// BAD-INPUTS classes 3, 8, 9, 10 and 11: clients that stop, stall, reset, flood or never read.
@Suite("Connections")
struct ConnectionTests {
    /// Waits until the server serves no connection; true if it got there in time.
    func waitUntilIdle(_ drop: Drop, timeout: Double = 10) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if drop.server.activeConnections == 0 { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return drop.server.activeConnections == 0
    }

    @Test("class 3: the connection ends before the declared length: truncated, temp file removed")
    func truncated() async throws {
        try await withDrop { drop in
            let port = drop.port
            // Half-close after part of the body: the client can still read the refusal.
            let reply = try await blocking {
                let socket = try TestSocket(port: port)
                try socket.send(Array("SEALDROP/1 PUT 100000\n\n".utf8) + content(20, size: 70_000))
                socket.shutdownWrite()
                return socket.readReply()
            }
            #expect(errorCode(reply) == "truncated", "\(reply)")
            try await drop.expectNothingStoredAndStillServing()
            // Half-close inside the head, and a connection that sends nothing at all.
            #expect(errorCode(try await exchange(port: port, Array("SEALDROP/1 PUT 5\nName: x".utf8))) == "truncated")
            #expect(errorCode(try await exchange(port: port, [])) == "truncated")
            // A full close mid-body: nobody to answer, but the temp file goes.
            let before = drop.spool.inboxFiles()
            try await blocking {
                let socket = try TestSocket(port: port)
                try socket.send(Array("SEALDROP/1 PUT 1000000\n\n".utf8) + content(21, size: 300_000))
                usleep(200_000)
                socket.close()
            }
            #expect(await waitUntilIdle(drop))
            try await drop.expectNothingStoredAndStillServing(inboxBefore: before)
        }
    }

    @Test("class 8: a slow head hits the header timeout while honest clients are served")
    func headerTimeout() async throws {
        // A header timeout of 6 s leaves the honest upload seconds of margin on a busy machine;
        // the slow head below takes 12 s to send, so the timeout must cut it off.
        try await withDrop(limits: testLimits { $0.headerTimeout = .seconds(6) }) { drop in
            let port = drop.port
            let slow = Task {
                try await blocking { () -> (String, Double, Date) in
                    let socket = try TestSocket(port: port, timeout: 20)
                    let start = Date()
                    // One byte every 200 ms: a slow loris that never finishes its head.
                    for byte in Array("SEALDROP/1 PUT 5\nName: slowly-but-surely-and-ever-so-slowly".utf8) {
                        guard (try? socket.send([byte])) != nil else { break }
                        usleep(200_000)
                        var poller = pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)
                        if poll(&poller, 1, 0) > 0 { break }
                    }
                    return (socket.readReply(), Date().timeIntervalSince(start), Date())
                }
            }
            #expect(await eventually { drop.server.activeConnections == 1 }, "the slow client is connected")
            try await drop.expectServes()
            let honestDone = Date()
            let (reply, elapsed, slowDone) = try await slow.value
            #expect(honestDone < slowDone, "an honest upload waited for the slow one")
            #expect(errorCode(reply) == "header-timeout", "\(reply)")
            #expect(elapsed > 5.8 && elapsed < 11, "\(elapsed)")
            try await drop.expectNothingStoredAndStillServing(inboxBefore: drop.spool.inboxFiles())
        }
    }

    @Test("class 8: a stalled body hits the idle timeout; the temp file is removed")
    func idleTimeout() async throws {
        try await withDrop(limits: testLimits { $0.idleTimeout = .seconds(1) }) { drop in
            let port = drop.port
            let (reply, elapsed) = try await blocking { () -> (String, Double) in
                let socket = try TestSocket(port: port, timeout: 10)
                try socket.send(Array("SEALDROP/1 PUT 100000\n\n".utf8) + content(22, size: 20_000))
                let start = Date()
                return (socket.readReply(), Date().timeIntervalSince(start))
            }
            #expect(errorCode(reply) == "idle-timeout", "\(reply)")
            #expect(elapsed > 0.8 && elapsed < 5, "\(elapsed)")
            try await drop.expectNothingStoredAndStillServing()
        }
    }

    @Test("class 8: a body trickling below the minimum rate is refused")
    func minimumRate() async throws {
        try await withDrop(limits: testLimits { $0.idleTimeout = .seconds(1); $0.minimumBytesPerSecond = 5000 }) { drop in
            let port = drop.port
            let reply = try await blocking { () -> String in
                let socket = try TestSocket(port: port, timeout: 10)
                try socket.send("SEALDROP/1 PUT 100000\n\n")
                // 20 bytes every 50 ms: 400 B/s, never idle for a second, but far too slow.
                for _ in 0..<200 {
                    guard (try? socket.send(Array(repeating: 0x41, count: 20))) != nil else { break }
                    usleep(50_000)
                    var poller = pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)
                    if poll(&poller, 1, 0) > 0 { break }
                }
                return socket.readReply()
            }
            #expect(errorCode(reply) == "idle-timeout", "\(reply)")
            #expect(reply.contains("minimum rate"), "\(reply)")
            try await drop.expectNothingStoredAndStillServing()
        }
    }

    @Test("class 9: a reset mid-upload reclaims the connection and removes the temp file")
    func resetMidUpload() async throws {
        try await withDrop { drop in
            let port = drop.port
            let socket = try await blocking { () -> TestSocket in
                let socket = try TestSocket(port: port)
                try socket.send(Array("SEALDROP/1 PUT 2000000\n\n".utf8) + content(23, size: 500_000))
                return socket
            }
            #expect(await eventually { !drop.spool.tempFiles().isEmpty }, "the upload never reached its temp file")
            socket.reset()
            #expect(await waitUntilIdle(drop))
            try await drop.expectNothingStoredAndStillServing()
        }
    }

    @Test("class 9: a half-open client (write side shut mid-upload) gets ERR truncated")
    func halfOpen() async throws {
        try await withDrop { drop in
            let port = drop.port
            let reply = try await blocking { () -> String in
                let socket = try TestSocket(port: port)
                try socket.send(Array("SEALDROP/1 PUT 2000000\n\n".utf8) + content(24, size: 100_000))
                usleep(100_000)
                socket.shutdownWrite()
                return socket.readReply()
            }
            #expect(errorCode(reply) == "truncated", "\(reply)")
            #expect(await waitUntilIdle(drop))
            try await drop.expectNothingStoredAndStillServing()
        }
    }

    @Test("class 10: connections past the limit get ERR busy at once; the service recovers")
    func flood() async throws {
        try await withDrop(limits: testLimits { $0.maxConnections = 4 }) { drop in
            let port = drop.port
            // Four stalled connections hold every slot.
            let holders = try await blocking { () -> [TestSocket] in
                let sockets = try (0..<4).map { _ in try TestSocket(port: port) }
                for socket in sockets { try socket.send("SEALDROP/1 PUT 10\n") }
                return sockets
            }
            #expect(await eventually { drop.server.activeConnections == 4 })
            let start = Date()
            let busy = try await exchange(port: port, request(body: Array("hello".utf8)))
            #expect(errorCode(busy) == "busy", "\(busy)")
            #expect(Date().timeIntervalSince(start) < 2)
            // A flood past the polite refusals is closed too, quickly.
            let closed = try await blocking { () -> Int in
                let flood = try (0..<150).map { _ in try TestSocket(port: port, timeout: 5) }
                return flood.filter { $0.waitForClose(timeout: 4) }.count
            }
            #expect(closed == 150)
            #expect(drop.spool.inboxFiles().isEmpty)
            for socket in holders { socket.close() }
            #expect(await waitUntilIdle(drop))
            try await drop.expectNothingStoredAndStillServing()
        }
    }

    @Test("class 11: a client that never reads its receipt: stored exactly once, connection reclaimed")
    func neverReads() async throws {
        try await withDrop(limits: testLimits { $0.writeTimeout = .seconds(1); $0.drainTimeout = .seconds(1) }) { drop in
            let port = drop.port
            let socket = try await blocking { () -> TestSocket in
                let socket = try TestSocket(port: port, receiveBuffer: 1024)
                try socket.send(request(body: content(25, size: 200_000)))
                return socket
            }
            // The daemon stores the upload, writes the receipt, and closes the connection although
            // the client neither reads nor closes.
            let deadline = Date().addingTimeInterval(10)
            while drop.spool.inboxFiles().isEmpty, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(drop.spool.inboxFiles().count == 1)
            #expect(await waitUntilIdle(drop, timeout: 10))
            let reply = socket.readReply()
            let id = try #require(receipt(reply), "\(reply)")
            #expect(drop.spool.inboxFiles() == ["\(id).sealdrop"])
            #expect(await drop.spool.waitForEmptyTemp())
            try await drop.expectServes()
        }
    }

    @Test("graceful shutdown: stop accepting, let uploads in progress finish, discard what misses the grace period")
    func gracefulShutdown() async throws {
        try await withDropInServiceGroup(limits: testLimits { $0.shutdownGracePeriod = .seconds(3) }) { drop, group in
            let port = drop.port
            let body = content(26, size: 300_000)
            let whole = request(body: body)
            // An upload that is half sent when the shutdown begins, and completes within the grace period.
            let finishing = try await blocking { () -> TestSocket in
                let socket = try TestSocket(port: port)
                try socket.send(Array(whole.prefix(100_000)))
                return socket
            }
            // An upload that stalls past the grace period.
            let stalled = try await blocking { () -> TestSocket in
                let socket = try TestSocket(port: port)
                try socket.send(Array("SEALDROP/1 PUT 500000\n\n".utf8) + content(27, size: 50_000))
                return socket
            }
            #expect(await eventually { drop.server.activeConnections == 2 })
            await group.triggerGracefulShutdown()
            // No new connections (once the listening socket is closed).
            #expect(try await eventually {
                try await blocking { () -> Bool in
                    do { _ = try TestSocket(port: port, timeout: 2) } catch let error as SocketError where error.code == ECONNREFUSED { return true }
                    return false
                }
            })
            let reply = try await blocking { () -> String in
                try finishing.send(Array(whole.dropFirst(100_000)))
                finishing.shutdownWrite()
                return finishing.readReply()
            }
            let id = try #require(receipt(reply), "\(reply)")
            #expect(try drop.recipient.open(drop.spool.submission(id)).content == body)
            let refused = try await blocking { stalled.readReply() }
            #expect(errorCode(refused) == "busy", "\(refused)")
            #expect(drop.spool.inboxFiles() == ["\(id).sealdrop"])
            #expect(await drop.spool.waitForEmptyTemp())
        }
    }
}
