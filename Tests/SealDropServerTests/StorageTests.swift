import Foundation
import Logging
import SealDropFormat
import SealDropServer
import SealDropStore
import SealDropTestSupport
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// BAD-INPUTS classes 14, 15, 17, 19 and 20: the disk fills up, fsync or rename fail, many
/// uploads at once, planted links, and plaintext that must never reach the disk.
@Suite("Storage")
struct StorageTests {
    /// A tmpfs of `mebibytes` (mode 0700) to be a spool, with at most `inodes` inodes if given.
    /// Tests that call it are enabled only where ``Machine/canMountTmpfs``.
    static func mountSmallDisk(_ folder: TemporaryDirectory, mebibytes: Int = 4, inodes: Int? = nil) throws -> String {
        let mountPoint = folder.file("disk")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
        let options = "size=\(mebibytes)m,mode=0700" + (inodes.map { ",nr_inodes=\($0)" } ?? "")
        let result = try runProcess("/usr/bin/mount", ["-t", "tmpfs", "-o", options, "tmpfs", mountPoint])
        guard result.status == 0 else { throw TestSupportError.commandFailed("mount -t tmpfs failed: \(result.stderr)") }
        return mountPoint
    }

    /// A daemon (bound, not yet running) whose spool is on a small tmpfs of its own (see
    /// ``mountSmallDisk(_:mebibytes:inodes:)``), sealing to one new recipient.
    struct SmallDiskDrop {
        let disk: String
        let spool: String
        let recipient = Recipient()
        let server: UploadServer
        var port: Int { server.localAddress.port! }

        init(_ folder: TemporaryDirectory, mebibytes: Int, inodes: Int? = nil, limits: ServerLimits = testLimits()) async throws {
            disk = try StorageTests.mountSmallDisk(folder, mebibytes: mebibytes, inodes: inodes)
            spool = disk + "/spool"
            try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            let logger = Logger(label: "test")
            server = try await UploadServer.bind(
                host: "127.0.0.1", port: 0, spool: try Daemon.openSpool(spool, logger: logger),
                recipients: try RecipientStore(keyTexts: [recipient.text], filePath: nil), dropKey: .generate(), limits: limits, logger: logger
            )
        }

        func unmount() { _ = try? runProcess("/usr/bin/umount", ["-l", disk]) }
    }

    /// The sizes of a disk-full case: the disk, and an upload that fits when it starts. The
    /// second case's uploads are large enough to run in a fast lane when the disk fills.
    struct DiskFullCase: Sendable, CustomTestStringConvertible {
        let diskMiB: Int
        let bodyBytes: Int
        var testDescription: String { "\(diskMiB) MiB disk, \(bodyBytes) byte upload" }
    }

    @Test("class 14: disk full before and during an upload: ERR disk-full, nothing stored, service resumes when space frees",
          .enabled(if: Machine.canMountTmpfs, "mounting a small tmpfs needs root (the strace ENOSPC case still runs)"),
          arguments: [DiskFullCase(diskMiB: 4, bodyBytes: 2_500_000), DiskFullCase(diskMiB: 24, bodyBytes: 16 << 20)])
    func diskFull(sizes: DiskFullCase) async throws {
        let small = try await SmallDiskDrop(try TemporaryDirectory("sealdropd-disk-full"), mebibytes: sizes.diskMiB)
        defer { small.unmount() }
        let (disk, spool, recipient, server, port) = (small.disk, small.spool, small.recipient, small.server, small.port)
        let inbox = spool + "/inbox", temp = spool + "/tmp"
        @Sendable func entries(_ path: String) -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            // More than the disk holds: refused up front.
            let big = try await exchange(port: port, request(body: content(40, size: (sizes.diskMiB + 1) << 20)))
            #expect(errorCode(big) == "disk-full", "\(big)")
            // Fits when it starts; the disk fills up under it.
            let body = content(41, size: sizes.bodyBytes)
            let whole = request(body: body)
            let firstPart = sizes.bodyBytes * 2 / 5
            let reply = try await blocking { () -> String in
                let socket = try TestSocket(port: port)
                try socket.send(Array(whole.prefix(firstPart)))
                // Wait until the upload is under way on disk, then fill the disk under it.
                let deadline = Date().addingTimeInterval(10)
                while Date() < deadline {
                    let sizes = entries(temp).compactMap { try? FileManager.default.attributesOfItem(atPath: temp + "/" + $0)[.size] as? Int }
                    if sizes.contains(where: { $0 > firstPart / 2 }) { break }
                    usleep(20_000)
                }
                _ = try runProcess("/bin/dd", ["if=/dev/zero", "of=\(disk)/filler", "bs=64k"])
                _ = try? socket.send(Array(whole.dropFirst(firstPart)))
                socket.shutdownWrite()
                return socket.readReply()
            }
            #expect(errorCode(reply) == "disk-full", "\(reply)")
            #expect(entries(inbox).isEmpty)
            #expect(entries(temp).isEmpty)
            // Space frees: the next upload is stored.
            try FileManager.default.removeItem(atPath: disk + "/filler")
            let afterBytes = sizes.bodyBytes / 2
            let after = try await exchange(port: port, request(body: content(42, size: afterBytes)))
            let id = try #require(receipt(after), "\(after)")
            #expect(try recipient.open(inbox + "/\(id).sealdrop").content == content(42, size: afterBytes))
            group.cancelAll()
        }
    }

    @Test("inode exhaustion: a flood of PUT 0 on a small file system stops at the quota with inodes to spare; once the flood is exported, uploads are stored again",
          .enabled(if: Machine.canMountTmpfs, "mounting a small tmpfs needs root"))
    func inodeFlood() async throws {
        // An empty upload is charged its blocks and one for its inode, and as much again for its
        // provenance record: the quota holds 150 of them (300 files).
        let empty = Layout.sealedByteCount(contentLength: 0, recipients: 1, metadataLength: 4096)
        let perFile = (empty + 4095) / 4096 * 4096 + 4096
        // 600 inodes: before each submission cost an inode, about 600 empty uploads took them all.
        let small = try await SmallDiskDrop(try TemporaryDirectory("sealdropd-inodes"), mebibytes: 64, inodes: 600,
                                            limits: testLimits { $0.spoolQuotaBytes = 300 * perFile; $0.freeInodeReserve = 100 })
        defer { small.unmount() }
        let (disk, spool, recipient, server, port) = (small.disk, small.spool, small.recipient, small.server, small.port)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            var stored = 0
            var last = ""
            for _ in 0..<500 {
                last = try await exchange(port: port, Array("SEALDROP/1 PUT 0\n\n".utf8))
                guard receipt(last) != nil else { break }
                stored += 1
            }
            #expect(stored == 150, "\(stored) stored")
            #expect(errorCode(last) == "quota", "\(last)")
            var info = statvfs()
            #expect(statvfs(disk, &info) == 0)
            #expect(info.f_favail > 200, "\(info.f_favail) inodes left")
            // Other programs can still create files there.
            #expect(FileManager.default.createFile(atPath: disk + "/another-program", contents: Data("x".utf8)))
            // The daemon serves meanwhile: KEYS is answered at once.
            let keys = try await exchange(port: port, Array("SEALDROP/1 KEYS\n\n".utf8))
            #expect(keys.hasPrefix("OK ") && keys.contains(recipient.text), "\(keys)")
            // The operator exports the flood away: uploads are stored again, from the daemon's
            // next rescan (at most a second later).
            for name in try FileManager.default.contentsOfDirectory(atPath: spool + "/inbox") {
                try FileManager.default.removeItem(atPath: spool + "/inbox/" + name)
            }
            var after = ""
            #expect(try await eventually {
                after = try await exchange(port: port, request(body: content(46, size: 10_000)))
                return receipt(after) != nil
            })
            let id = try #require(receipt(after), "\(after)")
            #expect(try recipient.open(spool + "/inbox/\(id).sealdrop").content == content(46, size: 10_000))
            group.cancelAll()
        }
    }

    /// Starts the real daemon under strace with one fault injected; checks the first upload fails
    /// with `code`, leaves nothing behind, and the next one is stored.
    /// Tests that call it are enabled only where ``Machine/canInjectFaults``.
    func injected(_ injection: String, trace: String, code: String, size: Int = 300_000) async throws {
        try await runInjected(injection, trace: trace, code: code, size: size)
    }

    func runInjected(_ injection: String, trace: String, code: String, size: Int) async throws {
        // The drop key is made beforehand, so that the daemon's first fsync and rename are the
        // upload's.
        let spool = try SpoolFolder()
        let made = try runProcess(DaemonProcess.binary, ["drop-key", "--output", spool.path + "/drop.key"])
        #expect(made.status == 0, "\(made.stderr)")
        let drop = try await RealDrop.start(
            spool: spool,
            wrapper: ["/usr/bin/strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=\(trace)", "-e", "inject=\(injection)"],
            environment: singleIOThreadEnvironment()
        )
        let failed = try await drop.put(content(43, size: size))
        #expect(errorCode(failed) == code, "\(injection): \(failed)")
        #expect(drop.spool.inboxFiles().isEmpty, "\(injection)")
        #expect(drop.spool.recordFiles().isEmpty, "no record is left without its submission: \(injection)")
        #expect(await drop.spool.waitForEmptyTemp(), "\(injection)")
        let body = content(44, size: size)
        let stored = try await drop.put(body)
        let id = try #require(receipt(stored), "\(injection): \(stored)")
        #expect(try drop.recipient.open(drop.spool.submission(id)).content == body)
        #expect(drop.spool.inboxFiles() == ["\(id).sealdrop"])
        await drop.stop()
    }

    @Test("class 14: ENOSPC on a write (injected with strace): ERR disk-full, then service resumes", .enabled(if: Machine.canInjectFaults, "injecting faults needs strace and ptrace"))
    func writeENOSPC() async throws {
        try await injected("pwrite64:error=ENOSPC:when=2", trace: "pwrite64", code: "disk-full")
    }

    @Test("class 15: fsync of the file fails (EIO): ERR server-error, no retry that claims success", .enabled(if: Machine.canInjectFaults, "injecting faults needs strace and ptrace"))
    func fileFsyncEIO() async throws {
        try await injected("fsync:error=EIO:when=1", trace: "fsync", code: "server-error")
    }

    @Test("class 15: fsync of the provenance record fails (EIO): ERR server-error, neither file kept", .enabled(if: Machine.canInjectFaults, "injecting faults needs strace and ptrace"))
    func recordFsyncEIO() async throws {
        try await injected("fsync:error=EIO:when=2", trace: "fsync", code: "server-error")
    }

    @Test("class 15: fsync of the inbox folder fails (EIO): both renamed files are removed again, ERR server-error", .enabled(if: Machine.canInjectFaults, "injecting faults needs strace and ptrace"))
    func folderFsyncEIO() async throws {
        try await injected("fsync:error=EIO:when=3", trace: "fsync", code: "server-error")
    }

    @Test("class 15: rename into the inbox fails (EIO), the record's or the submission's: ERR server-error, temp files removed",
          .enabled(if: Machine.canInjectFaults, "injecting faults needs strace and ptrace"), arguments: [1, 2])
    func renameEIO(which: Int) async throws {
        try await injected("renameat2:error=EIO:when=\(which)", trace: "renameat2", code: "server-error")
    }

    @Test("class 17: 60 concurrent uploads: unique IDs, nothing interleaved, all decrypt")
    func concurrentUploads() async throws {
        try await withDrop { drop in
            let port = drop.port
            let results = try await withThrowingTaskGroup(of: (String, Int).self) { group in
                for index in 0..<60 {
                    group.addTask {
                        let body = content(1000 + index, size: [1, 5000, 65_532, 65_533, 140_000, 400_000][index % 6])
                        return (try await exchange(port: port, request(body: body, headers: ["Name: file-\(index)"])), index)
                    }
                }
                var results: [(String, Int)] = []
                for try await result in group { results.append(result) }
                return results
            }
            var seen = Set<String>()
            for (reply, index) in results {
                let id = try #require(receipt(reply), "upload \(index): \(reply)")
                #expect(seen.insert(id).inserted, "duplicate receipt \(id)")
                let opened = try drop.recipient.open(drop.spool.submission(id))
                #expect(opened.content == content(1000 + index, size: [1, 5000, 65_532, 65_533, 140_000, 400_000][index % 6]))
                #expect(opened.metadata.name == "file-\(index)")
            }
            #expect(drop.spool.inboxFiles().count == 60)
            #expect(drop.spool.tempFiles().isEmpty)
        }
    }

    @Test("class 19: a symlink or file planted at the temp or inbox path is never followed or replaced")
    func plantedPaths() async throws {
        let ids = (0..<4).map { _ in SubmissionID.random() }
        let sequence = IDSequence([ids[0], ids[1], ids[2], ids[3]])
        let outside = try TemporaryDirectory("sealdropd-outside")
        let target = outside.file("target")
        try Data("precious".utf8).write(to: URL(fileURLWithPath: target))
        try await withDrop(makeSubmissionID: { sequence.next() }) { drop in
            let fm = FileManager.default
            try fm.createSymbolicLink(atPath: drop.spool.temp + "/\(ids[0].text).partial", withDestinationPath: target)
            try Data("planted".utf8).write(to: URL(fileURLWithPath: drop.spool.temp + "/\(ids[1].text).partial"))
            try Data("planted".utf8).write(to: URL(fileURLWithPath: drop.spool.submission(ids[2].text)))
            try fm.createSymbolicLink(atPath: drop.spool.submission(ids[3].text), withDestinationPath: target)
            for index in 0..<4 {
                let reply = try await drop.put(content(50 + index, size: 100_000))
                #expect(errorCode(reply) == "server-error", "planted \(index): \(reply)")
            }
            #expect(try String(contentsOfFile: target, encoding: .utf8) == "precious")
            #expect(try fm.destinationOfSymbolicLink(atPath: drop.spool.temp + "/\(ids[0].text).partial") == target)
            #expect(try String(contentsOfFile: drop.spool.temp + "/\(ids[1].text).partial", encoding: .utf8) == "planted")
            #expect(try String(contentsOfFile: drop.spool.submission(ids[2].text), encoding: .utf8) == "planted")
            #expect(try fm.destinationOfSymbolicLink(atPath: drop.spool.submission(ids[3].text)) == target)
            // Only what was planted is left; the daemon's own temp files are gone.
            #expect(drop.spool.tempFiles() == ["\(ids[0].text).partial", "\(ids[1].text).partial"].sorted())
            #expect(drop.spool.inboxFiles() == [ids[2].fileName, ids[3].fileName].sorted())
            try await drop.expectServes()
        }
    }

    @Test("class 20: a plaintext canary (normal, aborted, killed mid-way) is never on disk; files 0600, folders 0700 under umask 000")
    func canary() async throws {
        let canary = "CANARY-\(UUID().uuidString)"
        let name = "canary-name-\(UUID().uuidString).txt"
        let message = "canary-message-\(UUID().uuidString)"
        let body = Array(String(repeating: canary + " ", count: 8000).utf8)
        let spool = try SpoolFolder()
        let recipient = Recipient()
        let umask000 = ["/bin/sh", "-c", "umask 000; exec \"$0\" \"$@\""]
        let drop = try await RealDrop.start(spool: spool, recipient: recipient, extra: ["--log-level", "trace"], wrapper: umask000)
        let headers = ["Name: \(name)", "Message: \(message)"]
        // Normal.
        let id = try #require(receipt(try await drop.put(body, headers: headers)))
        // Aborted with a reset.
        let port = drop.port
        try await blocking {
            let socket = try TestSocket(port: port)
            try socket.send(Array(request(body: body, headers: headers).prefix(150_000)))
            usleep(200_000)
            socket.reset()
        }
        // The aborted upload's file goes first, so that the one counted next is the stalled one's.
        #expect(await eventually { spool.tempFiles().isEmpty })
        // Killed mid-way: the partial file stays in tmp until the next start.
        let stalled = try await blocking { () -> TestSocket in
            let socket = try TestSocket(port: port)
            try socket.send(Array(request(body: body, headers: headers).prefix(150_000)))
            return socket
        }
        var partials: [String] = []
        #expect(await eventually { partials = spool.tempFiles(); return partials.count == 1 })
        for partial in partials { #expect(mode(spool.temp + "/" + partial) == 0o600) }
        drop.daemon.signal(SIGKILL)
        _ = await drop.daemon.waitForExit()
        stalled.close()

        #expect(mode(spool.path) == 0o700)
        #expect(mode(spool.temp) == 0o700)
        #expect(mode(spool.inbox) == 0o700)
        #expect(mode(spool.submission(id)) == 0o600)
        for needle in [canary, name, message, "127.0.0.1"] {
            #expect(try filesContaining(needle, under: spool.path).isEmpty, "\(needle) found on disk")
            #expect(!drop.daemon.stderr.contains(needle) || needle == "127.0.0.1", "\(needle) in the log")
        }
        // The stored copy holds it, encrypted.
        #expect(try recipient.open(spool.submission(id)).content == body)
        // After a restart (umask 000 again) the swept spool holds no trace either.
        let again = try await RealDrop.start(spool: spool, recipient: recipient, wrapper: umask000)
        #expect(spool.tempFiles().isEmpty)
        #expect(try filesContaining(canary, under: spool.path).isEmpty)
        await again.stop()
    }
}

/// The permission bits of a path.
func mode(_ path: String) -> Int {
    var info = stat()
    guard lstat(path, &info) == 0 else { return -1 }
    return Int(info.st_mode & 0o7777)
}

/// Regular files under `root` whose bytes contain `needle`.
func filesContaining(_ needle: String, under root: String) throws -> [String] {
    let pattern = Data(needle.utf8)
    var hits: [String] = []
    let enumerator = FileManager.default.enumerator(atPath: root)
    while let relative = enumerator?.nextObject() as? String {
        let path = (root as NSString).appendingPathComponent(relative)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
        if let data = FileManager.default.contents(atPath: path), data.range(of: pattern) != nil { hits.append(relative) }
    }
    return hits
}

/// Hands out fixed submission IDs, then random ones.
final class IDSequence: Sendable {
    private let ids: Mutex<[SubmissionID]>
    init(_ ids: [SubmissionID]) { self.ids = Mutex(ids) }
    func next() -> SubmissionID {
        ids.withLock { $0.isEmpty ? SubmissionID.random() : $0.removeFirst() }
    }
}
