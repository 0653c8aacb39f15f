import NIOConcurrencyHelpers
package import NIOCore

/// A few uploads at a time may stream in large pieces: reads of up to 256 KiB, 1 MiB write
/// batches and 32 MiB quota steps instead of 32 KiB, 64 KiB and 4 MiB. That costs about 3 MiB per
/// upload and saves most of the thread hops that otherwise bound a large upload's speed. An
/// upload asks for a lane once it has produced ``threshold`` bytes, so the many small uploads of
/// a busy drop never hold one, and a crowd of connections cannot raise the daemon's memory by
/// more than `count` lanes' worth.
package final class FastLanes: Sendable {
    /// Bytes an upload produces before it asks for a lane.
    static let threshold: UInt64 = 4 << 20
    /// Lanes per daemon: more would not help on a machine of a few cores.
    static let defaultCount = 4
    /// How far ahead of its written bytes an upload in a lane reserves quota (and checks the
    /// free-disk reserve): 32 MiB, instead of `SpaceAccount.step`, for fewer thread hops.
    static let reservationStep: UInt64 = 32 << 20

    /// The receive allocator of a connection outside a lane: one read per wake-up, 16 KiB to
    /// start, at most 32 KiB.
    package static var standardReads: AdaptiveRecvByteBufferAllocator {
        AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 16_384, maximum: 32_768)
    }

    /// The receive allocator of a connection in a lane: at most 256 KiB per read.
    package static var fastReads: AdaptiveRecvByteBufferAllocator {
        AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 65_536, maximum: 262_144)
    }

    private let count: Int
    private let inUse = NIOLockedValueBox(0)

    init(count: Int = FastLanes.defaultCount) {
        self.count = count
    }

    /// Takes a lane if one is free.
    func enter() -> Bool {
        inUse.withLockedValue { used in
            guard used < count else { return false }
            used += 1
            return true
        }
    }

    /// Gives back a lane taken with ``enter()``.
    func leave() {
        inUse.withLockedValue { $0 -= 1 }
    }
}
