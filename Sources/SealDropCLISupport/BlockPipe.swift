import Foundation
import SealDropCrypto

/// A fixed set of blocks passed between two threads: the producer takes a free block, fills it
/// and sends it; the consumer receives blocks in order and gives each back once used. Memory
/// stays at the blocks given at creation. The blocks are libsodium guarded memory, for they may
/// hold plaintext. Used by ``BackgroundWriter`` and ``ReadAhead``.
final class BlockPipe: @unchecked Sendable {
    // Everything below is guarded by `condition`.
    private let condition = NSCondition()
    private var free: [SecureBytes]
    private var sent: [(block: SecureBytes, count: Int)] = []
    private var doneSending = false
    private var cancelled = false
    private var failureText: String?
    private var threadRunning = true
    private var consumed: UInt64 = 0

    init(blockCount: Int, blockSize: Int) {
        free = (0..<blockCount).map { _ in SecureBytes(count: blockSize) }
    }

    /// The first failure recorded by either side, as the message to report.
    var failure: String? {
        condition.lock()
        defer { condition.unlock() }
        return failureText
    }

    /// Producer: a block to fill, waiting while all are in use; nil once the pipe failed or
    /// was cancelled.
    func takeFree() -> SecureBytes? {
        condition.lock()
        defer { condition.unlock() }
        while free.isEmpty && failureText == nil && !cancelled { condition.wait() }
        guard failureText == nil, !cancelled else { return nil }
        return free.removeLast()
    }

    /// Producer: passes on the first `count` bytes of `block`.
    func send(_ block: SecureBytes, count: Int) {
        condition.lock()
        sent.append((block, count))
        condition.broadcast()
        condition.unlock()
    }

    /// Producer: no more blocks will be sent.
    func finishSending() {
        condition.lock()
        doneSending = true
        condition.broadcast()
        condition.unlock()
    }

    /// Consumer: the next block in order, waiting for it; nil once the producer finished (or
    /// the pipe was cancelled) and every sent block was received.
    func receive() -> (block: SecureBytes, count: Int)? {
        condition.lock()
        defer { condition.unlock() }
        while sent.isEmpty && !doneSending && !cancelled { condition.wait() }
        return sent.isEmpty ? nil : sent.removeFirst()
    }

    /// The bytes the consumer reported as consumed (written, for a writer).
    var bytesConsumed: UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return consumed
    }

    /// Consumer: returns a used block, of which it consumed `consumed` bytes.
    func giveBack(_ block: SecureBytes, consumed: Int = 0) {
        condition.lock()
        self.consumed += UInt64(consumed)
        free.append(block)
        condition.broadcast()
        condition.unlock()
    }

    /// Records a failure (the first one counts) and wakes both sides.
    func fail(_ text: String) {
        condition.lock()
        if failureText == nil { failureText = text }
        condition.broadcast()
        condition.unlock()
    }

    /// Consumer: stops the producer at its next block.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    /// The pipe's own thread, when it ends.
    func threadEnded() {
        condition.lock()
        threadRunning = false
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until the pipe's own thread has ended.
    func waitForThread() {
        condition.lock()
        while threadRunning { condition.wait() }
        condition.unlock()
    }
}
