import NIOConcurrencyHelpers
import NIOPosix
import SealDropFormat
import SealDropStore
import Synchronization

/// The spool quota. Every stored file costs its ``charge(forFileBytes:)``: its size rounded up to
/// whole blocks, at least the blocks of an empty submission, plus one block for its inode, so a
/// flood of empty uploads meets the quota long before the file system runs out of inodes. Inbox
/// and kept uploads count at their charge; an upload in progress reserves as it writes: the
/// charge of the bytes it has actually produced, and, as far as the quota has room, a step more
/// (so that it need not come back for every batch).
///
/// Nothing is reserved by a size a client merely declares: an upload is refused only when the
/// bytes it really sent do not fit, so a reply tells a client no more than filling the spool
/// would, never how much room is left to within a length it merely declared. Bytes are counted on
/// arrival, so a few connections that declare huge uploads and then trickle cannot lock others
/// out either.
///
/// The stored count only ever overestimates (the keyholder's export removes files behind the
/// daemon's back, never adds them), so a reservation that fits is always safe; one that does
/// not fit rescans the spool first (at most once a second) before it is refused.
final class SpaceAccount: Sendable {
    private struct State {
        var storedBytes: UInt64
        var reservedBytes: UInt64 = 0
        var lastScan: ContinuousClock.Instant
    }

    let quota: UInt64
    /// Where refusals for a full quota or disk are counted and logged.
    let warnings: SpaceWarnings
    private let state: NIOLockedValueBox<State>
    /// How far ahead of its produced bytes an upload reserves.
    static let step: UInt64 = 4 << 20
    /// The file system block the charge rounds to.
    static let blockBytes: UInt64 = 4096
    /// The least a stored file costs, its inode aside: the blocks of an empty submission.
    static let minimumFileBytes: UInt64 = roundedUp(Layout.sealedByteCount(contentLength: 0, recipients: 1, metadataLength: Layout.metadataBlockByteCount))
    /// What a file's inode (and its directory entry) costs: one block.
    static let inodeBytes: UInt64 = blockBytes

    init(quota: UInt64, storedBytes: UInt64, warnings: SpaceWarnings) {
        self.quota = quota
        self.warnings = warnings
        state = NIOLockedValueBox(State(storedBytes: storedBytes, lastScan: .now))
    }

    /// What a stored file of `bytes` bytes costs against the quota.
    static func charge(forFileBytes bytes: UInt64) -> UInt64 {
        max(roundedUp(bytes), minimumFileBytes) + inodeBytes
    }

    private static func roundedUp(_ bytes: UInt64) -> UInt64 {
        let (sum, overflow) = bytes.addingReportingOverflow(blockBytes - 1)
        return overflow ? UInt64.max / blockBytes * blockBytes : sum / blockBytes * blockBytes
    }

    /// Throws ``UploadRefusal/diskFull`` (and counts it in ``warnings``) unless `free` keeps the
    /// free-space reserve and, when `inodeReserve` is given (an upload that will create a file),
    /// more than that many inodes.
    func requireReserves(_ free: (bytes: UInt64, inodes: UInt64), bytes byteReserve: UInt64, inodes inodeReserve: UInt64?) throws {
        guard free.bytes >= byteReserve, inodeReserve.map({ free.inodes > $0 }) ?? true else {
            warnings.refused(.disk)
            throw UploadRefusal.diskFull
        }
    }

    /// Bytes stored and reserved, as far as the daemon knows (for tests and logs).
    var usedBytes: UInt64 { state.withLockedValue { $0.storedBytes + $0.reservedBytes } }

    // (Untyped `async throws` here: Swift 6.3's optimiser crashes splitting a caller that
    // awaits an async function with typed throws.)

    /// Starts the reservation of a new upload at the charge of an empty file, or throws
    /// ``UploadRefusal/quota``.
    func open(spool: Spool, threadPool: NIOThreadPool) async throws -> Reservation {
        let first = Self.charge(forFileBytes: 0)
        _ = try await reserve(atLeast: first, atMost: first, spool: spool, threadPool: threadPool)
        return Reservation(account: self, bytes: first)
    }

    /// Continues the reservation of a kept upload, already counted as stored at the charge of
    /// its `durableBytes`: that charge moves from stored to reserved.
    func resume(durableBytes: UInt64) -> Reservation {
        let charge = Self.charge(forFileBytes: durableBytes)
        state.withLockedValue { state in
            state.storedBytes -= min(state.storedBytes, charge)
            state.reservedBytes += charge
        }
        return Reservation(account: self, bytes: charge)
    }

    /// Grows `reservation` to cover a file of `produced` bytes, or throws ``UploadRefusal/quota``;
    /// and, as far as the quota has room, `step` more. Returns whether it grew. Cheap while the
    /// reservation is at least half a step ahead.
    @discardableResult
    func cover(_ produced: UInt64, in reservation: Reservation, step: UInt64 = SpaceAccount.step,
               spool: Spool, threadPool: NIOThreadPool) async throws -> Bool {
        let needed = Self.charge(forFileBytes: produced)
        let current = reservation.bytes
        guard needed > current || needed + step / 2 > current else { return false }
        let (target, overflow) = needed.addingReportingOverflow(step)
        let want = (overflow ? UInt64.max : target) - current
        let must = needed > current ? needed - current : 0
        let got = try await reserve(atLeast: must, atMost: want, spool: spool, threadPool: threadPool)
        reservation.grew(by: got)
        return got > 0
    }

    /// What a submission's provenance record costs: a record is a small envelope (under 8 KiB
    /// even for 32 recipients), so it costs what an empty submission costs, with its inode.
    static let recordCharge = charge(forFileBytes: 0)

    /// Sets `reservation` to exactly the charge of a finished file of `bytes` bytes (and, for a
    /// committed submission, its provenance record): reserves what is missing (or throws
    /// ``UploadRefusal/quota``), gives back what is over. With `evenOverQuota`, what is missing
    /// is charged whatever the quota says: for bytes already received and kept (a resumable
    /// upload refused at the quota keeps the last buffer that went over it).
    func settle(_ reservation: Reservation, fileBytes bytes: UInt64, withRecord: Bool = false, evenOverQuota: Bool = false,
                spool: Spool, threadPool: NIOThreadPool) async throws {
        let charge = Self.charge(forFileBytes: bytes) + (withRecord ? Self.recordCharge : 0)
        let current = reservation.bytes
        if charge > current, evenOverQuota {
            state.withLockedValue { $0.reservedBytes += charge - current }
            reservation.grew(by: charge - current)
        } else if charge > current {
            let got = try await reserve(atLeast: charge - current, atMost: charge - current, spool: spool, threadPool: threadPool)
            reservation.grew(by: got)
        } else if charge < current {
            state.withLockedValue { $0.reservedBytes -= current - charge }
            reservation.shrank(by: current - charge)
        }
    }

    /// Reserves at least `must` bytes more and at most `want`, as much as the quota has room
    /// for; returns how many. Throws ``UploadRefusal/quota`` when even `must` does not fit (after
    /// a rescan of the spool, at most once a second).
    private func reserve(atLeast must: UInt64, atMost want: UInt64, spool: Spool, threadPool: NIOThreadPool) async throws -> UInt64 {
        if let got = tryReserve(atLeast: must, atMost: want) { return got }
        let mayRescan = state.withLockedValue { state in
            guard ContinuousClock.now - state.lastScan >= .seconds(1) else { return false }
            state.lastScan = .now
            return true
        }
        if mayRescan, let scanned = try? await threadPool.runIfActive({ try spool.storedCharge(Self.charge(forFileBytes:)) }) {
            state.withLockedValue { $0.storedBytes = scanned }
            if let got = tryReserve(atLeast: must, atMost: want) { return got }
        }
        warnings.refused(.quota)
        throw UploadRefusal.quota
    }

    private func tryReserve(atLeast must: UInt64, atMost want: UInt64) -> UInt64? {
        state.withLockedValue { state in
            let (total, overflow) = state.storedBytes.addingReportingOverflow(state.reservedBytes)
            guard !overflow, total <= quota else { return nil }
            let room = quota - total
            guard must <= room else { return nil }
            let got = min(max(must, want), room)
            state.reservedBytes += got
            return got
        }
    }

    fileprivate func release(_ bytes: UInt64, stored: Bool) {
        state.withLockedValue { state in
            state.reservedBytes -= bytes
            if stored { state.storedBytes += bytes }
        }
    }
}

/// One upload's share of the quota, grown as it writes. Released when it is dropped unless it
/// was stored (committed or kept).
final class Reservation: Sendable {
    private let reserved: Synchronization.Atomic<UInt64>
    private let account: SpaceAccount
    private let settled = Synchronization.Atomic(false)

    fileprivate init(account: SpaceAccount, bytes: UInt64) {
        self.account = account
        reserved = Synchronization.Atomic(bytes)
    }

    /// Bytes reserved so far.
    var bytes: UInt64 { reserved.load(ordering: .relaxed) }

    fileprivate func grew(by bytes: UInt64) {
        reserved.add(bytes, ordering: .relaxed)
    }

    fileprivate func shrank(by bytes: UInt64) {
        reserved.subtract(bytes, ordering: .relaxed)
    }

    /// The upload is stored (in the inbox, or kept to be resumed): its reserved bytes now count
    /// as stored bytes.
    func store() {
        guard !settled.exchange(true, ordering: .relaxed) else { return }
        account.release(bytes, stored: true)
    }

    /// The upload was given up: its reserved bytes are free again.
    func release() {
        guard !settled.exchange(true, ordering: .relaxed) else { return }
        account.release(bytes, stored: false)
    }

    deinit { release() }
}
