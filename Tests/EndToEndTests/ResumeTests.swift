import Foundation
import SealDropFormat
import SealDropTestSupport
import Testing

/// `sealdrop send` resuming a broken upload against the real daemon: connections cut by a
/// relay, the client killed and run again with `--state`, the daemon killed and restarted.
@Suite("sealdrop send resumes")
struct ResumeTests {
    static let size = 256 << 20
    /// What the heads of the extra requests of one resumption (`OFFSET`, `APPEND`) may take.
    static let headBytes: UInt64 = 512

    /// A drop and a 256 MiB file of random bytes to send to it.
    static func setUp(daemonArguments: [String] = []) throws -> (drop: SendDrop, file: String, sealed: UInt64) {
        let drop = try SendDrop(daemonArguments: daemonArguments)
        let file = drop.dir.file("leak.bin")
        let made = try runProcess("/bin/dd", ["if=/dev/urandom", "of=\(file)", "bs=1M", "count=\(size >> 20)", "status=none"])
        guard made.status == 0 else { throw TestSupportError.commandFailed("dd: \(made.stderr)") }
        return (drop, file, Layout.sealedByteCount(contentLength: UInt64(size), recipients: 1, metadataLength: 4096))
    }

    /// Decrypts the submission and compares it with the file, byte for byte.
    static func expectDelivered(_ drop: SendDrop, receipt: String, file: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let opened = try drop.open(receipt, expecting: "leak.bin")
        #expect(opened.content == (try Data(contentsOf: URL(fileURLWithPath: file))), "not byte-identical", sourceLocation: sourceLocation)
        // Nothing is left half: the upload's data moved to the inbox, and tmp is empty.
        #expect(drop.stored().sorted() == ["\(receipt).record", "\(receipt).sealdrop"], "\(drop.stored())", sourceLocation: sourceLocation)
    }

    @Test("256 MiB through a relay that cuts the connection at 5 random points: byte-identical, and no envelope byte sent twice")
    func cutFiveTimes() throws {
        let (drop, file, sealed) = try Self.setUp()
        let cuts = (0..<5).map { _ in UInt64.random(in: (1 << 20)...(sealed - (1 << 20))) }
        let relay = try CuttingRelay(to: drop.daemon.port, cuttingAt: cuts, in: drop.dir)
        let result = try sendCommand(["send", try drop.address(port: relay.port), file])
        #expect(result.status == 0, "\(result.stderr)")
        let counts = try relay.counts()
        #expect(counts.cuts == 5)
        #expect(result.stderr.components(separatedBy: "connection lost; resuming in").count - 1 == 5, "\(result.stderr)")
        #expect(result.stderr.components(separatedBy: "which the drop holds").count - 1 == 5, "\(result.stderr)")
        let bound = sealed + 5 * (UInt64(Layout.fullChunkByteCount) + Self.headBytes)
        print("resume figures: 5 cuts at \(cuts.sorted()); sealed \(sealed) B; forwarded to the drop \(counts.forwarded) B "
              + "(+\(Int64(counts.forwarded) - Int64(sealed)) B: request heads); bound \(bound) B; sent by the client \(counts.received) B "
              + "(+\(counts.received - counts.forwarded) B lost in flight at the cuts); \(counts.connections) connections")
        #expect(counts.forwarded <= bound)
        try Self.expectDelivered(drop, receipt: result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), file: file)
    }

    @Test("the client killed mid-upload and run again with --state: it resumes where the drop stopped; a changed file is refused, not spliced")
    func clientKilled() throws {
        let (drop, file, sealed) = try Self.setUp()
        let relay = try CuttingRelay(to: drop.daemon.port, bytesPerSecond: 64 << 20, in: drop.dir)
        let address = try drop.address(port: relay.port)
        let state = drop.dir.file("upload.state")
        let first = try BackgroundProgram(TestBinaries.path("sealdrop"), ["send", "--state", state, address, file],
                                          stderrTo: drop.dir.file("first.log"))
        #expect(relay.waitForForwarded(96 << 20))
        kill(first.pid, SIGKILL)
        #expect(first.waitForExit(timeout: 10) == 128 + SIGKILL)
        var info = stat()
        #expect(stat(state, &info) == 0 && info.st_mode & 0o777 == 0o600, "the state file is private")
        let text = try String(contentsOfFile: state, encoding: .utf8)
        #expect(text.contains("SEALDROP-SEND-STATE-1") && text.contains("\ntoken: ") && text.contains("\nstream-state: "))
        Thread.sleep(forTimeInterval: 0.5)
        let killedAt = try relay.counts().forwarded

        // The file changed since: refused, and the upload is left as it was.
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: file))
        try handle.seek(toOffset: 1000)
        let original = try #require(try handle.read(upToCount: 1))
        try handle.seek(toOffset: 1000)
        try handle.write(contentsOf: Data([original[0] ^ 1]))
        let changed = try sendCommand(["send", "--state", state, address, file])
        #expect(changed.status == 1)
        #expect(changed.stderr.contains("is not the file this upload began with"), "\(changed.stderr)")
        #expect(FileManager.default.fileExists(atPath: state))
        try handle.seek(toOffset: 1000)
        try handle.write(contentsOf: original)
        try handle.close()
        let beforeRerun = try relay.counts().forwarded

        let second = try sendCommand(["send", "--state", state, address, file])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("resuming the upload recorded in \(state)"), "\(second.stderr)")
        #expect(second.stderr.contains("which the drop holds"), "\(second.stderr)")
        #expect(second.stderr.contains("deleted the state file"), "\(second.stderr)")
        #expect(!FileManager.default.fileExists(atPath: state), "the state file is evidence once the upload is complete")
        let total = try relay.counts().forwarded - (beforeRerun - killedAt)
        let bound = sealed + UInt64(Layout.fullChunkByteCount) + 3 * Self.headBytes
        print("resume figures (client killed at \(killedAt) B): sealed \(sealed) B; forwarded \(total) B (+\(Int64(total) - Int64(sealed)) B); bound \(bound) B")
        #expect(total <= bound)
        try Self.expectDelivered(drop, receipt: second.stdout.trimmingCharacters(in: .whitespacesAndNewlines), file: file)
    }

    @Test("the daemon killed with SIGKILL mid-upload and restarted: the client resumes from its last recorded offset")
    func daemonKilled() throws {
        let (drop, file, sealed) = try Self.setUp()
        // The bound below holds while the daemon keeps up with the relay, so that little waits
        // in the kernel's socket buffers when it is killed: a daemon built with a sanitizer
        // runs several times slower, and is fed more slowly.
        let rate = activeSanitizer == nil ? 64 << 20 : 16 << 20
        let relay = try CuttingRelay(to: drop.daemon.port, bytesPerSecond: rate, in: drop.dir)
        let output = drop.dir.file("receipt"), log = drop.dir.file("client.log")
        let client = try BackgroundProgram(TestBinaries.path("sealdrop"), ["send", try drop.address(port: relay.port), file],
                                           stdoutTo: output, stderrTo: log)
        #expect(relay.waitForForwarded(100 << 20))
        try drop.killAndRestartDaemon()
        #expect(client.waitForExit(timeout: 120) == 0, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        let stderr = try String(contentsOfFile: log, encoding: .utf8)
        #expect(stderr.contains("resuming from"), "\(stderr)")
        let counts = try relay.counts()
        // Sent again: what came after the last durable offset. That is at most the sync interval
        // (8 MiB), plus what the daemon held unwritten when it was killed (in a fast lane, a 1 MiB
        // batch being filled and two being written), plus a chunk and the heads.
        let bound = sealed + (8 << 20) + 3 * UInt64(1 << 20) + UInt64(Layout.fullChunkByteCount) + 4 * Self.headBytes
        print("resume figures (daemon killed): sealed \(sealed) B; forwarded \(counts.forwarded) B (+\(Int64(counts.forwarded) - Int64(sealed)) B); bound \(bound) B")
        #expect(counts.forwarded <= bound)
        try Self.expectDelivered(drop, receipt: try String(contentsOfFile: output, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), file: file)
    }

    @Test("a drop that takes no resumable uploads answers CREATE with unknown-verb; send falls back to one connection, and --state says why")
    func resumableOff() throws {
        let drop = try SendDrop(daemonArguments: ["--max-partial-uploads", "0"])
        let file = drop.dir.file("leak.bin")
        let content = Data(testBytes(count: 300_000))
        try content.write(to: URL(fileURLWithPath: file))
        let created = try runProcess("/bin/sh", ["-c", "printf 'SEALDROP/1 CREATE 300000\\n\\n' | nc -N 127.0.0.1 \(drop.daemon.port)"])
        #expect(created.stdout.hasPrefix("ERR unknown-verb this drop takes no resumable uploads"), "\(created.stdout)")
        let sent = try sendCommand(["send", try drop.address(), file])
        #expect(sent.status == 0, "\(sent.stderr)")
        #expect(sent.stderr.contains("this drop takes no resumable uploads: sending each file in one connection"), "\(sent.stderr)")
        #expect(try drop.open(sent.stdout.trimmingCharacters(in: .whitespacesAndNewlines), expecting: "leak.bin").content == content)
        let withState = try sendCommand(["send", "--state", drop.dir.file("s.state"), try drop.address(), file])
        #expect(withState.status == 1)
        #expect(withState.stderr.contains("hint: send without --state"), "\(withState.stderr)")
    }

    @Test("an upload that expired on the drop starts over, and the source is told why; --state refuses what it cannot resume")
    func expiredAndRefused() throws {
        let drop = try SendDrop(daemonArguments: ["--partial-expiry", "2s"])
        let file = drop.dir.file("leak.bin")
        try Data(testBytes(count: 24 << 20)).write(to: URL(fileURLWithPath: file))
        let relay = try CuttingRelay(to: drop.daemon.port, bytesPerSecond: 8 << 20, in: drop.dir)
        let address = try drop.address(port: relay.port)
        let state = drop.dir.file("upload.state")
        let first = try BackgroundProgram(TestBinaries.path("sealdrop"), ["send", "--state", state, address, file])
        #expect(relay.waitForForwarded(4 << 20))
        kill(first.pid, SIGKILL)
        _ = first.waitForExit(timeout: 10)
        // Past its expiry, the daemon's sweep removes it.
        Thread.sleep(forTimeInterval: 4)
        let again = try sendCommand(["send", "--state", state, address, file])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("the drop no longer has the upload (it expired, or made no progress for too long): starting the upload over"),
                "\(again.stderr)")
        let opened = try drop.open(again.stdout.trimmingCharacters(in: .whitespacesAndNewlines), expecting: "leak.bin")
        #expect(opened.content == (try Data(contentsOf: URL(fileURLWithPath: file))))

        for (arguments, why) in [(["--scrub"], "--scrub makes a new cleaned copy each run"), ([], "standard input cannot be resumed in a later run"),
                                 (["--no-resume"], "--state resumes an upload")] {
            let files = why.hasPrefix("standard input") ? ["-"] : [file]
            let refused = try sendCommand(["send", "--state", state] + arguments + [address] + files)
            #expect(refused.status != 0 && refused.stderr.contains(why), "\(refused.stderr)")
        }
    }
}
