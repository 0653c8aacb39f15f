public import Foundation

/// What a spool holds, counted from outside the daemon (`sealdropd status`): read only, without
/// the daemon's lock, so that it works while the daemon runs. Counts and sizes only; the sizes
/// of submissions are their padded, sealed sizes (what any reader of the disk sees anyway).
public struct SpoolInventory: Sendable, Equatable {
    /// The files of one kind in one folder.
    public struct Tally: Sendable, Equatable, Codable {
        /// How many.
        public var count = 0
        /// Their sizes, summed.
        public var bytes: UInt64 = 0
        /// Each file's size (for the quota's charge).
        public var sizes: [UInt64] = []

        mutating func add(_ size: UInt64) {
            count += 1
            bytes += size
            sizes.append(size)
        }

        enum CodingKeys: String, CodingKey { case count, bytes }
    }

    /// Complete submissions in `inbox`.
    public var submissions = Tally()
    /// Their provenance records.
    public var records = Tally()
    /// Uploads in progress (`tmp`).
    public var inProgress = Tally()
    /// Resumable uploads kept in `partial` (their data files).
    public var resumable = Tally()
    /// Resumable uploads' records in `partial`.
    public var resumableRecords = Tally()
    /// The earliest day of arrival of a submission in the inbox (the spool keeps only the day).
    public var oldestArrival: Date?

    /// Counts what `root`'s folders hold. A folder that is missing counts as empty; one that
    /// cannot be read is an error.
    public static func take(root: String) throws(SpoolError) -> SpoolInventory {
        var inventory = SpoolInventory()
        let inbox = (root as NSString).appendingPathComponent(SpoolLayout.inboxFolderName)
        for (name, size, modified) in try files(in: inbox) {
            if name.hasSuffix("." + SpoolLayout.submissionExtension) {
                inventory.submissions.add(size)
                inventory.oldestArrival = min(inventory.oldestArrival ?? modified, modified)
            } else if name.hasSuffix("." + SpoolLayout.recordExtension) {
                inventory.records.add(size)
            }
        }
        for (_, size, _) in try files(in: (root as NSString).appendingPathComponent(SpoolLayout.tempFolderName)) {
            inventory.inProgress.add(size)
        }
        for (name, size, _) in try files(in: (root as NSString).appendingPathComponent(SpoolLayout.partialFolderName)) {
            if name.hasSuffix("." + SpoolLayout.partialExtension) {
                inventory.resumable.add(size)
            } else if name.hasSuffix("." + SpoolLayout.stateExtension) {
                inventory.resumableRecords.add(size)
            }
        }
        return inventory
    }

    /// Regular files in `folder` (not following links): name, size, modification time.
    private static func files(in folder: String) throws(SpoolError) -> [(String, UInt64, Date)] {
        let folderFD = systemOpen(folder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard folderFD >= 0 else {
            if errno == ENOENT { return [] }
            if errno == EACCES { throw .permissionDenied(path: folder) }
            throw .system(operation: "open", path: folder, errno: errno)
        }
        defer { systemClose(folderFD) }
        return try Spool.entries(of: folderFD, path: folder).compactMap { name, _ in
            var info = stat()
            guard fstatat(folderFD, name, &info, AT_SYMLINK_NOFOLLOW) == 0,
                  UInt32(info.st_mode) & UInt32(S_IFMT) == UInt32(S_IFREG) else { return nil }
            return (name, UInt64(max(0, info.st_size)), Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec)))
        }
    }
}
