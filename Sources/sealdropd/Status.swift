import ArgumentParser
import Foundation
import SealDropCLISupport
import SealDropServer

/// `sealdropd status`: counts and sizes in the spool, free space, quota, keys in force.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the drop's state: counts and padded sizes in the spool, free space, quota, keys in force.",
        discussion: """
            Takes the daemon's settings (the same --config and flags) and reads the spool \
            without locking it, so it works while the daemon runs: whether a daemon holds the \
            spool and the outcome of its last reload; how many submissions the inbox holds and \
            their sealed, padded sizes; uploads in progress and resumable uploads kept; the age \
            of the oldest submission, in days; free space and inodes against the reserves; the \
            quota's use; the recipients' key IDs, and the signed list's serial and expiry. \
            Nothing about any source or any one submission.

            It is for the operator on the machine. Do not feed it to remote monitoring: how \
            its counts change over time tells when submissions arrive.

            Example:
              sealdropd status --config /etc/sealdrop/sealdropd.yaml
              sealdropd status --config /etc/sealdrop/sealdropd.yaml --json

            Exit status: 0 when the state was read; 1 when the spool cannot be read; 64 for a \
            usage error.
            """
    )

    @Flag(help: "Print one JSON object instead of lines of text.")
    var json = false

    @OptionGroup var settings: DaemonSettings

    func run() async throws {
        let status: DropStatus
        do { status = try await settings.resolved().status() } catch { fail(error) }
        if json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(status), as: UTF8.self))
            return
        }
        for line in Self.lines(status) { print(line) }
    }

    static func lines(_ status: DropStatus) -> [String] {
        func size(_ bytes: UInt64) -> String { formatByteCount(bytes) }
        var lines = ["spool: \(status.spool)"]
        if status.daemonRunning {
            lines.append("daemon: running" + (status.daemonPID.map { " (process \($0))" } ?? ""))
            if let reload = status.lastReload { lines.append("last reload: \(reload)") }
        } else {
            lines.append("daemon: not running (nothing holds the spool)")
        }
        lines.append("inbox: \(status.inbox.count) submission(s), \(size(status.inbox.bytes)) sealed and padded; \(status.records.count) record(s), \(size(status.records.bytes))")
        lines.append("uploads in progress: \(status.inProgress.count), \(size(status.inProgress.bytes)) so far")
        lines.append("resumable uploads kept: \(status.resumable.count), \(size(status.resumable.bytes))")
        lines.append("oldest submission: " + (status.oldestSubmissionDays.map { "arrived \($0) day(s) ago" } ?? "none"))
        lines.append("retention: " + (status.retentionDays.map { "\($0) day(s)" } ?? "off (kept until exported)"))
        lines.append("free space: \(size(status.freeBytes)) (reserve \(size(status.freeBytesReserve))); free inodes: \(status.freeInodes) (reserve \(status.freeInodesReserve))")
        let percent = status.quotaBytes > 0 ? Double(status.quotaUsedBytes) / Double(status.quotaBytes) * 100 : 100
        lines.append("quota: \(size(status.quotaUsedBytes)) of \(size(status.quotaBytes)) used (\(String(format: "%.1f", percent))%)")
        let recipients = status.recipients
        if let problem = recipients.problem {
            lines.append("recipients: cannot be read: \(problem)")
        } else {
            var line = "recipients: key ID \(recipients.keyIDs.joined(separator: ", "))"
            if let serial = recipients.serial { line += "; signed list serial \(serial)" }
            if let expires = recipients.expires { line += ", expires \(expires)" }
            lines.append(line)
        }
        return lines
    }
}
