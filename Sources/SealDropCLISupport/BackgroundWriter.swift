#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import SealDropCrypto
import SealDropStore

/// Writes a stream of bytes to a file descriptor on a thread of its own, so that the caller's
/// next computation (sealing, decrypting) overlaps the kernel's copy into the page cache and the
/// disk's work: on two cores, encrypting and writing then cost about the time of the slower one
/// rather than of both.
///
/// Bytes are gathered into blocks of `blockSize` and written in order; at most `depth` blocks
/// exist, so memory stays at `depth × blockSize` whatever the size of the stream. The blocks are
/// libsodium guarded memory and, with `zeroAfterWriting` (for plaintext), are zeroed as soon as
/// they are written. On a regular file, writeback is started as the file grows
/// (``SealDropStore/WritebackPacer``), so the caller's final `fsync` has little left to do.
///
/// A write error is reported by the next ``write(_:)`` or by ``finish()``, as the same
/// `write failed: …` error ``writeAll(_:_:)-(Int32,UnsafeRawBufferPointer)`` throws; the caller
/// then discards the output as it would have.
public final class BackgroundWriter {
    /// The default block: 1 MiB (a multiple of the page size, so the kernel copies whole pages).
    public static let defaultBlockSize = 1 << 20

    private let blockSize: Int
    private let pipe: BlockPipe
    private var current: SecureBytes?
    private var filled = 0
    private var finished = false

    /// Starts the writing thread for `fd` (which stays the caller's to `fsync` and close).
    public init(fd: Int32, blockSize: Int = BackgroundWriter.defaultBlockSize, depth: Int = 3, zeroAfterWriting: Bool) {
        precondition(blockSize > 0 && depth >= 2, "BackgroundWriter needs a block size and at least two blocks")
        self.blockSize = blockSize
        var info = stat()
        let isRegularFile = fstat(fd, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
        let pipe = BlockPipe(blockCount: depth, blockSize: blockSize)
        self.pipe = pipe
        let thread = Thread {
            Self.writeBlocks(from: pipe, to: fd, zeroAfterWriting: zeroAfterWriting, pacingWriteback: isRegularFile)
        }
        thread.name = "BackgroundWriter"
        thread.start()
    }

    deinit {
        stop()
    }

    /// Ends the writing thread once it has written what it was handed, reporting nothing: for
    /// a caller that gives up on the output (an error elsewhere). After ``finish()`` or this,
    /// the thread no longer uses the descriptor, so it may be closed. Also done on release.
    public func stop() {
        guard !finished else { return }
        finished = true
        pipe.finishSending()
        pipe.waitForThread()
    }

    /// Copies `bytes` into the current block, handing each full block to the writing thread
    /// (and waiting while every block is busy). Throws if an earlier write failed.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(CLIError) {
        precondition(!finished, "write after finish")
        var remaining = bytes
        while !remaining.isEmpty {
            let block: SecureBytes
            if let current { block = current } else {
                guard let free = pipe.takeFree() else { throw failure() }
                block = free
                current = free
                filled = 0
            }
            let take = Swift.min(remaining.count, blockSize - filled)
            let start = filled
            block.withUnsafeMutableBytes { space in
                UnsafeMutableRawBufferPointer(rebasing: space[start..<start + take])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: remaining[..<take]))
            }
            filled += take
            remaining = UnsafeRawBufferPointer(rebasing: remaining[take...])
            if filled == blockSize { handOver() }
        }
    }

    /// Copies `bytes` in, like ``write(_:)-(UnsafeRawBufferPointer)``.
    public func write(_ bytes: [UInt8]) throws(CLIError) {
        let failure = bytes.withUnsafeBytes { buffer -> CLIError? in
            do throws(CLIError) { try write(buffer); return nil } catch { return error }
        }
        if let failure { throw failure }
    }

    /// Writes what is left and waits until every byte is written; throws the first write error.
    /// Calling it again only reports that error again.
    public func finish() throws(CLIError) {
        if !finished {
            finished = true
            handOver()
            pipe.finishSending()
            pipe.waitForThread()
        }
        if pipe.failure != nil { throw failure() }
    }

    /// Bytes written to the descriptor so far (all that were handed in, once ``finish()``
    /// returned without an error).
    public var bytesWritten: UInt64 { pipe.bytesConsumed }

    private func handOver() {
        guard let block = current else { return }
        current = nil
        pipe.send(block, count: filled)
    }

    /// The first write error, in `writeAll`'s words.
    private func failure() -> CLIError {
        CLIError(pipe.failure ?? "write failed: the output was closed")
    }

    /// The writing thread: writes the blocks in order; after a failure it only zeroes (if
    /// asked) and returns them.
    private static func writeBlocks(from pipe: BlockPipe, to fd: Int32, zeroAfterWriting: Bool, pacingWriteback: Bool) {
        var writeback = WritebackPacer()
        var offset: Int64 = 0
        var failed = false
        while let (block, count) = pipe.receive() {
            if !failed {
                do throws(CLIError) {
                    try block.withUnsafeBytes { bytes throws(CLIError) in try writeAll(fd, UnsafeRawBufferPointer(rebasing: bytes[..<count])) }
                    offset += Int64(count)
                    if pacingWriteback { writeback.wrote(upTo: offset, fd: fd) }
                } catch {
                    failed = true
                    pipe.fail(error.message)
                }
            }
            if zeroAfterWriting { block.zero() }
            pipe.giveBack(block, consumed: failed ? 0 : count)
        }
        pipe.threadEnded()
    }
}
