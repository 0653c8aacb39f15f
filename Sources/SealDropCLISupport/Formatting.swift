public import Foundation
import SealDropFormat

/// A byte count for people: `0 B`, `999 B`, `1.0 KiB`, `12.3 MiB`, `1.00 GiB` (powers of 1024;
/// three significant digits from KiB on).
public func formatByteCount(_ count: UInt64) -> String {
    guard count >= 1024 else { return "\(count) B" }
    let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    var value = Double(count) / 1024
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    let digits = value >= 100 ? 0 : value >= 10 ? 1 : 2
    return String(format: "%.\(digits)f", value) + " " + units[unit]
}

/// A duration for a progress line: `0:07`, `12:34`, `1:02:03`.
public func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "--:--" }
    let total = Int(seconds.rounded())
    let h = total / 3600, m = total / 60 % 60, s = total % 60
    let ss = String(s).leftPadded(2)
    return h > 0 ? "\(h):\(String(m).leftPadded(2)):\(ss)" : "\(m):\(ss)"
}

/// A time in UTC as `2025-11-27 13:51:02`, for tables.
public func formatUTC(_ date: Date) -> String {
    var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func two(_ n: Int32) -> String { String(n).leftPadded(2) }
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
}

/// Sizes a submission reveals without its key.
public enum SubmissionSize {
    /// The padded content length of a submission laid out as ``EnvelopeWriter`` writes it,
    /// from its size on disk and its header: the content is at most this long, and (PADMÉ) at
    /// least about 89 % of it. Nil when `fileSize` is impossible for such a header (the file
    /// is truncated or extended).
    public static func paddedContentLength(fileSize: UInt64, recipients: Int, metadataLength: Int) -> UInt64? {
        guard Layout.isPossibleTotalLength(fileSize, recipients: recipients, metadataLength: metadataLength) else { return nil }
        let prefix = UInt64(Layout.headerByteCount(recipients: recipients) + Layout.streamHeaderByteCount + metadataLength + 17)
        let rest = fileSize - prefix
        let fullChunkBytes = UInt64(Layout.fullChunkByteCount)
        var fullChunks = rest / fullChunkBytes
        var last = rest % fullChunkBytes
        if last == 0 {
            // The final chunk is itself full-size (another writer's choice): count it as the last.
            fullChunks -= 1
            last = fullChunkBytes
        }
        return fullChunks * UInt64(Layout.chunkCapacity) + last - UInt64(Layout.minimumChunkByteCount)
    }
}
