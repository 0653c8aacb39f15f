import Foundation
import NIOCore
import NIOPosix
import SealDropFormat
import SealDropStore

/// Where one upload's bytes go: its temporary file in the spool. Writes run on the blocking
/// thread pool, one at a time and in order, while the connection task receives (and, for `PUT`,
/// encrypts) the next batch: receiving, encrypting and writing overlap, and memory stays at two
/// batches whatever the upload's size or the sizes of the pieces it arrives in.
///
/// Batches are 64 KiB for an upload's first 4 MiB (so many small uploads at once stay small) and
/// 1 MiB after that (so a large upload costs few thread hops). The two batch buffers are reused
/// from batch to batch: fresh megabytes would cost a page fault per page.
final class SubmissionSink {
    /// Bytes collected before a write is started, for an upload's first `largeBatchThreshold` bytes.
    static let smallBatchBytes = 64 * 1024
    /// Bytes collected before a write is started, once an upload has produced more.
    static let largeBatchBytes = 1024 * 1024
    /// The bytes an upload produces before its batches grow to `largeBatchBytes`.
    static let largeBatchThreshold: UInt64 = 4 * 1024 * 1024

    let id: SubmissionID
    private let file: FileState
    private let spool: Spool
    private let threadPool: NIOThreadPool
    private let eventLoop: any EventLoop
    private var pending: EventLoopFuture<Void>?
    /// The batch being filled, and the one being written (or free for the next batch).
    private var filling = Batch()
    private var spare = Batch()

    private var batchBytes: Int {
        producedBytes >= Self.largeBatchThreshold ? Self.largeBatchBytes : Self.smallBatchBytes
    }

    /// A byte buffer that keeps its memory when emptied. It is used by one thread at a time:
    /// the connection task fills it, a pool thread writes it, and the task waits for that write
    /// before it touches the buffer again.
    private final class Batch: @unchecked Sendable {
        private var storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        private(set) var count = 0

        var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[..<count]) }

        func append(_ more: UnsafeRawBufferPointer, reserving capacity: Int) {
            if count + more.count > storage.count {
                let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: max(capacity, count + more.count), alignment: 4096)
                if count > 0 { grown.copyMemory(from: bytes) }
                storage.deallocate()
                storage = grown
            }
            UnsafeMutableRawBufferPointer(rebasing: storage[count...]).copyMemory(from: more)
            count += more.count
        }

        func removeAll() { count = 0 }

        deinit { storage.deallocate() }
    }

    /// The temporary file and the write offset, used by one pool thread at a time (each write is
    /// awaited before the next one starts).
    private final class FileState: @unchecked Sendable {
        let file: SpoolFile
        var offset: Int64 = 0
        var writeback = WritebackPacer()
        /// Set once the descriptor is closed (by finishing, successfully or not).
        var closed = false
        init(file: SpoolFile) { self.file = file }

        func write(_ chunk: UnsafeRawBufferPointer) throws(SpoolError) {
            try file.write(chunk, at: offset)
            offset += Int64(chunk.count)
            file.paceWriteback(&writeback, upTo: offset)
        }
    }

    /// Creates the temporary file (on the pool), after checking that the spool's file system
    /// would keep `reserve` bytes free once this upload's `expectedBytes` are written. Uploads
    /// in progress are not counted here (a few declared-huge, trickling uploads must not lock
    /// others out); ``checkFreeSpace(reserve:)`` checks the reserve again as the upload grows.
    static func create(id: SubmissionID, expectedBytes: UInt64, reserve: UInt64, spool: Spool,
                       threadPool: NIOThreadPool, eventLoop: any EventLoop) async throws -> SubmissionSink {
        let file = try await threadPool.runIfActive(eventLoop: eventLoop) { () throws -> SpoolFile in
            let available = try spool.availableBytes()
            let needed = expectedBytes.addingReportingOverflow(reserve)
            guard !needed.overflow, available >= needed.partialValue else { throw DiskReserveExceeded() }
            return try spool.createTemporaryFile(for: id)
        }.get()
        return SubmissionSink(id: id, file: FileState(file: file), spool: spool, threadPool: threadPool, eventLoop: eventLoop)
    }

    private init(id: SubmissionID, file: FileState, spool: Spool, threadPool: NIOThreadPool, eventLoop: any EventLoop) {
        self.id = id
        self.file = file
        self.spool = spool
        self.threadPool = threadPool
        self.eventLoop = eventLoop
    }

    /// Queues bytes produced here (sealed chunks); a write starts once a batch is full.
    func append(_ chunk: UnsafeRawBufferPointer) {
        filling.append(chunk, reserving: batchBytes)
        producedBytes += UInt64(chunk.count)
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

    /// Throws ``DiskReserveExceeded`` if the spool's file system has fewer than `reserve` bytes
    /// free (checked on the pool).
    func checkFreeSpace(reserve: UInt64) async throws {
        let spool = self.spool
        let available = try await threadPool.runIfActive(eventLoop: eventLoop) { try spool.availableBytes() }.get()
        guard available >= reserve else { throw DiskReserveExceeded() }
    }

    /// Waits until the write in progress, if any, is done.
    func waitForWrite() async throws {
        if let pending {
            self.pending = nil
            try await pending.get()
        }
    }

    private func startWrite() async throws {
        try await waitForWrite()
        guard filling.count > 0 else { return }
        // Hand the full batch to the pool and fill the spare one meanwhile.
        let batch = filling, file = self.file
        spare.removeAll()
        swap(&filling, &spare)
        pending = threadPool.runIfActive(eventLoop: eventLoop) {
            try file.write(batch.bytes)
        }
    }

    /// Writes everything queued, lets `finishing` (on the pool) write the final bytes, then sets
    /// the file's times to the day, `fsync`s and closes it. Returns the file's size.
    func finish(
        dayOf date: Date,
        finishing: @escaping @Sendable (_ write: (UnsafeRawBufferPointer) throws -> Void) throws -> Void
    ) async throws -> (file: SpoolFile, size: UInt64) {
        try await startWrite()
        try await waitForWrite()
        let file = self.file
        return try await threadPool.runIfActive(eventLoop: eventLoop) { () throws -> (file: SpoolFile, size: UInt64) in
            file.closed = true
            do {
                try finishing { chunk in try file.write(chunk) }
            } catch {
                file.file.close()
                throw error
            }
            try file.file.finish(dayOf: date)
            return (file.file, UInt64(file.offset))
        }.get()
    }

    /// Waits for the write in progress, closes the file if it is still open and removes it.
    func abandon() async {
        if let pending {
            self.pending = nil
            _ = try? await pending.get()
        }
        let file = self.file, spool = self.spool, id = self.id
        _ = try? await threadPool.runIfActive(eventLoop: eventLoop) {
            if !file.closed { file.file.close() }
            spool.discard(id)
        }.get()
    }
}

/// The upload would leave less than the free-disk reserve.
struct DiskReserveExceeded: Error {}

/// Lets a non-Sendable value cross into a thread-pool closure when the caller guarantees that
/// only one thread uses it at a time (the caller awaits the closure before touching it again).
final class SerializedAccess<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
