import Foundation
import SealDropServer
import SealDropTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Memory and file descriptors of the real binary: BAD-INPUTS classes 2 and 10 (the parts only
/// a separate process can show), and flat memory whatever the upload size.
@Suite("Resources")
struct ResourceTests {
    @Test("class 2: absurd lengths cost no memory: the daemon's peak RSS does not move",
          .enabled(if: Machine.measuresRealMemory, "under a sanitizer the resident memory is its allocator's and shadow memory, not the daemon's"))
    func absurdLengthsMemory() async throws {
        let drop = try await RealDrop.start()
        #expect(receipt(try await drop.put(content(60, size: 200_000))) != nil)
        let before = try #require(drop.daemon.peakResidentKiB)
        for length in ["18446744073709551615", "9999999999999999999", String(repeating: "9", count: 40), "-1", "+1"] {
            for _ in 0..<20 {
                _ = try await exchange(port: drop.port, Array("SEALDROP/1 PUT \(length)\n\n".utf8))
            }
        }
        // A large declared length within the limit, then a close: nothing is allocated for it either.
        let port = drop.port
        try await blocking {
            for _ in 0..<20 {
                let socket = try TestSocket(port: port)
                try socket.send("SEALDROP/1 PUT 8000000000\n\nabc")
                socket.close()
            }
        }
        // The refused connections are gone once the temporary area is empty again.
        #expect(await drop.spool.waitForEmptyTemp())
        let after = try #require(drop.daemon.peakResidentKiB)
        #expect(after - before < 4096, "peak RSS grew from \(before) to \(after) KiB")
        #expect(drop.spool.inboxFiles().count == 1)
        await drop.stop()
    }

    @Test("memory stays flat whatever the upload size: a 96 MiB upload raises the peak RSS by little",
          .enabled(if: Machine.measuresRealMemory, "under a sanitizer the resident memory is its allocator's and shadow memory, not the daemon's"))
    func flatMemory() async throws {
        let drop = try await RealDrop.start()
        #expect(receipt(try await drop.put(content(61, size: 1 << 20))) != nil)
        let before = try #require(drop.daemon.peakResidentKiB)
        let port = drop.port
        let size = 96 << 20
        let reply = try await blocking { () -> String in
            let socket = try TestSocket(port: port, timeout: 120)
            try socket.send("SEALDROP/1 PUT \(size)\n\n")
            let chunk = [UInt8](repeating: 0x5A, count: 1 << 20)
            for _ in 0..<(size >> 20) { try socket.send(chunk) }
            socket.shutdownWrite()
            return socket.readReply()
        }
        #expect(receipt(reply) != nil, "\(reply)")
        let after = try #require(drop.daemon.peakResidentKiB)
        #expect(after - before < 16 * 1024, "peak RSS grew from \(before) to \(after) KiB during a 96 MiB upload")
        await drop.stop()
    }

    @Test("a body trickled in 1-byte segments pins no receive buffers (SEALED and PUT)",
          .enabled(if: Machine.measuresRealMemory, "under a sanitizer the resident memory is its allocator's and shadow memory, not the daemon's"))
    func trickle() async throws {
        let drop = try await RealDrop.start()
        #expect(receipt(try await drop.put(content(62, size: 100_000))) != nil)
        let before = try #require(drop.daemon.peakResidentKiB)
        let envelope = try sealLocally(content(63, size: 60_000), to: [drop.recipient.publicKey])
        let port = drop.port
        for verb in ["SEALED", "PUT"] {
            let bytes = request(verb, body: verb == "PUT" ? content(64, size: 60_000) : envelope)
            let reply = try await blocking { () -> String in
                let socket = try TestSocket(port: port, timeout: 60)
                for byte in bytes { try socket.send([byte]) }
                socket.shutdownWrite()
                return socket.readReply()
            }
            #expect(receipt(reply) != nil, "\(verb): \(reply)")
        }
        let after = try #require(drop.daemon.peakResidentKiB)
        #expect(after - before < 8 * 1024, "peak RSS grew from \(before) to \(after) KiB")
        await drop.stop()
    }

    @Test("class 10: out of file descriptors, the accept loop backs off instead of spinning, and recovers")
    func descriptorsExhausted() async throws {
        let drop = try await RealDrop.start(wrapper: ["/bin/sh", "-c", "ulimit -n 48 && exec \"$0\" \"$@\""])
        let port = drop.port
        let sockets = try await blocking { () -> [TestSocket] in
            try (0..<80).map { _ in
                let socket = try TestSocket(port: port, timeout: 5)
                try socket.send("SEALDROP/1 PUT 10\n")
                return socket
            }
        }
        try await Task.sleep(for: .milliseconds(500))
        let cpuBefore = try #require(drop.daemon.cpuSeconds)
        try await Task.sleep(for: .seconds(2))
        let cpuAfter = try #require(drop.daemon.cpuSeconds)
        #expect(cpuAfter - cpuBefore < 0.5, "the daemon used \(cpuAfter - cpuBefore) s of CPU in 2 s while out of descriptors")
        for socket in sockets { socket.close() }
        // Recovers: the next upload is served (after the backlog drains and the 1 s back-off).
        var stored: String?
        let deadline = Date().addingTimeInterval(20)
        while stored == nil, Date() < deadline {
            stored = receipt((try? await drop.put(Array("after the flood".utf8))) ?? "")
            if stored == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(stored != nil)
        #expect(drop.spool.inboxFiles().count == 1)
        #expect(await drop.stop() == 0)
    }
}
