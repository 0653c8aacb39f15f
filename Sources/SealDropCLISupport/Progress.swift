#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A one-line progress bar on standard error, for long operations on large files:
///
///     report.pdf  42% [##########----------]  423 MiB of 1.00 GiB  118 MiB/s  ETA 0:07
///
/// It draws only when standard error is a terminal and the work is at least
/// ``minimumByteCount``; otherwise every call does nothing, so output that goes to a file or a
/// pipe stays quiet. It redraws at most ten times a second and erases itself when done.
public final class ProgressBar {
    /// Work smaller than this (8 MiB) finishes too fast to need a bar.
    public static let minimumByteCount: UInt64 = 8 << 20

    private let label: String
    private let total: UInt64
    private let enabled: Bool
    private let start = monotonicSeconds()
    private var lastDraw = 0.0
    private var drawn = false

    /// A bar for `total` bytes of work, labelled with `label` (already escaped for display).
    /// `force` draws even when standard error is not a terminal (for tests of the rendering).
    public init(label: String, total: UInt64, force: Bool = false) {
        self.label = label
        self.total = total
        enabled = force || (isTerminal(2) && total >= Self.minimumByteCount)
    }

    /// Reports that `done` of the total bytes are finished.
    public func update(_ done: UInt64) {
        guard enabled else { return }
        let now = monotonicSeconds()
        guard now - lastDraw >= 0.1 || done >= total else { return }
        lastDraw = now
        draw(Self.render(label: label, done: done, total: total, elapsed: now - start, width: terminalWidth()))
    }

    /// Erases the bar, leaving the cursor at the start of an empty line.
    public func finish() {
        guard enabled, drawn else { return }
        writeToStandardError("\r\u{1B}[K")
        drawn = false
    }

    private func draw(_ line: String) {
        writeToStandardError("\r\u{1B}[K" + line)
        drawn = true
    }

    /// The text of the bar (no control characters), at most `width` columns.
    public static func render(label: String, done: UInt64, total: UInt64, elapsed: Double, width: Int) -> String {
        let fraction = total == 0 ? 1 : min(1, Double(done) / Double(total))
        let percent = String(Int((fraction * 100).rounded(.down))).leftPadded(3, with: " ") + "%"
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? formatDuration(Double(total - min(done, total)) / rate) : "--:--"
        let tail = "  \(formatByteCount(min(done, total))) of \(formatByteCount(total))  \(formatByteCount(UInt64(rate)))/s  ETA \(eta)"
        let shortLabel = label.count > 24 ? String(label.prefix(23)) + "…" : label
        let barWidth = max(10, min(40, width - shortLabel.count - percent.count - tail.count - 5))
        let filled = Int((fraction * Double(barWidth)).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: barWidth - filled)
        return "\(shortLabel) \(percent) [\(bar)]\(tail)"
    }

    private func terminalWidth() -> Int {
        var size = winsize()
        guard ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }
}

/// Seconds on a clock that never goes backwards.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// Writes `text` to standard error as it is (no newline added).
func writeToStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let n = write(2, bytes.baseAddress! + offset, bytes.count - offset)
            if n <= 0 { break }
            offset += n
        }
    }
}
