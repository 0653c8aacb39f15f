import Foundation
import SealDropFormat
import SealDropTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The upload page (`--web-listen`) on a real daemon: uploads with `curl -F`, every refusal with
/// its status and page, the headers, the limits shared with the TCP listener, and what is logged.
@Suite("the upload page")
struct WebPageTests {
    static let expectedPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    /// The header fields of a response, names in lowercase (a repeated name keeps its last value).
    static func headers(_ response: String) -> [String: String] {
        let head = response.components(separatedBy: "\r\n\r\n")[0].split(separator: "\r\n").dropFirst()
        var fields: [String: String] = [:]
        for line in head {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    static func expectSafeHeaders(_ response: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let fields = headers(response)
        #expect(fields["content-security-policy"] == expectedPolicy, sourceLocation: sourceLocation)
        #expect(fields["referrer-policy"] == "no-referrer", sourceLocation: sourceLocation)
        #expect(fields["cache-control"] == "no-store", sourceLocation: sourceLocation)
        #expect(fields["x-content-type-options"] == "nosniff", sourceLocation: sourceLocation)
        #expect(fields["permissions-policy"] == "", sourceLocation: sourceLocation)
        #expect(fields["date"] == nil && fields["server"] == nil, "no Date, no Server: \(fields)", sourceLocation: sourceLocation)
        #expect(fields["set-cookie"] == nil, sourceLocation: sourceLocation)
    }

    @Test("a form upload with a message is sealed on arrival, durable, and answered with a redirect to its receipt page; reloading that page sends nothing")
    func upload() async throws {
        let web = try await WebDrop.start()
        defer { Task { await web.drop.stop() } }
        let folder = try TemporaryDirectory("web-upload")
        let content = (0..<3_000_000).map { _ in UInt8.random(in: 0...255) }
        let file = folder.file("minutes of the board.pdf")
        try Data(content).write(to: URL(fileURLWithPath: file))

        let response = try web.upload(file: file, message: "page 3: the invented numbers\nsecond line")
        Self.expectSafeHeaders(response)
        let receipt = try #require(WebDrop.receipt(in: response), "\(response)")
        // Durable before the answer: the submission and its provenance record are in the inbox now.
        #expect(web.spool.allInboxFiles() == ["\(receipt).record", "\(receipt).sealdrop"])
        let opened = try web.drop.recipient.open(web.spool.submission(receipt))
        #expect(opened.content == content)
        #expect(opened.metadata.name == "minutes of the board.pdf")
        #expect(opened.metadata.message == "page 3: the invented numbers\nsecond line")
        #expect(opened.metadata.sealedBy == .server)

        // The receipt page, twice (a reload): the receipt shown, nothing uploaded again.
        for _ in 0..<2 {
            let page = try web.curl(["\(web.url)/receipt/\(receipt)"]).response
            #expect(WebDrop.status(of: page) == 200)
            #expect(page.contains(">\(receipt)</p>") && page.contains("Reloading this page does not send the file again"))
            Self.expectSafeHeaders(page)
        }
        #expect(web.spool.inboxFiles() == ["\(receipt).sealdrop"])
        #expect(WebDrop.status(of: try web.curl(["\(web.url)/receipt/not-a-receipt"]).response) == 404)
    }

    @Test("the form, its style sheet and /keys: no scripts, no external resources, the protocol's KEYS document")
    func pages() async throws {
        let web = try await WebDrop.start()
        defer { Task { await web.drop.stop() } }
        let form = try web.curl(["\(web.url)/"]).response
        #expect(WebDrop.status(of: form) == 200)
        Self.expectSafeHeaders(form)
        let html = form.components(separatedBy: "\r\n\r\n").dropFirst().joined()
        #expect(html.contains("enctype=\"multipart/form-data\""))
        // The message field comes before the file field, so browsers send it first.
        let message = try #require(html.range(of: "name=\"message\""))
        let file = try #require(html.range(of: "name=\"file\""))
        #expect(message.lowerBound < file.lowerBound)
        #expect(!html.lowercased().contains("<script") && !html.contains("http://") && !html.contains("https://"))
        #expect(html.contains("8 GiB") && html.contains("sealdrop send") && html.contains("Metadata Cleaner"))
        let style = try web.curl(["\(web.url)/style.css"]).response
        #expect(Self.headers(style)["content-type"] == "text/css; charset=utf-8")
        #expect(!style.contains("url("), "no fonts or images from anywhere")

        let keys = try web.curl(["\(web.url)/keys"]).response
        let document = keys.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        #expect(Array(document.utf8) == (try await fetchKeysDocument(port: web.drop.port)))
        #expect(WebDrop.status(of: try web.curl(["\(web.url)/admin"]).response) == 404)
        #expect(WebDrop.status(of: try web.curl(["-X", "DELETE", "\(web.url)/"]).response) == 405)
    }

    @Test("hostile HTTP and multipart inputs are each refused with their status and page; nothing is stored; the page keeps serving")
    func hostileInputs() async throws {
        let web = try await WebDrop.start(extra: ["--max-header-line", "2048", "--max-header-lines", "16"])
        defer { Task { await web.drop.stop() } }
        let file = WebDrop.filePart(Array(repeating: 7, count: 5000))
        let message = WebDrop.messagePart
        let good = WebDrop.form([message, file])
        let chunk = { (bytes: [UInt8]) in Array("\(String(bytes.count, radix: 16))\r\n".utf8) + bytes + Array("\r\n".utf8) }
        let cases: [(String, [UInt8], Int)] = [
            ("Content-Length and Transfer-Encoding", WebDrop.post(good, headers: ["Content-Length: \(good.count)", "Transfer-Encoding: chunked"]), 400),
            ("two Content-Lengths", WebDrop.post(good, headers: ["Content-Length: \(good.count)", "Content-Length: \(good.count + 1)"]), 400),
            ("a bad chunk size", WebDrop.post(Array("zz\r\n".utf8) + good, headers: ["Transfer-Encoding: chunked"]), 400),
            ("a chunk longer than it says", WebDrop.post(Array("5\r\n".utf8) + good, headers: ["Transfer-Encoding: chunked"]), 400),
            ("no boundary", WebDrop.post(good, contentType: "multipart/form-data"), 400),
            ("a repeated boundary", WebDrop.post(good, contentType: "multipart/form-data; boundary=XyZ; boundary=XyZ"), 400),
            ("not a form", WebDrop.post(good, contentType: "application/x-www-form-urlencoded"), 400),
            ("a body without the boundary", WebDrop.post(Array(repeating: 65, count: 4000)), 400),
            ("no close delimiter", WebDrop.post(WebDrop.form([message, file], close: false)), 400),
            ("a part head over the limit", WebDrop.post(WebDrop.form([(["Content-Disposition: form-data; name=\"file\"; filename=\"\(String(repeating: "a", count: 3000))\""], [1])])), 400),
            ("too many part head lines", WebDrop.post(WebDrop.form([(file.head + (0..<20).map { "X-\($0): y" }, [1])])), 400),
            ("a nested multipart", WebDrop.post(WebDrop.form([(["Content-Disposition: form-data; name=\"file\"; filename=\"a\"", "Content-Type: multipart/mixed; boundary=q"], Array("--q--".utf8))])), 400),
            ("a second file part", WebDrop.post(WebDrop.form([message, file, file])), 400),
            ("the message after the file", WebDrop.post(WebDrop.form([file, message])), 400),
            ("no file part", WebDrop.post(WebDrop.form([message])), 400),
            ("no file chosen", WebDrop.post(WebDrop.form([message, WebDrop.filePart([], name: "")])), 400),
            ("an unknown field", WebDrop.post(WebDrop.form([(["Content-Disposition: form-data; name=\"email\""], Array("me@example.org".utf8)), file])), 400),
            ("a message too long", WebDrop.post(WebDrop.form([(message.head, Array(repeating: 65, count: 40_000)), file])), 413),
            ("a request head line over the limit", Array("GET /?\(String(repeating: "a", count: 5000)) HTTP/1.1\r\nHost: drop\r\n\r\n".utf8), 400),
            ("too many request header lines", Array(("GET / HTTP/1.1\r\n" + (0..<40).map { "X-\($0): y\r\n" }.joined() + "\r\n").utf8), 400),
            ("not HTTP", Array("SEALDROP/1 PUT 5\n\nhello".utf8), 400),
            ("a chunked body cut short", WebDrop.post(chunk(Array(good.prefix(3000))), headers: ["Transfer-Encoding: chunked"]), 400),
        ]
        for (name, bytes, expected) in cases {
            let before = web.spool.allInboxFiles()
            let (status, text) = try await web.raw(bytes)
            #expect(status == expected, "\(name): \(text.prefix(300))")
            #expect(text.contains("<h1>") && text.contains("Back to the form"), "\(name): a page in plain words")
            Self.expectSafeHeaders(text)
            try await web.expectNothingStoredAndStillServing(inboxBefore: before)
        }
        // And a good one still goes through, chunked (as a client that does not know the length sends it).
        let chunked = WebDrop.post(chunk(Array(good.prefix(3000))) + chunk(Array(good.dropFirst(3000))) + Array("0\r\n\r\n".utf8),
                                   headers: ["Transfer-Encoding: chunked"])
        let (_, text) = try await web.raw(chunked)
        #expect(WebDrop.receipt(in: text) != nil, "\(text.prefix(300))")
    }

    @Test("too large: a declared length over the limit is answered 413 before the body is read, and the body is drained so the client reads the page; a chunked body that grows too large too")
    func tooLarge() async throws {
        let web = try await WebDrop.start(extra: ["--max-body-size", "1M", "--drain-limit", "8M"])
        defer { Task { await web.drop.stop() } }
        let folder = try TemporaryDirectory("web-large")
        let file = folder.file("big.bin")
        try Data(repeating: 1, count: 3 << 20).write(to: URL(fileURLWithPath: file))
        let response = try web.upload(file: file)
        #expect(WebDrop.status(of: response) == 413, "\(response.prefix(300))")
        #expect(response.contains("This drop accepts files up to 1 MiB"))
        try await web.expectNothingStoredAndStillServing(inboxBefore: [])

        // Chunked: no length to refuse up front; refused once the file passes the limit.
        var body = Array(WebDrop.form([WebDrop.filePart(Array(repeating: 2, count: 2 << 20))]))
        var chunked: [UInt8] = []
        while !body.isEmpty {
            let piece = body.prefix(60_000)
            chunked += Array("\(String(piece.count, radix: 16))\r\n".utf8) + piece + Array("\r\n".utf8)
            body.removeFirst(piece.count)
        }
        let (status, text) = try await web.raw(WebDrop.post(chunked + Array("0\r\n\r\n".utf8), headers: ["Transfer-Encoding: chunked"]))
        #expect(status == 413, "\(text.prefix(300))")
        try await web.expectNothingStoredAndStillServing(inboxBefore: [])
    }

    @Test("connections are counted with the TCP listener's: the page answers 503 while the TCP side holds the last slot, and the other way round")
    func busy() async throws {
        let web = try await WebDrop.start(extra: ["--max-connections", "1"])
        defer { Task { await web.drop.stop() } }
        // A TCP upload in progress holds the only slot (its temporary file shows it was admitted).
        let holder = try await holdTheSlot(port: web.drop.port, with: Array("SEALDROP/1 PUT 100\n\nabc".utf8), spool: web.spool)
        let get = Array("GET / HTTP/1.1\r\nHost: drop\r\n\r\n".utf8)
        let (status, text) = try await web.raw(get)
        #expect(status == 503 && text.contains("The drop is busy"), "\(text.prefix(200))")
        holder.close()
        // A web upload in progress holds it: the TCP listener answers busy.
        let form = WebDrop.post(WebDrop.form([WebDrop.filePart(Array(repeating: 1, count: 100))]), headers: ["Content-Length: 100000"])
        let webHolder = try await holdTheSlot(port: web.webPort, with: form, spool: web.spool)
        #expect(errorCode(try await web.drop.put([1, 2, 3])) == "busy")
        webHolder.close()
        #expect(await eventually { (try? await web.raw(get).status) == 200 })
    }

    /// A connection that sent `bytes` and was admitted: its upload's temporary file exists. (The
    /// connection before it may still hold the slot for a moment after it closed: then try again.)
    private func holdTheSlot(port: Int, with bytes: [UInt8], spool: SpoolFolder) async throws -> TestSocket {
        for _ in 0..<20 {
            #expect(await spool.waitForEmptyTemp())
            let socket = try TestSocket(port: port)
            try socket.send(bytes)
            if await eventually(timeout: 2, { spool.tempFiles().count == 1 }) { return socket }
            socket.close()
        }
        throw TestSupportError.commandFailed("no connection was admitted")
    }

    @Test("a full spool (quota) is answered 507, with nothing kept")
    func quota() async throws {
        let web = try await WebDrop.start(extra: ["--spool-quota", "600K"])
        defer { Task { await web.drop.stop() } }
        let (status, text) = try await web.raw(WebDrop.post(WebDrop.form([WebDrop.filePart(Array(repeating: 3, count: 1 << 20))])))
        #expect(status == 507 && text.contains("The drop has no room"), "\(text.prefix(300))")
        // The operator sees it at the default log level, as a count; the TCP refusal that follows
        // within the minute is counted for the next line, not logged again.
        let tcp = try await web.drop.put(Array(repeating: 4, count: 1 << 20))
        #expect(errorCode(tcp) == "quota", "\(tcp)")
        let lines = web.drop.daemon.stderr.split(separator: "\n").filter { $0.contains("uploads refused") }
        #expect(lines.count == 1 && lines[0].contains("warning") && lines[0].contains("the spool quota is used up")
                && lines[0].contains("uploads.refused=1"), "\(lines)")
        try await web.expectNothingStoredAndStillServing(inboxBefore: [])
    }

    @Test("too slow: a request head not finished within the head timeout, and a body that stalls, are answered 408")
    func slow() async throws {
        let web = try await WebDrop.start(extra: ["--header-timeout", "1s", "--idle-timeout", "1s"])
        defer { Task { await web.drop.stop() } }
        let started = Date()
        let (status, text) = try await web.raw(Array("GET / HTTP/1.1\r\nHost: dr".utf8), halfClose: false)
        #expect(status == 408 && text.contains("too slow"), "\(text.prefix(200))")
        #expect(Date().timeIntervalSince(started) < 5)
        let partial = Array(WebDrop.post(WebDrop.form([WebDrop.filePart(Array(repeating: 1, count: 10_000))])).prefix(600))
        let stalled = try await web.raw(partial, halfClose: false)
        #expect(stalled.status == 408, "\(stalled.text.prefix(200))")
        try await web.expectNothingStoredAndStillServing(inboxBefore: [])
    }

    @Test("below the minimum rate: a form trickling in (never idle for a whole second, but far below the rate) is answered 408, with nothing kept")
    func belowMinimumRate() async throws {
        let web = try await WebDrop.start(extra: ["--idle-timeout", "1s", "--minimum-rate", "10000"])
        defer { Task { await web.drop.stop() } }
        let request = WebDrop.post(WebDrop.form([WebDrop.filePart(Array(repeating: 1, count: 100_000))]))
        let port = web.webPort
        let started = Date()
        let answer = try await blocking { () -> String in
            let socket = try TestSocket(port: port)
            try socket.send(Array(request.prefix(400)))
            // 100 bytes every 200 ms: 500 bytes per second, a twentieth of the minimum.
            var offset = 400
            while offset < request.count, Date().timeIntervalSince(started) < 10 {
                do { try socket.send(Array(request[offset..<min(offset + 100, request.count)])) } catch { break }
                offset += 100
                Thread.sleep(forTimeInterval: 0.2)
            }
            return socket.readReply()
        }
        #expect(WebDrop.status(of: answer) == 408 && answer.contains("too slow"), "\(answer.prefix(200))")
        #expect(Date().timeIntervalSince(started) < 10)
        try await web.expectNothingStoredAndStillServing(inboxBefore: [])
    }

    @Test("nothing about the client is logged: no address, no User-Agent, no header value, no file name or message, even at trace level")
    func privacy() async throws {
        let web = try await WebDrop.start(extra: ["--log-level", "trace"])
        let folder = try TemporaryDirectory("web-privacy")
        let file = folder.file("named-after-the-source-5521.txt")
        try Data("the content".utf8).write(to: URL(fileURLWithPath: file))
        let response = try web.upload(file: file, message: "message-text-8830", extra: [
            "-A", "Agent-Secret-7731", "-H", "X-Forwarded-For: 203.0.113.77", "-H", "Cookie: session=cookie-9902",
            "-e", "http://referrer-4471.example/",
        ])
        #expect(WebDrop.receipt(in: response) != nil)
        _ = try await web.raw(Array("GET /?q=query-6613 HTTP/1.1\r\nHost: host-3390\r\nUser-Agent: Agent-Secret-7731\r\n\r\n".utf8))
        _ = try await web.raw(Array("BROKEN-2290 / HTTP/9\r\n\r\n".utf8))
        await web.drop.stop()
        let log = web.drop.daemon.stderr
        for secret in ["Agent-Secret-7731", "203.0.113.77", "cookie-9902", "referrer-4471", "named-after-the-source-5521", "message-text-8830",
                       "query-6613", "host-3390", "BROKEN-2290", "curl/"] {
            #expect(!log.contains(secret), "the log shows \(secret)")
        }
        // The only addresses in the log are the daemon's own listening sockets.
        let addresses = log.matches(of: /127\.0\.0\.1:(\d+)/).map { Int($0.output.1)! }
        #expect(Set(addresses).isSubset(of: [web.drop.port, web.webPort]), "\(addresses)")
    }

    @Test("a form upload reset or closed midway leaves nothing and its plaintext never touches the disk; one sent in pieces of a few bytes is stored whole")
    func cutOffAndPieces() async throws {
        let web = try await WebDrop.start()
        defer { Task { await web.drop.stop() } }
        let canary = "CANARY-\(UUID().uuidString)"
        let content = Array(canary.utf8) + Array(repeating: 0x41, count: 200_000) + Array(canary.utf8)
        let request = WebDrop.post(WebDrop.form([WebDrop.messagePart, WebDrop.filePart(content)]))
        let half = Array(request.prefix(request.count / 2))
        let port = web.webPort
        try await blocking {
            let socket = try TestSocket(port: port)
            try socket.send(half)
            Thread.sleep(forTimeInterval: 0.3)
            socket.reset()
        }
        #expect(await web.spool.waitForEmptyTemp())
        // Closed (FIN) midway: the body is cut short of its Content-Length.
        #expect(try await web.raw(half).status == 400)
        try await web.expectNothingStoredAndStillServing(inboxBefore: [])
        #expect(try filesContaining(canary, under: web.spool.path).isEmpty)

        let answer = try await blocking { () -> String in
            let socket = try TestSocket(port: port)
            var offset = 0
            while offset < request.count {
                let size = offset < 2000 ? Int.random(in: 1...7) : Int.random(in: 1...20_000)
                try socket.send(Array(request[offset..<min(offset + size, request.count)]))
                offset += size
            }
            socket.shutdownWrite()
            return socket.readReply()
        }
        let receipt = try #require(WebDrop.receipt(in: answer), "\(answer.prefix(300))")
        #expect(try web.drop.recipient.open(web.spool.submission(receipt)).content == content)
        #expect(try filesContaining(canary, under: web.spool.path).isEmpty, "the plaintext reached the disk")
    }

    @Test("SIGTERM: the page stops accepting, a form upload in progress finishes within the grace period and is stored, exit 0")
    func sigterm() async throws {
        let web = try await WebDrop.start()
        let content = (0..<400_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let request = WebDrop.post(WebDrop.form([WebDrop.filePart(content)]))
        let port = web.webPort
        let socket = try await blocking { () -> TestSocket in
            let socket = try TestSocket(port: port)
            try socket.send(Array(request.prefix(150_000)))
            return socket
        }
        #expect(await eventually { web.spool.tempFiles().count == 1 })
        kill(web.drop.daemonPID, SIGTERM)
        #expect(await web.drop.daemon.waitForOutput("waiting for uploads in progress"))
        #expect(await eventually { (try? TestSocket(port: port, timeout: 2)) == nil })
        let answer = try await blocking { () -> String in
            try socket.send(Array(request.dropFirst(150_000)))
            socket.shutdownWrite()
            return socket.readReply()
        }
        let receipt = try #require(WebDrop.receipt(in: answer), "\(answer.prefix(300))")
        #expect(await web.drop.daemon.waitForExit() == 0, "\(web.drop.daemon.stderr)")
        #expect(try web.drop.recipient.open(web.spool.submission(receipt)).content == content)
    }

    @Test("a port the page cannot listen on stops the daemon with an error and a hint")
    func portInUse() async throws {
        let web = try await WebDrop.start()
        defer { Task { await web.drop.stop() } }
        let spool = try SpoolFolder("web-port")
        let (status, stderr) = try await runDaemonExpectingExit([
            "--listen", "127.0.0.1:0", "--web-listen", "127.0.0.1:\(web.webPort)", "--spool", spool.path,
            "--recipient", web.drop.recipient.text,
        ])
        #expect(status == 1)
        #expect(stderr.contains("sealdropd: error: cannot listen for the upload page on 127.0.0.1:\(web.webPort): the port is already in use"), "\(stderr)")
        #expect(stderr.contains("sealdropd: hint: see what holds it with: ss -ltnp 'sport = :\(web.webPort)'; stop it, or give --web-listen another port"))
        #expect(!stderr.contains("errno"), "library internals: \(stderr)")
    }
}
