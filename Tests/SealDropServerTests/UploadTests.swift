import Foundation
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropServer
import SealDropTestSupport
import Testing

/// The normal paths: PUT, SEALED, KEYS, from a plain socket and from `nc`.
@Suite("Uploads")
struct UploadTests {
    @Test("PUT stores a sealed submission that decrypts to the bytes sent, with its metadata")
    func put() async throws {
        try await withDrop { drop in
            let body = content(1, size: 200_000)
            let reply = try await drop.put(body, headers: ["Name: report.pdf", "message: page 3", "TYPE: application/pdf", "X-Unknown: ignored"])
            let id = try #require(receipt(reply), "\(reply)")
            #expect(drop.spool.inboxFiles() == ["\(id).sealdrop"])
            #expect(drop.spool.tempFiles().isEmpty)
            let opened = try drop.recipient.open(drop.spool.submission(id))
            #expect(opened.content == body)
            #expect(opened.metadata.name == "report.pdf")
            #expect(opened.metadata.message == "page 3")
            #expect(opened.metadata.mediaType == "application/pdf")
            #expect(opened.metadata.size == UInt64(body.count))
            #expect(opened.metadata.sealedBy == .server)
            #expect(abs(try #require(opened.metadata.time).timeIntervalSinceNow) < 120)
        }
    }

    @Test("the reply comes once the body is in, without waiting for the client to close")
    func replyWithoutHalfClose() async throws {
        try await withDrop { drop in
            let port = drop.port
            let reply = try await blocking {
                let socket = try TestSocket(port: port, timeout: 10)
                try socket.send(request(body: content(2, size: 1000)))
                return socket.readReply()
            }
            #expect(receipt(reply) != nil, "\(reply)")
        }
    }

    @Test("a plain upload through nc -N, as the issue's shell line does it")
    func netcat() async throws {
        try await withDrop { drop in
            let body = content(3, size: 300_000)
            let port = drop.port
            let result = try await blocking {
                try runProcess("/usr/bin/nc", ["-N", "127.0.0.1", "\(port)"], stdin: Data(request(body: body)))
            }
            #expect(result.status == 0, "\(result.stderr)")
            let id = try #require(receipt(result.stdout), "\(result.stdout)")
            #expect(try drop.recipient.open(drop.spool.submission(id)).content == body)
        }
    }

    @Test("KEYS returns OK <n> and the recipients document")
    func keys() async throws {
        try await withDrop { drop in
            let reply = try await exchange(port: drop.port, Array("SEALDROP/1 KEYS\r\n\r\n".utf8))
            let newline = try #require(reply.firstIndex(of: "\n"))
            let first = reply[..<newline]
            let document = String(reply[reply.index(after: newline)...])
            #expect(first == "OK \(document.utf8.count)")
            #expect(try Recipients.parse(document) == [drop.recipient.publicKey])
            #expect(document.contains("# key ID \(drop.recipient.publicKey.keyID)"))
        }
    }

    @Test("SEALED stores a source-sealed envelope byte for byte")
    func sealed() async throws {
        try await withDrop { drop in
            let envelope = try sealLocally(content(4, size: 100_000), to: [drop.recipient.publicKey], name: "own.txt")
            let reply = try await exchange(port: drop.port, request("SEALED", body: envelope))
            let id = try #require(receipt(reply), "\(reply)")
            let stored = try [UInt8](Data(contentsOf: URL(fileURLWithPath: drop.spool.submission(id))))
            #expect(stored == envelope)
            let opened = try drop.recipient.open(drop.spool.submission(id))
            #expect(opened.content == content(4, size: 100_000))
            #expect(opened.metadata.sealedBy == .source)
        }
    }

    @Test("large uploads store exactly what was sent: more at once than there are fast lanes, PUT and SEALED, each past the size that earns a lane")
    func largeUploads() async throws {
        try await withDrop { drop in
            // Over 4 MiB each (where an upload asks for a fast lane), and six at once for the
            // four lanes, so some go through a lane and some do not.
            let size = 6 << 20
            let bodies = (0..<5).map { content(30 + $0, size: size + $0 * 12_345) }
            let envelope = try sealLocally(content(40, size: size), to: [drop.recipient.publicKey])
            let port = drop.port
            try await withThrowingTaskGroup(of: (index: Int, reply: String).self) { group in
                for (index, body) in bodies.enumerated() {
                    group.addTask { (index, try await exchange(port: port, request(body: body))) }
                }
                group.addTask { (-1, try await exchange(port: port, request("SEALED", body: envelope))) }
                for try await (index, reply) in group {
                    let id = try #require(receipt(reply), "\(reply)")
                    if index < 0 {
                        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: drop.spool.submission(id)))) == envelope)
                    } else {
                        #expect(try drop.recipient.open(drop.spool.submission(id)).content == bodies[index], "upload \(index)")
                    }
                }
            }
            #expect(drop.spool.inboxFiles().count == 6)
            #expect(drop.spool.tempFiles().isEmpty)
        }
    }
}

/// Seals `content` the way `sealdrop seal` does on a source's machine.
func sealLocally(_ content: [UInt8], to keys: [PublicKey], name: String? = nil, time: Date = Date()) throws -> [UInt8] {
    let writer = try EnvelopeWriter(recipients: keys, metadata: Metadata(name: name, size: UInt64(content.count), time: time, sealedBy: .source))
    var out = writer.prefix
    content.withUnsafeBytes { bytes in writer.append(bytes) { out += $0 } }
    try writer.finish { out += $0 }
    return out
}
