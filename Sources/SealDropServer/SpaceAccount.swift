import NIOCore
import NIOPosix
import SealDropStore
import SealDropWire
import Synchronization

/// The spool quota: bytes in the inbox plus the final size of every upload in progress. An
/// upload reserves its final size before its first byte is written, so the spool never holds
/// more than the quota.
///
/// The inbox count only ever overestimates (the keyholder removes files behind the daemon's
/// back, never adds them), so a reservation that fits is always safe; one that does not fit
/// rescans the inbox first (at most once a second) before it is refused.
final class SpaceAccount: Sendable {
    private struct State {
        var inboxBytes: UInt64
        var reservedBytes: UInt64 = 0
        var lastScan: ContinuousClock.Instant
    }

    let quota: UInt64
    private let state: Mutex<State>

    init(quota: UInt64, inboxBytes: UInt64) {
        self.quota = quota
        state = Mutex(State(inboxBytes: inboxBytes, lastScan: .now))
    }

    /// Bytes in the inbox and reserved, as far as the daemon knows.
    var usedBytes: UInt64 { state.withLock { $0.inboxBytes + $0.reservedBytes } }

    /// Reserves `bytes`, or throws `ERR quota`.
    func reserve(_ bytes: UInt64, spool: Spool, threadPool: NIOThreadPool) async throws(ProtocolError) -> Reservation {
        if tryReserve(bytes) { return Reservation(account: self, bytes: bytes) }
        let mayRescan = state.withLock { state in
            guard ContinuousClock.now - state.lastScan >= .seconds(1) else { return false }
            state.lastScan = .now
            return true
        }
        if mayRescan, let scanned = try? await threadPool.runIfActive({ try spool.inboxByteCount() }) {
            state.withLock { $0.inboxBytes = scanned }
            if tryReserve(bytes) { return Reservation(account: self, bytes: bytes) }
        }
        throw ProtocolError(.quota)
    }

    private func tryReserve(_ bytes: UInt64) -> Bool {
        state.withLock { state in
            let (total, overflow) = state.inboxBytes.addingReportingOverflow(state.reservedBytes)
            guard !overflow, bytes <= quota, total <= quota - bytes else { return false }
            state.reservedBytes += bytes
            return true
        }
    }

    /// Bytes reserved by uploads in progress.
    var reservedBytes: UInt64 { state.withLock { $0.reservedBytes } }

    fileprivate func release(_ bytes: UInt64, committed: UInt64?) {
        state.withLock { state in
            state.reservedBytes -= bytes
            if let committed { state.inboxBytes += committed }
        }
    }
}

/// One upload's share of the quota. Released when it is dropped unless committed.
final class Reservation: Sendable {
    let bytes: UInt64
    private let account: SpaceAccount
    private let settled = Atomic(false)

    fileprivate init(account: SpaceAccount, bytes: UInt64) {
        self.account = account
        self.bytes = bytes
    }

    /// The upload is in the inbox: its bytes now count as inbox bytes.
    func commit() {
        guard !settled.exchange(true, ordering: .relaxed) else { return }
        account.release(bytes, committed: bytes)
    }

    deinit {
        if !settled.load(ordering: .relaxed) { account.release(bytes, committed: nil) }
    }
}
