import NIOConcurrencyHelpers
public import Logging

/// Says when the spool is full. Sources that meet a full spool get `ERR quota` or `ERR
/// disk-full` (or the page's 507), which the operator would not see at the default log level:
/// the first refusal of each kind is logged at warning level at once, then at most one line a
/// minute while refusals go on, each with the number of uploads refused since the line before.
/// Counts only: never which upload, from where or of what.
package final class SpaceWarnings: Sendable {
    /// What ran out.
    package enum Kind: Int, CaseIterable, Sendable {
        /// The spool quota (`spool-quota`).
        case quota
        /// The file system's free space or inodes (`free-disk-reserve`, `free-inode-reserve`).
        case disk

        var message: String {
            switch self {
            case .quota: "uploads refused: the spool quota is used up (export or remove submissions, or raise spool-quota)"
            case .disk: "uploads refused: the spool's disk is full or below its free-space or free-inode reserve"
            }
        }
    }

    private struct Tally {
        var unreported = 0
        var lastLine: ContinuousClock.Instant?
    }

    private let tallies = NIOLockedValueBox([Tally](repeating: Tally(), count: Kind.allCases.count))
    private let interval: Duration
    private let logger: Logger

    /// Warnings to `logger`, at most one line per kind every `interval`.
    package init(logger: Logger, interval: Duration = .seconds(60)) {
        self.logger = logger
        self.interval = interval
    }

    /// Counts one upload refused because `kind` ran out, and logs the count when a line is due.
    package func refused(_ kind: Kind) {
        let now = ContinuousClock.now
        let due: Int? = tallies.withLockedValue { tallies in
            tallies[kind.rawValue].unreported += 1
            if let last = tallies[kind.rawValue].lastLine, now - last < interval { return nil }
            tallies[kind.rawValue].lastLine = now
            defer { tallies[kind.rawValue].unreported = 0 }
            return tallies[kind.rawValue].unreported
        }
        if let count = due {
            logger.warning("\(kind.message)", metadata: ["uploads.refused": "\(count)"])
        }
    }
}
