import Foundation
import NIOCore
import NIOPosix
import SealDropCrypto
import SealDropFormat
import SealDropStore

/// Where one upload's bytes go: its temporary (or kept) file in the spool. Writes run on the
/// blocking thread pool, one at a time and in order, and memory stays at a batch or two whatever
/// the upload's size or the sizes of the pieces it arrives in.
///
/// Outside a fast lane, batches are 64 KiB and each is written before the next is filled: a
/// connection holds one batch buffer, so hundreds of small uploads at once stay small. An upload
/// in one of the ``FastLanes`` has 1 MiB batches with up to two being written while the task
/// receives (and, for `PUT`, seals) the next, so receiving, sealing and writing overlap on
/// different threads; its buffers are kept and reused, since fresh megabytes would cost a page
/// fault per page.
final class SubmissionSink {
    /// Bytes collected before a write is started.
    static let smallBatchBytes = 64 * 1024
    /// Bytes collected before a write is started, in a fast lane.
    static let largeBatchBytes = 1024 * 1024

    let id: SubmissionID
    private let file: FileState
    private let spool: Spool
    private let threadPool: NIOThreadPool
    /// The event loop of the connection the upload arrives on.
    let eventLoop: any EventLoop
    /// The batch being filled.
    private var filling = Batch()
    /// Batches handed to the pool, oldest first, each with the write that ends with it (each
    /// write starts after the one before it).
    private var inFlight: [(batch: Batch, written: EventLoopFuture<Void>)] = []
    /// Written batches kept for reuse (in a fast lane).
    private var spares: [Batch] = []
    /// Set once the upload is in a fast lane (``useLargeBatches()``).
    private(set) var inFastLane = false
    private var batchBytes: Int { inFastLane ? Self.largeBatchBytes : Self.smallBatchBytes }
    /// Writes that may be in progress while the next batch is filled: none outside a fast lane
    /// (one batch buffer per connection), two in a fast lane (a slow write does not stall the
    /// sealing at once).
    private var writesWhileFilling: Int { inFastLane ? 2 : 0 }

    /// Switches to 1 MiB batches, two of them written at a time, whose buffers are kept (for
    /// an upload in a fast lane).
    func useLargeBatches() {
        inFastLane = true
    }

    /// A byte buffer that keeps its memory when emptied. It is used by one thread at a time:
    /// the connection task fills it, a pool thread writes it, and the task waits for that write
    /// before it touches the buffer again.
    private final class Batch: @unchecked Sendable {
        private var storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        private(set) var count = 0

        var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[..<count]) }

        /// Appends `byteCount` bytes that `fill` writes in place. A large batch (a fast lane's)
        /// is sized at once for `batchBytes` and a sealed chunk beyond it, so it grows at most
        /// once. A small one grows with what it holds (doubling, at least to what is needed):
        /// a batch that waits long before it fills (the envelope's first few KiB until a slow
        /// upload's first chunk is sealed, a `SEALED` body that trickles in) holds only about
        /// what it has received, not a full batch for each of hundreds of slow connections.
        func append(byteCount: Int, batchBytes: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) {
            if count + byteCount > storage.count {
                let full = batchBytes + Layout.fullChunkByteCount
                let target = batchBytes > SubmissionSink.smallBatchBytes ? full : min(full, max(2 * storage.count, 16 * 1024))
                let capacity = max(target, count + byteCount)
                let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 4096)
                if count > 0 { grown.copyMemory(from: bytes) }
                storage.deallocate()
                storage = grown
            }
            fill(UnsafeMutableRawBufferPointer(rebasing: storage[count..<count + byteCount]))
            count += byteCount
        }

        func removeAll() { count = 0 }

        /// Empties the buffer and gives its memory back.
        func release() {
            storage.deallocate()
            storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
            count = 0
        }

        deinit { storage.deallocate() }
    }

    /// The temporary file, the write offset and the hash of what was written, used by one pool
    /// thread at a time (each write starts only when the one before it has finished). The
    /// hash, for the provenance record, is taken on the pool as each batch is written, so it
    /// overlaps with receiving and sealing the next.
    private final class FileState: @unchecked Sendable {
        let file: SpoolFile
        var offset: Int64 = 0
        var writeback = WritebackPacer()
        let hashes: StoredHashes
        /// Set once the descriptor is closed (by finishing, successfully or not).
        var closed = false
        init(file: SpoolFile, hashes: StoredHashes = StoredHashes()) {
            self.file = file
            self.hashes = hashes
        }

        func write(_ chunk: UnsafeRawBufferPointer) throws(SpoolError) {
            try file.write(chunk, at: offset)
            hashes.update(chunk)
            offset += Int64(chunk.count)
            file.paceWriteback(&writeback, upTo: offset)
        }
    }

    /// Creates the upload's temporary file (on the pool).
    static func create(id: SubmissionID, spool: Spool, threadPool: NIOThreadPool, eventLoop: any EventLoop) async throws -> SubmissionSink {
        let file = try await threadPool.runIfActive(eventLoop: eventLoop) { try spool.createTemporaryFile(for: id) }.get()
        return SubmissionSink(id: id, file: FileState(file: file), spool: spool, threadPool: threadPool, eventLoop: eventLoop)
    }

    /// Continues a kept upload's file, opened again by ``SealDropStore/Spool/reopen(_:)`` and
    /// cut back to its `durableBytes`, whose hashes `hashes` hold.
    static func resume(file: SpoolFile, durableBytes: UInt64, hashes: StoredHashes, spool: Spool, threadPool: NIOThreadPool,
                       eventLoop: any EventLoop) -> SubmissionSink {
        let state = FileState(file: file, hashes: hashes)
        state.offset = Int64(durableBytes)
        let sink = SubmissionSink(id: file.id, file: state, spool: spool, threadPool: threadPool, eventLoop: eventLoop)
        sink.producedBytes = durableBytes
        return sink
    }

    private init(id: SubmissionID, file: FileState, spool: Spool, threadPool: NIOThreadPool, eventLoop: any EventLoop) {
        self.id = id
        self.file = file
        self.spool = spool
        self.threadPool = threadPool
        self.eventLoop = eventLoop
    }

    /// Gives the envelope header (where the payload starts, and the header's hash): before any
    /// write has started, that is before the first batch is full.
    func setHeader(_ bytes: [UInt8]) {
        precondition(inFlight.isEmpty && file.offset == 0, "the header is known before the first write")
        file.hashes.setHeader(bytes)
    }

    /// Queues bytes produced here (the envelope's first bytes); a write starts once a batch is
    /// full.
    func append(_ chunk: UnsafeRawBufferPointer) {
        sealInto(chunk.count) { $0.copyMemory(from: chunk) }
    }

    /// Lets an `EnvelopeWriter` seal a chunk of `byteCount` bytes straight into the batch
    /// (its `sealingInto` output).
    func sealInto(_ byteCount: Int, _ seal: (UnsafeMutableRawBufferPointer) -> Void) {
        filling.append(byteCount: byteCount, batchBytes: batchBytes, fill: seal)
        producedBytes += UInt64(byteCount)
    }

    /// Bytes queued or written so far (what the quota must cover before they are written).
    private(set) var producedBytes: UInt64 = 0

    /// Queues received bytes as they are (a `SEALED` body). They are copied: holding the
    /// received buffers instead would let a client that trickles tiny segments pin a receive
    /// buffer (at least 1 KiB) per byte.
    func append(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { append($0) }
    }

    /// Starts writing the queued bytes if a batch is full (waiting for the previous write).
    func writeIfFull() async throws {
        if filling.count >= batchBytes { try await startWrite() }
    }

    /// Bytes and inodes still free on the spool's file system (read on the pool).
    func available() async throws -> (bytes: UInt64, inodes: UInt64) {
        let spool = self.spool
        return try await threadPool.runIfActive(eventLoop: eventLoop) { try spool.available() }.get()
    }

    /// Waits until every write in progress is done.
    func waitForWrite() async throws {
        try await waitForWrites(leaving: 0)
    }

    /// Waits for the oldest writes until at most `count` are in progress.
    private func waitForWrites(leaving count: Int) async throws {
        while inFlight.count > count {
            let (batch, written) = inFlight.removeFirst()
            try await written.get()
            // A fast lane keeps the buffer for a later batch; otherwise its memory goes back,
            // so a connection between batches holds none.
            if inFastLane {
                batch.removeAll()
                spares.append(batch)
            } else {
                batch.release()
            }
        }
    }

    private func startWrite() async throws {
        try await waitForWrites(leaving: max(writesWhileFilling - 1, 0))
        guard filling.count > 0 else { return }
        // Hand the full batch to the pool, after the write before it, and fill another meanwhile.
        let batch = filling, file = self.file, threadPool = self.threadPool, eventLoop = self.eventLoop
        filling = spares.popLast() ?? Batch()
        let write: @Sendable () -> EventLoopFuture<Void> = {
            threadPool.runIfActive(eventLoop: eventLoop) { try file.write(batch.bytes) }
        }
        let written = inFlight.last.map { $0.written.flatMap { write() } } ?? write()
        inFlight.append((batch, written))
        try await waitForWrites(leaving: writesWhileFilling)
    }

    /// Writes everything queued, lets `finishing` (on the pool) write the final bytes, then sets
    /// the file's times to the day, `fsync`s and closes it. Returns the file, its size and the
    /// BLAKE2b-256 of its bytes and of its payload.
    func finish(
        dayOf date: Date,
        finishing: @escaping @Sendable (_ write: (UnsafeRawBufferPointer) throws -> Void) throws -> Void
    ) async throws -> (file: SpoolFile, size: UInt64, hashes: StoredHashes.Result) {
        try await startWrite()
        try await waitForWrite()
        try await lastCheckpoint?.get()
        let file = self.file
        return try await threadPool.runIfActive(eventLoop: eventLoop) { () throws -> (file: SpoolFile, size: UInt64, hashes: StoredHashes.Result) in
            file.closed = true
            do {
                try finishing { chunk in try file.write(chunk) }
            } catch {
                file.file.close()
                throw error
            }
            try file.file.finish(dayOf: date)
            return (file.file, UInt64(file.offset), file.hashes.finalize())
        }.get()
    }

    /// Bytes handed to writes so far: written, or being written on the pool.
    private var handedBytes: UInt64 { producedBytes - UInt64(filling.count) }

    /// The last checkpoint scheduled (see ``checkpoint(_:)``).
    private var lastCheckpoint: EventLoopFuture<Void>?

    /// Records that the bytes handed to writes so far are durable, without waiting for it: once
    /// those writes (and the checkpoint before) have finished, sets the file's times back to the
    /// day, `fsync`s it on the pool and calls `record` there with their count. Throws if the
    /// checkpoint before this one failed (waiting for it first: at most one is pending).
    func checkpoint(_ record: @escaping @Sendable (UInt64) throws -> Void) async throws {
        try await lastCheckpoint?.get()
        let count = handedBytes, file = self.file, threadPool = self.threadPool, eventLoop = self.eventLoop
        let written = inFlight.last?.written ?? eventLoop.makeSucceededVoidFuture()
        lastCheckpoint = written.flatMap {
            threadPool.runIfActive(eventLoop: eventLoop) {
                file.file.setDayTimes(Date())
                try file.file.sync()
                try record(count)
            }
        }
    }

    /// Writes everything queued, `fsync`s the file and keeps it to be resumed: `record` (on the
    /// pool) gets the count of bytes written, all of them durable, and records them. The file
    /// is closed. If a write fails (the disk is full), what was written before it is kept.
    func keep(_ record: @escaping @Sendable (_ file: SpoolFile, _ written: UInt64) throws -> Void) async throws {
        // A failed write (a full disk) leaves the writes chained after it unrun: the file's
        // offset is then where the bytes written without a gap end.
        try? await startWrite()
        await waitForAllWork()
        let file = self.file
        try await threadPool.runIfActive(eventLoop: eventLoop) {
            file.closed = true
            defer { file.file.close() }
            try record(file.file, UInt64(file.offset))
        }.get()
    }

    /// Waits for every write and checkpoint in progress, whatever their outcome.
    private func waitForAllWork() async {
        for (_, written) in inFlight { _ = try? await written.get() }
        inFlight = []
        _ = try? await lastCheckpoint?.get()
    }

    /// Waits for the writes in progress and closes the file if it is still open, leaving it where
    /// it is (a resumable upload whose record could not be updated keeps its earlier one).
    func closeKeepingFile() async {
        await waitForAllWork()
        let file = self.file
        _ = try? await threadPool.runIfActive(eventLoop: eventLoop) {
            if !file.closed { file.file.close() }
            file.closed = true
        }.get()
    }

    /// Waits for the write in progress, closes the file if it is still open and removes it.
    func abandon() async {
        await waitForAllWork()
        let file = self.file, spool = self.spool
        _ = try? await threadPool.runIfActive(eventLoop: eventLoop) {
            if !file.closed { file.file.close() }
            spool.discard(file.file)
        }.get()
    }
}

/// The hashes a provenance record holds, taken as a file is written: of the envelope header
/// (given whole, once known) and, in one pass, of the payload (every byte after it).
final class StoredHashes: @unchecked Sendable {
    // Used by one thread at a time, like the file it hashes (see ``SubmissionSink``).
    private var header: (hash: [UInt8], payload: PayloadHasher)?

    /// The hashes and the payload's length.
    struct Result {
        let header: [UInt8]
        let payload: [UInt8]
        let payloadBytes: UInt64
    }

    /// Records the envelope header (the file's first bytes), before any byte is added.
    func setHeader(_ bytes: [UInt8]) {
        header = (BLAKE2b.hash(bytes), PayloadHasher(headerBytes: bytes.count))
    }

    /// Adds the file's next bytes (the header was set when the first write started).
    func update(_ chunk: UnsafeRawBufferPointer) {
        header?.payload.update(chunk)
    }

    /// The hashes of a kept upload's first `byteCount` bytes, read back from `file`: a kept
    /// upload's header was checked before it was kept, so it is read from those bytes.
    convenience init(ofFirst byteCount: UInt64, of file: SpoolFile) throws {
        self.init()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while UInt64(offset) < byteCount {
            let want = Int(min(UInt64(buffer.count), byteCount - UInt64(offset)))
            let got = try buffer.withUnsafeMutableBytes { try file.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[..<want]), at: offset) }
            guard got == want else { throw SpoolError.system(operation: "read", path: "kept upload \(file.id)", errno: EIO) }
            if offset == 0 {
                guard let parsed = try EnvelopeHeader.parse(prefix: Array(buffer[..<got])) else {
                    throw SpoolError.system(operation: "read the header of", path: "kept upload \(file.id)", errno: EIO)
                }
                setHeader(parsed.bytes)
            }
            buffer.withUnsafeBytes { update(UnsafeRawBufferPointer(rebasing: $0[..<got])) }
            offset += Int64(got)
        }
    }

    /// The hashes. Only a whole envelope is finished, and its header was set before its first
    /// byte was written.
    func finalize() -> Result {
        guard let header else { preconditionFailure("a finished upload's header was never set") }
        let payload = header.payload.finalize()
        return Result(header: header.hash, payload: payload.payload, payloadBytes: payload.payloadBytes)
    }
}

/// Lets a non-Sendable value cross into a thread-pool closure when the caller guarantees that
/// only one thread uses it at a time (the caller awaits the closure before touching it again).
final class SerializedAccess<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
