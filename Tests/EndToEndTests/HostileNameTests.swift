import Foundation
import SealDropTestSupport
import Testing

/// A source names its upload `../../etc/passwd` in a `Name:` header sent with `nc`; the
/// keyholder's decrypt must put it inside the output folder and nowhere else.
@Suite("Hostile names from the wire")
struct HostileNameTests {
    @Test("Name: ../../etc/passwd over nc decrypts to out/passwd and nowhere else")
    func traversalNameOverNetcat() throws {
        let dir = try TemporaryDirectory()
        let key = try TestKey.make(in: dir)
        let spool = dir.file("spool")
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])

        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: TestBinaries.path("sealdropd"))
        daemon.arguments = ["--listen", "127.0.0.1:0", "--spool", spool, "--recipient", key.publicKeyText]
        let stderr = Pipe()
        daemon.standardError = stderr
        try daemon.run()
        defer { daemon.terminate(); daemon.waitUntilExit() }
        let port = try #require(Self.listeningPort(stderr.fileHandleForReading))

        let content = "root:x:0:0:not really\n"
        try Data(content.utf8).write(to: URL(fileURLWithPath: dir.file("upload")))
        let upload = try runProcess("/bin/sh", ["-c", """
            { printf 'SEALDROP/1 PUT %d\\nName: ../../etc/passwd\\n\\n' "$(wc -c < upload)"; cat upload; } | nc -N 127.0.0.1 \(port)
            """], currentDirectory: dir.path)
        #expect(upload.stdout.hasPrefix("OK "), "\(upload.stdout) \(upload.stderr)")

        // The output folder sits two levels down, so ../../etc/passwd would land inside dir.
        let out = dir.file("a/b/out")
        try FileManager.default.createDirectory(atPath: dir.file("a/b"), withIntermediateDirectories: true)
        let result = try runProcess(TestBinaries.path("keyholder"),
                                    ["decrypt", "--key", key.keyPath, "--passphrase-file", key.passphrasePath, "--out", out, spool])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == ["passwd", "passwd.about.txt"])
        #expect(try String(contentsOfFile: out + "/passwd", encoding: .utf8) == content)
        #expect(!FileManager.default.fileExists(atPath: dir.file("etc/passwd")))
        #expect(!FileManager.default.fileExists(atPath: dir.file("a/etc/passwd")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("a/b")) == ["out"])
    }

    /// Reads the daemon's standard error until its `listening on HOST:PORT` line.
    static func listeningPort(_ handle: FileHandle) -> Int? {
        var text = ""
        while !text.contains("\n") || !text.contains("listening on ") {
            let data = handle.availableData
            if data.isEmpty { return nil }
            text += String(decoding: data, as: UTF8.self)
        }
        let line = text.split(separator: "\n").first { $0.hasPrefix("listening on ") } ?? ""
        return line.split(separator: ":").last.flatMap { Int($0) }
    }
}
