import Foundation
import NIOCore
import NIOPosix
import SealDropFormat
import SealDropStore

/// Where one upload's bytes go: its temporary file in the spool. Writes run on the blocking
/// thread pool, one at a time and in order, while the connection task receives (and, for `PUT`,
/// encrypts) the next batch: receiving, encrypting and writing overlap, and memory stays at about
/// two batches (64 KiB each) whatever the upload's size or the sizes of the pieces it arrives in.
final class SubmissionSink {
    /// Bytes collected before a write is started.
    static let batchBytes = 64 * 1024

    let id: SubmissionID
    private let file: FileState
    private let spool: Spool
    private let threadPool: NIOThreadPool
    private let eventLoop: any EventLoop
    private var pending: EventLoopFuture<Void>?
    private var bytes: [UInt8] = []
    private var buffered = 0

    /// The temporary file and the write offset, used by one pool thread at a time (each write is
    /// awaited before the next one starts).
    private final class FileState: @unchecked Sendable {
        let file: SpoolFile
        var offset: Int64 = 0
        /// Set once the descriptor is closed (by finishing, successfully or not).
        var closed = false
        init(file: SpoolFile) { self.file = file }

        func write(_ chunk: UnsafeRawBufferPointer) throws(SpoolError) {
            try file.write(chunk, at: offset)
            offset += Int64(chunk.count)
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
        if bytes.isEmpty { bytes.reserveCapacity(max(chunk.count, Layout.fullChunkByteCount)) }
        bytes.append(contentsOf: chunk)
        buffered += chunk.count
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
        if buffered >= Self.batchBytes { try await startWrite() }
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
        guard buffered > 0 else { return }
        // Hand the batch over (no copy); the next one starts empty.
        let bytes = self.bytes, file = self.file
        self.bytes = []
        buffered = 0
        pending = threadPool.runIfActive(eventLoop: eventLoop) {
            try bytes.withUnsafeBytes { try file.write($0) }
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
