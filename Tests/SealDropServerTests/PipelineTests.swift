import Foundation
import Logging
import NIOCore
import NIOPosix
import SealDropCrypto
import SealDropFormat
import SealDropServer
import SealDropStore
import SealDropTestSupport
import Testing

/// The upload pipeline every front door shares, driven directly: no socket, no protocol.
@Suite("Upload pipeline")
struct PipelineTests {
    /// A pipeline into a fresh spool sealing to one in-memory recipient.
    struct Setup {
        let folder: SpoolFolder
        let recipient: Recipient
        let spool: Spool
        let pipeline: UploadPipeline
        let eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let dropKey = DropSigner.generate()

        init(_ change: (inout ServerLimits) -> Void = { _ in }) async throws {
            folder = try SpoolFolder("pipeline")
            recipient = Recipient()
            let logger = Logger(label: "pipeline-test")
            spool = try Daemon.openSpool(folder.path, logger: logger)
            pipeline = try await UploadPipeline.open(spool: spool, recipients: try RecipientStore(keyTexts: [recipient.text], filePath: nil),
                                                     limits: testLimits(change), dropKey: dropKey, logger: logger)
        }

        var partial: String { (folder.path as NSString).appendingPathComponent("partial") }
        func partialFiles() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: partial)) ?? []).sorted() }

        /// Appends `bytes` in pieces of `piece` bytes.
        func append(_ bytes: [UInt8], to upload: Upload, piece: Int = 7_000) async throws {
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + piece, bytes.count)
                try await upload.append(ByteBuffer(bytes: bytes[offset..<end]))
                offset = end
            }
        }

        /// An envelope sealed to the recipient on "the source's machine".
        func envelope(_ content: [UInt8]) throws -> [UInt8] {
            let writer = try EnvelopeWriter(recipients: [recipient.publicKey], metadata: Metadata(name: "e.bin", sealedBy: .source))
            var bytes = writer.prefix
            content.withUnsafeBytes { writer.append($0) { bytes += $0 } }
            try writer.finish { bytes += $0 }
            return bytes
        }
    }

    /// The paths among `paths` whose modification time is not 00:00:00 UTC of a day. (Access
    /// times are set too, but any reader, this test's listings included, moves them on.)
    func timesNotAtMidnight(_ paths: [String]) -> [String] {
        paths.filter { path in
            var info = stat()
            guard stat(path, &info) == 0 else { return true }
            return info.st_mtim.tv_sec % 86_400 != 0 || info.st_mtim.tv_nsec != 0
        }
    }

    /// The refusal an upload call threw.
    func refusal(_ body: () async throws -> Void) async -> UploadRefusal? {
        do { try await body(); return nil } catch { return error as? UploadRefusal }
    }

    @Test("plaintext with a length and without one: appended in pieces, committed only once durable, and sealed with what the source said")
    func plaintext() async throws {
        let setup = try await Setup()
        for length in [true, false] {
            let content = testBytes(count: 200_000)
            let upload = try await setup.pipeline.begin(.plaintext(name: "leak.pdf", mediaType: "application/pdf", message: "page 3"),
                                                        length: length ? UInt64(content.count) : nil, eventLoop: setup.eventLoop)
            let before = setup.folder.inboxFiles()
            try await setup.append(content, to: upload)
            #expect(setup.folder.inboxFiles() == before, "nothing in the inbox before the commit")
            let id = try await upload.commit()
            let opened = try setup.recipient.open(setup.folder.submission(id.text))
            #expect(opened.content == content)
            #expect(opened.metadata.name == "leak.pdf" && opened.metadata.message == "page 3" && opened.metadata.sealedBy == .server)
            #expect(opened.metadata.size == (length ? UInt64(content.count) : nil))
        }
        #expect(setup.folder.tempFiles().isEmpty)
    }

    @Test("sealed with a length and without one: stored byte for byte; a body that cannot be an envelope is refused")
    func sealed() async throws {
        let setup = try await Setup()
        let envelope = try setup.envelope(testBytes(count: 90_000))
        for length in [UInt64(envelope.count), nil] {
            let upload = try await setup.pipeline.begin(.sealed, length: length, eventLoop: setup.eventLoop)
            try await setup.append(envelope, to: upload, piece: 999)
            let id = try await upload.commit()
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: setup.folder.submission(id.text)))) == envelope)
        }
        let cut = try await setup.pipeline.begin(.sealed, length: nil, eventLoop: setup.eventLoop)
        try await setup.append(Array(envelope.prefix(Layout.headerByteCount(recipients: 1) + 100)), to: cut)
        #expect(await refusal { _ = try await cut.commit() } == .badEnvelope("the length does not fit the envelope's layout"))
        await cut.abort()
        let foreign = try await setup.pipeline.begin(.sealed, length: nil, eventLoop: setup.eventLoop)
        let other = try EnvelopeWriter(recipients: [SecretKey.generate().publicKey], metadata: Metadata(sealedBy: .source)).prefix
        #expect(await refusal { try await foreign.append(ByteBuffer(bytes: other)) } == .notAddressed)
        await foreign.abort()
        let garbage = try await setup.pipeline.begin(.sealed, length: 100, eventLoop: setup.eventLoop)
        #expect(await refusal { try await garbage.append(ByteBuffer(bytes: Array("not an envelope".utf8))) } == .badEnvelope("the envelope header is malformed"))
        await garbage.abort()
        #expect(setup.folder.inboxFiles().count == 2)
        #expect(setup.folder.tempFiles().isEmpty)
    }

    @Test("abort removes the file and gives the quota back; a declared length is kept to")
    func abortAndLengths() async throws {
        let setup = try await Setup()
        let before = setup.pipeline.quotaUsedBytes
        let upload = try await setup.pipeline.begin(.plaintext(name: nil, mediaType: nil, message: nil), length: 100_000, eventLoop: setup.eventLoop)
        try await setup.append(testBytes(count: 60_000), to: upload)
        #expect(setup.pipeline.quotaUsedBytes > before)
        #expect(await refusal { _ = try await upload.commit() } == .truncated)
        #expect(await refusal { try await upload.append(ByteBuffer(bytes: testBytes(count: 50_000))) } == .tooLarge)
        await upload.abort()
        #expect(setup.pipeline.quotaUsedBytes == before)
        #expect(setup.folder.tempFiles().isEmpty && setup.folder.inboxFiles().isEmpty)
        #expect(timesNotAtMidnight([setup.folder.temp]).isEmpty, "an aborted upload leaves tmp's times at the day")
        #expect(await refusal { _ = try await setup.pipeline.begin(.sealed, length: (8 << 30) + 1, eventLoop: setup.eventLoop) } == .tooLarge)
    }

    @Test("a resumable upload is kept at its durable offset, cut back past what was never synced, and completes byte for byte")
    func keepAndReopen() async throws {
        let setup = try await Setup()
        let envelope = try setup.envelope(testBytes(count: 300_000))
        let length = UInt64(envelope.count)
        let (id, token) = try await setup.pipeline.createResumable(length: length, eventLoop: setup.eventLoop)
        #expect(setup.partialFiles() == ["\(id.text).partial", "\(id.text).state"])
        let hold = try await setup.pipeline.claimResumable(id.text, token: token, interrupt: {}, eventLoop: setup.eventLoop)
        #expect(hold.state.offset == 0 && hold.state.length == length && hold.state.status == .open)
        let first = try await setup.pipeline.reopen(hold, eventLoop: setup.eventLoop)
        try await setup.append(Array(envelope[..<120_000]), to: first)
        #expect(try await first.keep() == 120_000)
        setup.pipeline.release(hold)
        #expect(setup.folder.tempFiles().isEmpty && setup.folder.inboxFiles().isEmpty)
        // The record holds no token, only its hash, and nothing the source sent.
        let record = try String(contentsOfFile: "\(setup.partial)/\(id.text).state", encoding: .utf8)
        #expect(!record.contains(token) && record.contains("offset: 120000\n") && record.contains("status: open\n"))
        // Keeping tells no more than the day: the kept file, its record and the folder carry
        // the day's start, not the moment.
        let keptPaths = [setup.partial] + setup.partialFiles().map { "\(setup.partial)/\($0)" }
        #expect(timesNotAtMidnight(keptPaths).isEmpty, "\(timesNotAtMidnight(keptPaths))")
        // Bytes that reached the file but were never recorded (a crash between a write and the
        // next record) are cut off when the daemon starts again.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(setup.partial)/\(id.text).partial"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(repeating: 0xEE, count: 5_000))
        try handle.close()
        #expect(try setup.spool.recoverKeptUploads() == 1)
        // Cut back at start, the file still shows only the day.
        #expect(timesNotAtMidnight(["\(setup.partial)/\(id.text).partial"]).isEmpty)
        #expect(await refusal { _ = try await setup.pipeline.claimResumable(id.text, token: String(token.reversed()), interrupt: {}, eventLoop: setup.eventLoop) } == .badToken)
        let again = try await setup.pipeline.claimResumable(id.text, token: token, interrupt: {}, eventLoop: setup.eventLoop)
        #expect(again.state.offset == 120_000)
        let resumed = try await setup.pipeline.reopen(again, eventLoop: setup.eventLoop)
        #expect(resumed.id == id && resumed.receivedBytes == 120_000)
        try await setup.append(Array(envelope[120_000...]), to: resumed)
        #expect(try await resumed.commit() == id)
        setup.pipeline.release(again)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: setup.folder.submission(id.text)))) == envelope)
        // The data moved to the inbox; the record stays, saying so, for a client that lost the receipt.
        #expect(setup.partialFiles() == ["\(id.text).state"])
        let committedPaths = [setup.folder.submission(id.text), setup.folder.inbox, setup.partial]
        #expect(timesNotAtMidnight(committedPaths).isEmpty, "\(timesNotAtMidnight(committedPaths))")
        #expect(await refusal { _ = try await setup.pipeline.claimResumable(id.text, token: token, interrupt: {}, eventLoop: setup.eventLoop) } == .uploadFinished)
        #expect(await refusal { _ = try await setup.pipeline.claimResumable(SubmissionID.random().text, token: token, interrupt: {}, eventLoop: setup.eventLoop) } == .unknownUpload)
        // A plaintext upload cannot be kept: its sealing state lives only in memory.
        let plain = try await setup.pipeline.begin(.plaintext(name: nil, mediaType: nil, message: nil), length: nil, eventLoop: setup.eventLoop)
        #expect(await refusal { _ = try await plain.keep() } == .notResumable)
        await plain.abort()
        // Kept before its header was whole, an upload starts again from its first byte.
        let other = try await setup.pipeline.createResumable(length: length, eventLoop: setup.eventLoop)
        let earlyHold = try await setup.pipeline.claimResumable(other.id.text, token: other.token, interrupt: {}, eventLoop: setup.eventLoop)
        let early = try await setup.pipeline.reopen(earlyHold, eventLoop: setup.eventLoop)
        try await setup.append(Array(envelope[..<100]), to: early)
        #expect(try await early.keep() == 0)
        setup.pipeline.release(earlyHold)
    }

    @Test("the quota is charged as bytes arrive, and only then refused; each file (a submission, its record) costs at least an empty submission and an inode")
    func quota() async throws {
        let minimum = Layout.sealedByteCount(contentLength: 0, recipients: 1, metadataLength: 4096)
        let perFile = (minimum + 4095) / 4096 * 4096 + 4096
        // A stored submission is two files: itself and its provenance record.
        let perSubmission = 2 * perFile
        let setup = try await Setup { $0.spoolQuotaBytes = 10 * perSubmission }
        // Declaring far more than the quota changes nothing until the bytes come.
        let huge = try await setup.pipeline.begin(.sealed, length: 1 << 30, eventLoop: setup.eventLoop)
        await huge.abort()
        var stored = 0
        while true {
            let upload = try? await setup.pipeline.begin(.plaintext(name: nil, mediaType: nil, message: nil), length: 0, eventLoop: setup.eventLoop)
            guard let upload, (try? await upload.commit()) != nil else { await upload?.abort(); break }
            stored += 1
        }
        #expect(stored == 10, "empty uploads cost \(perSubmission) bytes each, with their records")
        #expect(setup.folder.recordFiles().count == 10)
        #expect(setup.pipeline.quotaUsedBytes == 10 * perSubmission)
        #expect(await refusal { _ = try await setup.pipeline.begin(.sealed, length: 10, eventLoop: setup.eventLoop) } == .quota)
        // Room again once the keyholder's export took them away: from the next rescan (at most a
        // second later).
        for name in setup.folder.allInboxFiles() { try FileManager.default.removeItem(atPath: (setup.folder.inbox as NSString).appendingPathComponent(name)) }
        let eventLoop = setup.eventLoop, pipeline = setup.pipeline
        #expect(await eventually {
            guard let after = try? await pipeline.begin(.plaintext(name: nil, mediaType: nil, message: nil), length: 0, eventLoop: eventLoop) else { return false }
            return (try? await after.commit()) != nil
        })
    }

    @Test("the free-space and free-inode reserves refuse with disk-full before a file is made")
    func reserves() async throws {
        let space = try await Setup { $0.freeDiskReserveBytes = UInt64.max / 2 }
        #expect(await refusal { _ = try await space.pipeline.begin(.sealed, length: 1, eventLoop: space.eventLoop) } == .diskFull)
        let inodes = try await Setup { $0.freeInodeReserve = UInt64.max / 2 }
        #expect(await refusal { _ = try await inodes.pipeline.begin(.sealed, length: 1, eventLoop: inodes.eventLoop) } == .diskFull)
        #expect(space.folder.tempFiles().isEmpty && inodes.folder.tempFiles().isEmpty)
    }

    @Test("a crash between the last append and the commit leaves nothing in the inbox, and start-up sweeps the file")
    func crashBeforeCommit() async throws {
        let folder: SpoolFolder
        do {
            let setup = try await Setup()
            folder = setup.folder
            let upload = try await setup.pipeline.begin(.plaintext(name: nil, mediaType: nil, message: nil), length: 50_000, eventLoop: setup.eventLoop)
            try await setup.append(testBytes(count: 50_000), to: upload)
            _ = upload  // the process dies here: no commit, no abort
        }
        #expect(folder.inboxFiles().isEmpty)
        #expect(folder.tempFiles().count == 1, "the unfinished upload's file was left")
        // The dead process's lock goes with its last reference to the spool, which a pool thread
        // may still be dropping: wait for the restart to get the lock.
        #expect(await eventually { (try? Daemon.openSpool(folder.path, logger: Logger(label: "restart"))) != nil })
        #expect(folder.tempFiles().isEmpty)
        #expect(folder.inboxFiles().isEmpty)
    }
}
