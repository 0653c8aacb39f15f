#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
public import SealDropFormat
import SealDropCrypto

/// Reads a file (or standard input) ahead on a thread of its own, so the caller's computation
/// (sealing, decrypting) overlaps the kernel's copies out of the page cache. A
/// ``SealDropFormat/ByteSource`` like ``FileReader``, whose descriptor it reads.
///
/// At most `depth` blocks of `blockSize` are read ahead. The blocks are libsodium guarded memory
/// and, with `zeroAfterUse` (for plaintext), are zeroed as soon as the caller has copied them
/// out. A read error is thrown by the ``read(into:)`` that reaches it, in `FileReader`'s words.
public final class ReadAhead: ByteSource {
    /// The file being read (its own `bytesRead` belongs to the reading thread; use this
    /// reader's).
    public let file: FileReader
    private let pipe: BlockPipe
    private let zeroAfterUse: Bool
    private var current: (block: SecureBytes, count: Int)?
    private var used = 0
    private var ended = false
    /// Bytes read from the file so far, counting those read before this reader took over (for
    /// progress).
    public private(set) var bytesRead: UInt64

    /// Starts reading `file` ahead.
    public init(_ file: FileReader, blockSize: Int = 1 << 20, depth: Int = 3, zeroAfterUse: Bool) {
        self.file = file
        self.zeroAfterUse = zeroAfterUse
        bytesRead = file.bytesRead
        let pipe = BlockPipe(blockCount: depth, blockSize: blockSize)
        self.pipe = pipe
        // The thread holds the reader (so its descriptor stays open until the thread ends) and
        // is the only one to use it from here on.
        let reader = UncheckedSendable(file)
        let thread = Thread { Self.readBlocks(of: reader.value, into: pipe) }
        thread.name = "ReadAhead"
        thread.start()
    }

    deinit {
        // The thread stops at its next block; it is not waited for (a read from a terminal
        // may never return).
        pipe.cancel()
        if let current { release(current.block) }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard !buffer.isEmpty, try receiveIfNeeded() else { return 0 }
        let (block, count) = current!
        let take = Swift.min(buffer.count, count - used)
        let start = used
        block.withUnsafeBytes { bytes in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[start..<start + take]))
        }
        used += take
        bytesRead += UInt64(take)
        if used == count {
            current = nil
            release(block)
        }
        return take
    }

    /// Passes the next block read (what ``read(into:)`` would return, without copying it out
    /// first) to `body`; returns false at the end of the input.
    public func nextBlock(_ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        guard try receiveIfNeeded() else { return false }
        let (block, count) = current!
        let start = used
        current = nil
        defer { release(block) }
        bytesRead += UInt64(count - start)
        try block.withUnsafeBytes { bytes in try body(UnsafeRawBufferPointer(rebasing: bytes[start..<count])) }
        return true
    }

    /// Makes sure a block with unread bytes is at hand; false at the end of the input.
    private func receiveIfNeeded() throws -> Bool {
        if current != nil { return true }
        guard !ended else { return false }
        guard let next = pipe.receive(), next.count > 0 else {
            ended = true
            if let failure = pipe.failure { throw CLIError(failure) }
            return false
        }
        current = next
        used = 0
        return true
    }

    private func release(_ block: SecureBytes) {
        if zeroAfterUse { block.zero() }
        pipe.giveBack(block)
    }

    /// The reading thread: fills blocks until the end of the input, a failure or cancellation.
    private static func readBlocks(of file: FileReader, into pipe: BlockPipe) {
        defer {
            pipe.finishSending()
            pipe.threadEnded()
        }
        while let block = pipe.takeFree() {
            let count: Int
            do {
                count = try block.withUnsafeMutableBytes { try file.read(into: $0) }
            } catch {
                pipe.fail((error as? CLIError)?.message ?? "cannot read \(file.path): \(error)")
                return
            }
            pipe.send(block, count: count)
            if count == 0 { return }
        }
    }
}

/// Hands a value to another thread that alone uses it from then on.
private final class UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
