import NIOCore
import NIOPosix
import SealDropStore
import SealDropWire
import Synchronization

/// The spool quota: bytes in the inbox plus what every upload in progress has reserved. An
/// upload reserves space as it writes, a step ahead of its bytes (``SpaceAccount/step``), and
/// its whole final size only just before it finishes: so the spool never holds more than the
/// quota, and a few connections that *declare* huge uploads and then trickle cannot reserve the
/// whole quota and lock every other source out.
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
    /// How far ahead of its written bytes an upload reserves.
    static let step: UInt64 = 4 << 20

    init(quota: UInt64, inboxBytes: UInt64) {
        self.quota = quota
        state = Mutex(State(inboxBytes: inboxBytes, lastScan: .now))
    }

    /// Bytes in the inbox and reserved, as far as the daemon knows.
    var usedBytes: UInt64 { state.withLock { $0.inboxBytes + $0.reservedBytes } }

    // (Untyped `async throws` here: Swift 6.3's optimiser crashes splitting a caller that
    // awaits an async function with typed throws.)

    /// Starts the reservation of an upload whose final size will be `finalBytes`: refused at once
    /// with `ERR quota` if that alone exceeds the quota, else reserves its first step.
    func reserve(finalBytes: UInt64, spool: Spool, threadPool: NIOThreadPool) async throws -> Reservation {
        guard finalBytes <= quota else { throw ProtocolError(.quota) }
        let first = min(finalBytes, Self.step)
        try await reserve(first, spool: spool, threadPool: threadPool)
        return Reservation(account: self, bytes: first, finalBytes: finalBytes)
    }

    /// Grows `reservation` to cover `written` bytes plus `step` (never past its final size), or
    /// throws `ERR quota`. Cheap when it already does.
    func cover(_ written: UInt64, in reservation: Reservation, step: UInt64 = SpaceAccount.step,
               spool: Spool, threadPool: NIOThreadPool) async throws {
        let current = reservation.bytes
        guard written > current || (written + step / 2 > current && current < reservation.finalBytes) else { return }
        let target = min(reservation.finalBytes, max(written, written + step))
        guard target > current else { return }
        try await reserve(target - current, spool: spool, threadPool: threadPool)
        reservation.grew(by: target - current)
    }

    /// Reserves `bytes` more, or throws `ERR quota`.
    private func reserve(_ bytes: UInt64, spool: Spool, threadPool: NIOThreadPool) async throws {
        if tryReserve(bytes) { return }
        let mayRescan = state.withLock { state in
            guard ContinuousClock.now - state.lastScan >= .seconds(1) else { return false }
            state.lastScan = .now
            return true
        }
        if mayRescan, let scanned = try? await threadPool.runIfActive({ try spool.inboxByteCount() }) {
            state.withLock { $0.inboxBytes = scanned }
            if tryReserve(bytes) { return }
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

    fileprivate func release(_ bytes: UInt64, committed: UInt64?) {
        state.withLock { state in
            state.reservedBytes -= bytes
            if let committed { state.inboxBytes += committed }
        }
    }
}

/// One upload's share of the quota, grown as it writes. Released when it is dropped unless
/// committed.
final class Reservation: Sendable {
    /// The upload's size once finished: the most it will ever reserve.
    let finalBytes: UInt64
    private let reserved: Atomic<UInt64>
    private let account: SpaceAccount
    private let settled = Atomic(false)

    fileprivate init(account: SpaceAccount, bytes: UInt64, finalBytes: UInt64) {
        self.account = account
        self.finalBytes = finalBytes
        reserved = Atomic(bytes)
    }

    /// Bytes reserved so far.
    var bytes: UInt64 { reserved.load(ordering: .relaxed) }

    fileprivate func grew(by bytes: UInt64) {
        reserved.add(bytes, ordering: .relaxed)
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
