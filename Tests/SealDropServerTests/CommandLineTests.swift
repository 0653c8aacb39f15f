import Foundation
import SealDropServer
import SealDropTestSupport
import Testing

/// The whole path with the real tools: a source uploads with `nc` (raw, or a file sealed with
/// `sealdrop`), the daemon stores it, the keyholder reads the inbox with `keyholder decrypt`.
@Suite("Command-line round trips")
struct CommandLineTests {
    @Test("nc upload and sealdrop-sealed upload both come back byte-identical through keyholder decrypt")
    func roundTrips() async throws {
        let work = try TemporaryDirectory("sealdropd-cli")
        let key = try TestKey.make(in: work)
        let daemonRecipient = key.publicKeyText
        let spool = try SpoolFolder()
        let daemon = try DaemonProcess(["--listen", "127.0.0.1:0", "--spool", spool.path, "--recipient", daemonRecipient, "--free-disk-reserve", "0"])
        let port = try await daemon.waitUntilListening()

        // 1. A raw upload, exactly as the shell line does it.
        let leak = content(70, size: 700_000)
        let leakPath = work.file("leak.pdf")
        try Data(leak).write(to: URL(fileURLWithPath: leakPath))
        let shell = try await blocking {
            try runProcess("/bin/sh", ["-c", "{ printf 'SEALDROP/1 PUT %d\\nName: leak.pdf\\nMessage: page 3\\n\\n' \"$(wc -c < \"$1\")\"; cat \"$1\"; } | nc -N 127.0.0.1 \"$2\"", "sh", leakPath, "\(port)"])
        }
        let rawID = try #require(receipt(shell.stdout), "\(shell.stdout) \(shell.stderr)")

        // 2. A file the source sealed on their own machine, uploaded with SEALED.
        let notes = content(71, size: 90_000)
        let notesPath = work.file("notes.txt")
        try Data(notes).write(to: URL(fileURLWithPath: notesPath))
        // Sealed files are kept apart: keyholder refuses to decrypt into a folder holding one.
        try FileManager.default.createDirectory(atPath: work.file("sealed"), withIntermediateDirectories: false)
        let sealedPath = work.file("sealed/notes.sealdrop")
        let seal = try runProcess(TestBinaries.path("sealdrop"), ["seal", "--recipient", key.publicKeyText, "--message", "from home", "--output", sealedPath, notesPath])
        #expect(seal.status == 0, "\(seal.stderr)")
        let sealedUpload = try await blocking {
            try runProcess("/bin/sh", ["-c", "{ printf 'SEALDROP/1 SEALED %d\\n\\n' \"$(wc -c < \"$1\")\"; cat \"$1\"; } | nc -N 127.0.0.1 \"$2\"", "sh", sealedPath, "\(port)"])
        }
        let sealedID = try #require(receipt(sealedUpload.stdout), "\(sealedUpload.stdout)")
        let stored = try Data(contentsOf: URL(fileURLWithPath: spool.submission(sealedID)))
        #expect(stored == (try Data(contentsOf: URL(fileURLWithPath: sealedPath))), "SEALED is stored as sent")

        // The keyholder reads the inbox folder (a copy of it, in real life).
        let out = work.file("opened")
        let decrypt = try runProcess(TestBinaries.path("keyholder"), ["decrypt", "--key", key.keyPath, "--passphrase-file", key.passphrasePath, "--out", out, spool.inbox])
        #expect(decrypt.status == 0, "\(decrypt.stdout) \(decrypt.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/leak.pdf")) == Data(leak))
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/notes.txt")) == Data(notes))

        // `keyholder list` on the spool root tells whose clock each time is.
        let list = try runProcess(TestBinaries.path("keyholder"), ["list", "--json", "--key", key.keyPath, "--passphrase-file", key.passphrasePath, spool.path])
        #expect(list.status == 0, "\(list.stderr)")
        let rows = list.stdout.split(separator: "\n")
        #expect(rows.count == 2)
        #expect(rows.contains { $0.contains(rawID) && $0.contains("server") })
        #expect(rows.contains { $0.contains(sealedID) && $0.contains("source") })

        // A zero-byte upload, read back by the keyholder as an empty file (class 5, keyholder side).
        let empty = try await blocking {
            try runProcess("/usr/bin/nc", ["-N", "127.0.0.1", "\(port)"], stdin: Data("SEALDROP/1 PUT 0\nName: empty.txt\nMessage: only this\n\n".utf8))
        }
        let emptyID = try #require(receipt(empty.stdout), "\(empty.stdout)")
        let emptyOut = work.file("empty-out")
        let decryptEmpty = try runProcess(TestBinaries.path("keyholder"), ["decrypt", "--key", key.keyPath, "--passphrase-file", key.passphrasePath, "--out", emptyOut, spool.submission(emptyID)])
        #expect(decryptEmpty.status == 0, "\(decryptEmpty.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: emptyOut + "/empty.txt")).isEmpty)

        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }
}
