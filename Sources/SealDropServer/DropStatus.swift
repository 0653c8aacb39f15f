public import Foundation
import SealDropKeys
public import SealDropStore
#if canImport(Glibc)
import Glibc
#endif

/// What `sealdropd status` reports: counts and padded sizes in the spool, free space and inodes,
/// quota use, the recipients in force, and the age of the oldest submission. Nothing about any
/// source or any one submission. It is for the operator on the machine: how the counts change
/// over time tells when submissions arrive, so it must not be served to remote monitoring.
public struct DropStatus: Sendable, Codable, Equatable {
    /// A number of files and their sizes summed.
    public struct Files: Sendable, Codable, Equatable {
        public var count: Int
        public var bytes: UInt64
    }

    /// The recipients a daemon with this configuration seals to.
    public struct Recipients: Sendable, Codable, Equatable {
        /// Their key IDs.
        public var keyIDs: [String]
        /// The signed list's serial, if the recipients come from one.
        public var serial: UInt64? = nil
        /// When the signed list expires (ISO 8601), if they come from one.
        public var expires: String? = nil
        /// Why they could not be read (the daemon would not start, or keeps its previous ones).
        public var problem: String? = nil

        enum CodingKeys: String, CodingKey {
            case keyIDs = "key_ids", serial, expires, problem
        }
    }

    /// The spool folder.
    public var spool: String
    /// Whether a daemon holds the spool's lock.
    public var daemonRunning: Bool
    /// The running daemon's process ID and the outcome of its last reload.
    public var daemonPID: Int32?
    public var lastReload: String?
    /// Complete submissions in the inbox (sealed, padded sizes).
    public var inbox: Files
    /// Their provenance records.
    public var records: Files
    /// Uploads in progress (`tmp`).
    public var inProgress: Files
    /// Resumable uploads kept (`partial`).
    public var resumable: Files
    /// Days since the oldest submission's day of arrival; nil with an empty inbox.
    public var oldestSubmissionDays: Int?
    /// Free bytes and inodes on the spool's file system, and the reserves the daemon keeps.
    public var freeBytes: UInt64
    public var freeInodes: UInt64
    public var freeBytesReserve: UInt64
    public var freeInodesReserve: UInt64
    /// What the quota counts as used (each file's charge, as the daemon counts it) and the quota.
    public var quotaUsedBytes: UInt64
    public var quotaBytes: UInt64
    /// The retention in days; nil when off.
    public var retentionDays: Int?
    /// The recipients in force, from the configuration.
    public var recipients: Recipients
}

extension DaemonConfiguration {
    /// The drop's status, read from the spool without taking its lock (the daemon may be running).
    /// Throws when the spool cannot be read.
    public func status(now: Date = Date()) throws(StartupError) -> DropStatus {
        let inventory: SpoolInventory
        do { inventory = try SpoolInventory.take(root: spool) } catch {
            throw StartupError("cannot read the spool: \(error.description)", hint: "run status as the daemon's user (sudo -u sealdrop sealdropd status …) or as root")
        }
        var info = statvfs()
        guard statvfs(spool, &info) == 0 else {
            throw StartupError("cannot read the free space of \(spool): \(String(cString: strerror(errno)))", hint: "check that the spool exists")
        }
        let running = Self.spoolIsLocked(spool)
        let outcome = running ? ReloadOutcome.read(spoolRoot: spool) : nil
        let charged = [inventory.submissions, inventory.records, inventory.resumable, inventory.resumableRecords]
            .flatMap(\.sizes).reduce(UInt64(0)) { $0 + SpaceAccount.charge(forFileBytes: $1) }
            + inventory.inProgress.sizes.reduce(UInt64(0)) { $0 + SpaceAccount.charge(forFileBytes: $1) }
        func files(_ tally: SpoolInventory.Tally) -> DropStatus.Files { .init(count: tally.count, bytes: tally.bytes) }
        return DropStatus(
            spool: spool, daemonRunning: running, daemonPID: outcome?.pid, lastReload: outcome?.result,
            inbox: files(inventory.submissions), records: files(inventory.records),
            inProgress: files(inventory.inProgress), resumable: files(inventory.resumable),
            oldestSubmissionDays: inventory.oldestArrival.map { max(0, Int(now.timeIntervalSince($0) / 86_400)) },
            freeBytes: UInt64(info.f_bavail) * UInt64(info.f_frsize), freeInodes: UInt64(info.f_favail),
            freeBytesReserve: limits.freeDiskReserveBytes, freeInodesReserve: limits.freeInodeReserve,
            quotaUsedBytes: charged, quotaBytes: limits.spoolQuotaBytes,
            retentionDays: retention > .zero ? Int(retention.components.seconds / 86_400) : nil,
            recipients: recipientsInForce()
        )
    }

    private func recipientsInForce() -> DropStatus.Recipients {
        do {
            let recipients = try configuredRecipients()
            guard case .signedList(let list, _, _) = recipients else { return .init(keyIDs: recipients.keyIDs) }
            return .init(keyIDs: recipients.keyIDs, serial: list.serial, expires: ISO8601DateFormatter().string(from: list.expires))
        } catch {
            return .init(keyIDs: [], problem: error.message)
        }
    }

    /// Whether a process holds the spool's lock (a running daemon), found by asking for it.
    static func spoolIsLocked(_ root: String) -> Bool {
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return errno == EWOULDBLOCK
    }
}
