import Foundation
import SealDropTestSupport
import Testing

/// A real `sealdropd` with its upload page on (`--web-listen 127.0.0.1:0`).
struct WebDrop: Sendable {
    let drop: RealDrop
    /// The upload page's port.
    let webPort: Int

    var spool: SpoolFolder { drop.spool }
    var url: String { "http://127.0.0.1:\(webPort)" }

    /// Starts the daemon with the page on and `extra` arguments; waits for `upload page on`.
    static func start(extra: [String] = []) async throws -> WebDrop {
        let drop = try await RealDrop.start(extra: ["--web-listen", "127.0.0.1:0"] + extra)
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let line = drop.daemon.stderr.split(separator: "\n").first(where: { $0.hasPrefix("upload page on http://") }),
               let port = line.split(separator: ":").last.flatMap({ Int($0.dropLast()) }) {
                return WebDrop(drop: drop, webPort: port)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSupportError.commandFailed("the upload page did not start: \(drop.daemon.stderr)")
    }

    /// Sends raw bytes to the page, half-closes, and returns the response's status code and
    /// the whole response as text (0 and "" if the connection was reset before any answer).
    func raw(_ bytes: [UInt8], halfClose: Bool = true) async throws -> (status: Int, text: String) {
        let text = try await exchange(port: webPort, bytes, halfClose: halfClose)
        return (Self.status(of: text), text)
    }

    /// The status code of a response's first line.
    static func status(of response: String) -> Int {
        guard response.hasPrefix("HTTP/1.1 ") else { return 0 }
        return Int(response.dropFirst(9).prefix(3)) ?? 0
    }

    /// `curl` with `arguments` against the page; returns the response (headers and body) and curl's status.
    func curl(_ arguments: [String]) throws -> (status: Int32, response: String) {
        let result = try runProcess("/usr/bin/curl", ["--silent", "--show-error", "--include", "--max-time", "60"] + arguments)
        // The interim `100 Continue` (curl asks for it before a body over 1 MiB) is not the answer.
        var response = result.stdout
        while response.hasPrefix("HTTP/1.1 100 "), let end = response.range(of: "\r\n\r\n") {
            response = String(response[end.upperBound...])
        }
        return (result.status, response + result.stderr)
    }

    /// Uploads `file` with an optional message through `curl -F`; returns the whole response.
    func upload(file: String, message: String? = nil, extra: [String] = []) throws -> String {
        var arguments = extra
        if let message { arguments += ["-F", "message=\(message)"] }
        arguments += ["-F", "file=@\(file)", "\(url)/upload"]
        return try curl(arguments).response
    }

    /// The receipt in a `303` response's `Location: /receipt/<id>`.
    static func receipt(in response: String) -> String? {
        guard status(of: response) == 303,
              let line = response.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("location: /receipt/") })
        else { return nil }
        return String(line.dropFirst("location: /receipt/".count))
    }

    /// A `multipart/form-data` body with boundary `XyZ`: each part its head lines and body.
    static func form(_ parts: [(head: [String], body: [UInt8])], close: Bool = true) -> [UInt8] {
        var bytes: [UInt8] = []
        for part in parts {
            bytes += Array("--XyZ\r\n".utf8)
            for line in part.head { bytes += Array("\(line)\r\n".utf8) }
            bytes += Array("\r\n".utf8) + part.body + Array("\r\n".utf8)
        }
        return close ? bytes + Array("--XyZ--\r\n".utf8) : bytes
    }

    /// A `POST /upload` of `body` with `Content-Type` and `Content-Length` (unless replaced by `headers`).
    static func post(_ body: [UInt8], contentType: String = "multipart/form-data; boundary=XyZ", headers: [String]? = nil) -> [UInt8] {
        let lines = ["POST /upload HTTP/1.1", "Host: drop", "Content-Type: \(contentType)"] + (headers ?? ["Content-Length: \(body.count)"])
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8) + body
    }

    static let messagePart = (head: ["Content-Disposition: form-data; name=\"message\""], body: Array("see page 3".utf8))
    static func filePart(_ content: [UInt8], name: String = "leak.bin") -> (head: [String], body: [UInt8]) {
        (["Content-Disposition: form-data; name=\"file\"; filename=\"\(name)\"", "Content-Type: application/octet-stream"], content)
    }

    /// Expects nothing stored (inbox as before, `tmp` empty) and the page still serving its form.
    func expectNothingStoredAndStillServing(inboxBefore: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #expect(spool.allInboxFiles() == inboxBefore, sourceLocation: sourceLocation)
        #expect(await spool.waitForEmptyTemp(), "tmp should be empty", sourceLocation: sourceLocation)
        let (status, text) = try await raw(Array("GET / HTTP/1.1\r\nHost: drop\r\n\r\n".utf8))
        #expect(status == 200 && text.contains("<form"), "the page should still serve its form", sourceLocation: sourceLocation)
    }
}
