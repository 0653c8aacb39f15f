import Foundation
import SealDropTestSupport
import Testing

/// The upload page in a real browser: Debian's headless Chromium with JavaScript off, driven by
/// Debian's python3-selenium (`Browser/upload_page.py`), against the real daemon.
@Suite("the upload page in a browser")
struct UploadPageBrowserTests {
    @Test("Chromium with JavaScript off uploads 50 MB with a message, shows the receipt (also after a reload), and shows the 413 page for an oversized file; the form fits a phone; every request stayed on the page's origin")
    func browserUpload() throws {
        let drop = try SendDrop(daemonArguments: ["--web-listen", "127.0.0.1:0", "--max-body-size", "64M"])
        // The page says where it listens just after the TCP listener does.
        var line: Substring?
        for _ in 0..<1000 where line == nil {
            line = drop.daemon.stderr.split(separator: "\n").first { $0.hasPrefix("upload page on ") }
            if line == nil { Thread.sleep(forTimeInterval: 0.02) }
        }
        let listening = try #require(line, "\(drop.daemon.stderr)")
        let url = String(listening.dropFirst("upload page on ".count))
        let content = try #require(FileHandle(forReadingAtPath: "/dev/urandom")?.readData(ofLength: 50_000_000))
        let file = drop.dir.file("board minutes.pdf"), oversized = drop.dir.file("archive.zip")
        try content.write(to: URL(fileURLWithPath: file))
        try Data(repeating: 7, count: 80_000_000).write(to: URL(fileURLWithPath: oversized))
        // SEALDROP_SCREENSHOTS=<folder> keeps the screenshots (the README's come from there).
        let screenshots = ProcessInfo.processInfo.environment["SEALDROP_SCREENSHOTS"] ?? drop.dir.file("screenshots")
        try FileManager.default.createDirectory(atPath: screenshots, withIntermediateDirectories: true)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Browser/upload_page.py").path
        let run = try runProcess("/usr/bin/python3", [script, url, file, "The numbers on page 3 were invented.", oversized, screenshots])
        #expect(run.status == 0, "\(run.stderr)")
        let seen = try #require(try JSONSerialization.jsonObject(with: run.stdoutData) as? [String: Any], "\(run.stdout) \(run.stderr)")

        #expect(seen["javascript_control"] as? String == "static", "the browser ran JavaScript")
        #expect(seen["phone_fits"] as? Bool == true, "the form is wider than a phone's screen")
        let receipt = try #require(seen["receipt"] as? String)
        #expect(seen["receipt_url_path"] as? String == "/receipt/\(receipt)")
        #expect(seen["receipt_heading"] as? String == "Your file is stored")
        #expect(seen["receipt_after_reload"] as? String == receipt)
        #expect(seen["too_large_heading"] as? String == "The file is too large")
        #expect((seen["too_large_text"] as? String)?.contains("Nothing was stored.") == true)
        // One submission: the reload sent nothing again, and the oversized file left nothing.
        #expect(drop.stored().sorted() == ["\(receipt).record", "\(receipt).sealdrop"])

        let opened = try drop.open(receipt, expecting: "board minutes.pdf")
        #expect(opened.content == content)
        #expect(opened.about.contains("> The numbers on page 3 were invented."))
        #expect(opened.about.contains("through WEB"))

        let requests = try #require(seen["requests"] as? [[String: String]])
        let origin = url.hasSuffix("/") ? String(url.dropLast()) : url
        #expect(requests.contains { $0["method"] == "POST" && $0["url"] == "\(origin)/upload" })
        for request in requests {
            let target = request["url"] ?? ""
            #expect(target == origin || target.hasPrefix("\(origin)/"), "a request left the page's origin: \(target)")
        }
        for name in ["upload-form.png", "upload-form-phone.png", "upload-receipt.png"] {
            #expect(FileManager.default.fileExists(atPath: "\(screenshots)/\(name)"))
        }
    }
}
