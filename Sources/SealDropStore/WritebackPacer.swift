#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Keeps a file that is being written in one long stream from piling up dirty pages in memory.
///
/// Every `interval` bytes it asks the kernel (`posix_fadvise(POSIX_FADV_DONTNEED)`, which on
/// Linux starts writeback of the range's dirty pages without waiting, then drops its clean ones)
/// to start writing the newest range to disk and to forget the range before it, which is on disk
/// by then. The disk works while the writer computes, the final `fsync` has little left to wait
/// for, and a multi-GiB upload or decrypted file does not crowd the page cache. It is advice:
/// durability still comes only from `fsync`.
public struct WritebackPacer: Sendable {
    /// The default interval: 8 MiB.
    public static let defaultInterval: Int64 = 8 << 20

    private let interval: Int64
    /// Writeback was started for the bytes before this offset.
    private var started: Int64 = 0

    /// A pacer that acts every `interval` bytes.
    public init(interval: Int64 = defaultInterval) {
        self.interval = interval
    }

    /// Call after writing: `end` is the offset just past the bytes written so far to `fd`.
    public mutating func wrote(upTo end: Int64, fd: Int32) {
        guard end - started >= interval else { return }
        let from = Swift.max(0, started - interval)
        _ = posix_fadvise(fd, off_t(from), off_t(end - from), POSIX_FADV_DONTNEED)
        started = end
    }
}
