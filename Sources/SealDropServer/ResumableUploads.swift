import NIOConcurrencyHelpers
import Foundation
import NIOCore
import SealDropCrypto
import SealDropStore
import Synchronization

/// What the daemon knows of resumable uploads beyond their records on disk: which connection
/// writes to each one now, when each last made durable progress, and how many are open.
///
/// One connection at a time holds an upload (``claim(_:interrupt:eventLoop:)``). A connection
/// that presents the right token while another holds it takes it over: the holder is
/// interrupted (it keeps what it received and answers `ERR taken-over`), and the newcomer
/// waits until it has let go, so two writers never interleave. The progress times live only in
/// memory (a restart gives every upload a fresh idle period, its expiry still holds), so that
/// nothing on disk tells when a source was last active.
final class ResumableUploads: Sendable {
    /// A connection's hold on one upload, until ``ResumableUploads/release(_:)``.
    final class Claim: Sendable {
        let id: SubmissionID
        fileprivate let interrupt: @Sendable () -> Void
        fileprivate let released: EventLoopPromise<Void>

        fileprivate init(id: SubmissionID, interrupt: @escaping @Sendable () -> Void, eventLoop: any EventLoop) {
            self.id = id
            self.interrupt = interrupt
            released = eventLoop.makePromise()
        }
    }

    private struct Entry {
        var holder: Claim?
        var lastProgress: ContinuousClock.Instant
    }

    private let entries = NIOLockedValueBox<[SubmissionID: Entry]>([:])
    private let openCount: Synchronization.Atomic<Int>
    private let started = ContinuousClock.now

    /// Starts with `open` uploads open (those the spool kept).
    init(open: Int) {
        openCount = Synchronization.Atomic(open)
    }

    /// Resumable uploads open now.
    var open: Int { openCount.load(ordering: .relaxed) }

    /// Counts one more open upload if fewer than `limit` are open; returns whether it did.
    func reserveOpenSlot(limit: Int) -> Bool {
        var current = openCount.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = openCount.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// One upload is no longer open (finished, expired, or removed).
    func closeOpenSlot() {
        openCount.subtract(1, ordering: .relaxed)
    }

    /// Takes `id` for the calling connection, interrupting and waiting out any connection that
    /// holds it. `interrupt` is how a later connection stops this one.
    func claim(_ id: SubmissionID, interrupt: @escaping @Sendable () -> Void, eventLoop: any EventLoop) async -> Claim {
        let claim = Claim(id: id, interrupt: interrupt, eventLoop: eventLoop)
        while true {
            let holder: Claim? = entries.withLockedValue { entries in
                var entry = entries[id] ?? Entry(lastProgress: started)
                if let holder = entry.holder { return holder }
                entry.holder = claim
                entries[id] = entry
                return nil
            }
            guard let holder else { return claim }
            holder.interrupt()
            try? await holder.released.futureResult.get()
        }
    }

    /// Takes `id` only if no connection holds it (the sweeper never interrupts a writer).
    func tryClaim(_ id: SubmissionID, eventLoop: any EventLoop) -> Claim? {
        entries.withLockedValue { entries in
            var entry = entries[id] ?? Entry(lastProgress: started)
            guard entry.holder == nil else { return nil }
            let claim = Claim(id: id, interrupt: {}, eventLoop: eventLoop)
            entry.holder = claim
            entries[id] = entry
            return claim
        }
    }

    /// Lets go of an upload; a connection waiting for it goes on.
    func release(_ claim: Claim) {
        entries.withLockedValue { entries in
            if entries[claim.id]?.holder === claim { entries[claim.id]?.holder = nil }
        }
        claim.released.succeed(())
    }

    /// The upload made durable progress now.
    func noteProgress(_ id: SubmissionID) {
        entries.withLockedValue { entries in
            var entry = entries[id] ?? Entry(lastProgress: started)
            entry.lastProgress = .now
            entries[id] = entry
        }
    }

    /// How long the upload has gone without durable progress (since the daemon started, if it
    /// made none since).
    func idleTime(_ id: SubmissionID) -> Duration {
        ContinuousClock.now - entries.withLockedValue { $0[id]?.lastProgress ?? started }
    }

    /// Forgets an upload that is gone for good; its holder must have released it.
    func forget(_ id: SubmissionID) {
        entries.withLockedValue { entries in
            if entries[id]?.holder == nil { entries[id] = nil }
        }
    }

    // MARK: Tokens

    /// A new token: 16 random bytes as 32 lowercase hex digits, and the hash the record keeps.
    static func makeToken() -> (text: String, hash: [UInt8]) {
        let bytes = randomBytes(count: 16)
        return (Hex.encode(bytes), tokenHash(bytes))
    }

    /// Whether `token` (as the client sent it) hashes to `hash`, compared in constant time. A
    /// token that is not 32 lowercase hex digits never matches.
    static func tokenMatches(_ token: String, hash: [UInt8]) -> Bool {
        let bytes = Hex.decode(token, byteCount: 16)
        let candidate = bytes.map(tokenHash) ?? [UInt8](repeating: 0, count: 32)
        return constantTimeEqual(candidate, hash) && bytes != nil
    }

    private static func tokenHash(_ bytes: [UInt8]) -> [UInt8] {
        BLAKE2b.hash(bytes, outputLength: 32, key: Array("sealdrop upload token".utf8))
    }
}
