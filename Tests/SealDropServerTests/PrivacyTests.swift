import Foundation
import InMemoryLogging
import Logging
import SealDropServer
import SealDropTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The daemon never records where a source connects from (nor names, messages or content):
/// every path is exercised from 127.0.0.2 and the logs are searched for it.
@Suite("Privacy")
struct PrivacyTests {
    /// Exercises success and every kind of failure from 127.0.0.2.
    static func exercise(port: Int, recipient: Recipient, secrets: [String]) async throws {
        let source = "127.0.0.2"
        let headers = ["Name: \(secrets[0])", "Message: \(secrets[1])"]
        let body = Array(secrets[2].utf8)
        #expect(receipt(try await exchange(port: port, request(body: body, headers: headers), source: source)) != nil)
        #expect(errorCode(try await exchange(port: port, Array("GET / HTTP/1.0\r\n\r\n".utf8), source: source)) == "bad-request")
        #expect(errorCode(try await exchange(port: port, Array("SEALDROP/1 PUT 10\n\nabc".utf8), source: source)) == "truncated")
        #expect(errorCode(try await exchange(port: port, request(body: body, headers: headers) + [1], source: source)) == "trailing-data")
        #expect(errorCode(try await exchange(port: port, request("SEALED", body: body, headers: headers), source: source)) == "bad-envelope")
        #expect(try await exchange(port: port, Array("SEALDROP/1 KEYS\n\n".utf8), source: source).hasPrefix("OK "))
        try await blocking {
            let socket = try TestSocket(port: port, source: source)
            try socket.send(Array(request(body: Array(repeating: 1, count: 300_000), headers: headers).prefix(100_000)))
            usleep(100_000)
            socket.reset()
        }
    }

    @Test("in process: no log entry, at any level, holds the client's address, name, message or content")
    func inProcessLogs() async throws {
        let secrets = ["secret-name-\(UUID()).pdf", "secret-message-\(UUID())", "secret-content-\(UUID())"]
        try await withDrop { drop in
            try await Self.exercise(port: drop.port, recipient: drop.recipient, secrets: secrets)
            // Every connection has ended (and logged what it logs).
            #expect(await eventually { drop.server.activeConnections == 0 })
            let entries = drop.logs.entries
            #expect(entries.count > 5, "the log capture saw too little to mean anything")
            for entry in entries {
                let text = "\(entry.message) \(entry.metadata)"
                for needle in ["127.0.0.2"] + secrets {
                    #expect(!text.contains(needle), "log entry \(text) contains \(needle)")
                }
            }
        }
    }

    @Test("the real binary at log level trace, connected to from 127.0.0.2: the address never appears")
    func binaryLogs() async throws {
        let secrets = ["secret-name-\(UUID()).pdf", "secret-message-\(UUID())", "secret-content-\(UUID())"]
        let drop = try await RealDrop.start(extra: ["--log-level", "trace", "--header-timeout", "1s", "--max-connections", "3"])
        try await Self.exercise(port: drop.port, recipient: drop.recipient, secrets: secrets)
        // A header timeout and a busy refusal too.
        try await Task.sleep(for: .milliseconds(500))
        let port = drop.port
        let reply = try await blocking { () -> String in
            let holders = try (0..<3).map { _ in try TestSocket(port: port, source: "127.0.0.2") }
            for holder in holders { try holder.send("SEALDROP/1 PUT") }
            usleep(200_000)
            let busy = try TestSocket(port: port, source: "127.0.0.2")
            let refused = busy.readReply()
            for holder in holders { #expect(errorCode(holder.readReply()) == "header-timeout") }
            return refused
        }
        #expect(errorCode(reply) == "busy")
        #expect(await drop.stop() == 0)
        let log = drop.daemon.stderr
        #expect(log.contains("debug") || log.contains("trace"))
        for needle in ["127.0.0.2"] + secrets {
            #expect(!log.contains(needle), "the log contains \(needle)")
            #expect(try filesContaining(needle, under: drop.spool.path).isEmpty, "the spool contains \(needle)")
        }
    }
}
