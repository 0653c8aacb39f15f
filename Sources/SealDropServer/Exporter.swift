import Foundation
import SealDropCrypto
public import SealDropFormat
import SealDropKeys
import SealDropStore
#if canImport(Glibc)
import Glibc
#endif

/// What one export wrote to its folder.
public struct ExportResult: Sendable {
    /// The signed manifest, as written.
    public let manifest: ExportManifest
    /// BLAKE2b-256 of the manifest file: the next export's previous hash.
    public let manifestHash: [UInt8]
    /// The bytes copied: submissions and their records.
    public let totalBytes: UInt64
    /// Submissions in the inbox without a provenance record, which were not exported.
    public let withoutRecord: Int
    /// Complete submissions beyond what one manifest lists, left for the next export.
    public let leftForNext: Int
    /// The inbox file each exported name was copied from, for ``Exporter/removeExported(_:)``.
    let copied: [String: FileIdentity]

    /// What the operator types back before `--move` removes anything (``ExportManifest/digest(ofHash:)``).
    public var digest: String { ExportManifest.digest(ofHash: manifestHash) }
}

/// `sealdropd export`: copies the complete submissions of a spool's inbox (each `<id>.sealdrop`
/// with its `<id>.record`; never `tmp/` or `partial/`) to a folder on removable media, each
/// file synced, then writes the signed ``ExportManifest`` last (so an interrupted export leaves
/// no manifest), then the spool's chain state (``ExportChainState``, `<spool>/export-chain`),
/// atomically. It runs beside the daemon: it does not take the spool's lock, which the daemon
/// holds, but a lock of its own (`<spool>/export.lock`), so two exports never interleave.
///
/// ``removeExported(_:)`` then removes from the inbox exactly the files the manifest lists, and
/// only those still the very files copied (same device and inode).
public final class Exporter {
    /// The file whose `flock` serialises exports, in the spool root.
    public static let lockFileName = "export.lock"

    private let spoolRoot: String
    private let signer: DropSigner
    private let rootFD: Int32
    private let inboxFD: Int32
    private let lockFD: Int32

    /// Opens the spool at `spoolRoot` for an export signed by `signer`, and takes the export
    /// lock (released when the exporter is).
    public init(spoolRoot: String, signer: DropSigner) throws(StartupError) {
        let root = openFolder(spoolRoot)
        guard root >= 0 else {
            throw StartupError("cannot open the spool \(spoolRoot): \(errnoDescription())", hint: "give the daemon's settings (--config, or --spool DIR) and run as the daemon's user")
        }
        let inbox = openFolder(SpoolLayout.inboxFolderName, in: root)
        guard inbox >= 0 else {
            let text = errnoDescription()
            close(root)
            throw StartupError("cannot open the inbox of the spool \(spoolRoot): \(text)", hint: "the daemon makes it on its first start; is this the daemon's spool?")
        }
        let lock = openat(root, Self.lockFileName, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard lock >= 0, flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            let busy = lock >= 0 && errno == EWOULDBLOCK
            let text = errnoDescription()
            if lock >= 0 { close(lock) }
            close(inbox)
            close(root)
            throw busy ? StartupError("another sealdropd export of this spool is running", hint: "wait for it to finish, then export again")
                       : StartupError("cannot lock \(Self.lockFileName) in \(spoolRoot): \(text)", hint: "run as the daemon's user")
        }
        self.spoolRoot = spoolRoot
        self.signer = signer
        rootFD = root
        inboxFD = inbox
        lockFD = lock
    }

    deinit {
        close(lockFD)
        close(inboxFD)
        close(rootFD)
    }

    /// The chain state the spool keeps (the last export's), nil before the first export.
    public func chainState() throws(StartupError) -> ExportChainState? {
        guard let bytes = try readWholeFile(ExportChainState.fileName, in: rootFD, limit: 4096) else { return nil }
        guard let states = ExportChainState.parseFile(String(decoding: bytes, as: UTF8.self)), states.count == 1 else {
            throw StartupError("\(spoolRoot)/\(ExportChainState.fileName) is damaged",
                              hint: "it is written only by sealdropd export; restore it from the last export's manifest hash, or remove it to start a new chain at 1 (the keyholder will then report the chain going backwards)")
        }
        return states[0]
    }

    /// Copies the inbox's complete submissions to `destination` (made, mode 0700, if missing;
    /// refused if it already holds an export or submissions), writes the signed manifest and
    /// records the new chain state.
    public func export(to destination: String) throws(StartupError) -> ExportResult {
        let last = try chainState()
        let folder = try openDestination(destination)
        defer { close(folder) }
        let (pairs, withoutRecord) = try completePairs()
        let exported = pairs.prefix(ExportManifest.maximumEntries)
        var entries: [ExportManifest.Entry] = []
        var copied: [String: FileIdentity] = [:]
        var total: UInt64 = 0
        for id in exported {
            guard let pair = try copyPair(id, to: folder, destination: destination, copied: &copied) else { continue }
            let (submission, record) = pair
            entries.append(ExportManifest.Entry(id: id, bytes: submission.bytes, hash: submission.hash, recordBytes: record.bytes, recordHash: record.hash))
            total += submission.bytes + record.bytes
        }
        guard fsync(folder) == 0 else { throw StartupError("cannot sync \(destination): \(errnoDescription())", hint: "check the medium") }
        let manifest = ExportManifest(dropKey: signer.publicKey, sequence: (last?.sequence ?? 0) + 1, previousHash: last?.manifestHash, entries: entries)
        let file = signer.sign(manifest)
        try writeAtomically(file, as: ExportManifest.fileName, in: folder, folderPath: destination, replacing: false)
        let hash = ExportManifest.hash(ofFile: file)
        let state = ExportChainState(after: manifest, manifestHash: hash)
        try writeAtomically(Array(ExportChainState.fileText([state]).utf8), as: ExportChainState.fileName, in: rootFD, folderPath: spoolRoot, replacing: true)
        return ExportResult(manifest: manifest, manifestHash: hash, totalBytes: total, withoutRecord: withoutRecord,
                            leftForNext: pairs.count - exported.count, copied: copied)
    }

    /// Removes from the inbox the files `result`'s manifest lists (each `<id>.sealdrop` and
    /// `<id>.record`) that are still the files copied, then syncs the inbox. Returns how many
    /// submissions were removed, and how many were not (gone, or replaced since).
    public func removeExported(_ result: ExportResult) throws(StartupError) -> (removed: Int, notRemoved: Int) {
        var removed = 0
        for entry in result.manifest.entries {
            var all = true
            for name in [entry.id.fileName, "\(entry.id.text).\(SpoolLayout.recordExtension)"] {
                var info = stat()
                guard let identity = result.copied[name], fstatat(inboxFD, name, &info, AT_SYMLINK_NOFOLLOW) == 0,
                      FileIdentity(info) == identity, unlinkat(inboxFD, name, 0) == 0 else {
                    all = false
                    continue
                }
            }
            if all { removed += 1 }
        }
        guard fsync(inboxFD) == 0 else {
            throw StartupError("cannot sync the inbox of \(spoolRoot): \(errnoDescription())", hint: "check the disk; the removals may not be durable")
        }
        return (removed, result.manifest.entries.count - removed)
    }

    /// Makes or opens the export folder, refusing a link, and a folder that already holds a
    /// manifest, submissions or records.
    private func openDestination(_ destination: String) throws(StartupError) -> Int32 {
        if mkdir(destination, 0o700) != 0 && errno != EEXIST {
            throw StartupError("cannot create the export folder \(destination): \(errnoDescription())", hint: "mount the medium and give a folder on it whose parent exists")
        }
        let folder = openFolder(destination)
        guard folder >= 0 else {
            throw StartupError("cannot open the export folder \(destination): \(errnoDescription())", hint: "give a real folder (not a symbolic link) on the mounted medium")
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: destination)) ?? []
        if names.contains(where: { $0 == ExportManifest.fileName || $0.hasSuffix("." + SpoolLayout.submissionExtension) || $0.hasSuffix("." + SpoolLayout.recordExtension) }) {
            close(folder)
            throw StartupError("\(destination) already holds an export (a manifest, submissions or records)",
                              hint: "export each time into a new, empty folder, e.g. \((destination as NSString).deletingLastPathComponent)/export-\(Self.today())")
        }
        return folder
    }

    /// The IDs of the inbox's complete submissions (a `.sealdrop` with its `.record`), sorted,
    /// and how many `.sealdrop` files have no record. A record alone is a commit in progress.
    private func completePairs() throws(StartupError) -> (ids: [SubmissionID], withoutRecord: Int) {
        let inboxPath = (spoolRoot as NSString).appendingPathComponent(SpoolLayout.inboxFolderName)
        let names: Set<String>
        do { names = Set(try FileManager.default.contentsOfDirectory(atPath: inboxPath)) } catch {
            throw StartupError("cannot list the inbox \(inboxPath)", hint: "run as the daemon's user")
        }
        var ids: [SubmissionID] = [], withoutRecord = 0
        for name in names where name.hasSuffix("." + SpoolLayout.submissionExtension) {
            guard let id = SubmissionID(String(name.dropLast(SpoolLayout.submissionExtension.count + 1))) else { continue }
            if names.contains("\(id.text).\(SpoolLayout.recordExtension)") { ids.append(id) } else { withoutRecord += 1 }
        }
        return (ids.sorted { $0.text < $1.text }, withoutRecord)
    }

    /// Copies one submission and its record; nil if either vanished from the inbox meanwhile.
    private func copyPair(_ id: SubmissionID, to folder: Int32, destination: String,
                          copied: inout [String: FileIdentity]) throws(StartupError) -> ((bytes: UInt64, hash: [UInt8]), (bytes: UInt64, hash: [UInt8]))? {
        let names = [id.fileName, "\(id.text).\(SpoolLayout.recordExtension)"]
        var sources: [(fd: Int32, identity: FileIdentity)] = []
        defer { for source in sources { close(source.fd) } }
        for name in names {
            let fd = openat(inboxFD, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
            guard fd >= 0 else {
                if errno == ENOENT { return nil }
                throw StartupError("cannot open \(name) in the inbox: \(errnoDescription())", hint: "run as the daemon's user")
            }
            var info = stat()
            guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
                close(fd)
                throw StartupError("\(name) in the inbox is not a regular file", hint: "the inbox holds only what the daemon wrote; check the spool")
            }
            sources.append((fd, FileIdentity(info)))
        }
        let submission = try copyHashing(sources[0].fd, to: names[0], in: folder, folderPath: destination)
        let record = try copyHashing(sources[1].fd, to: names[1], in: folder, folderPath: destination)
        copied[names[0]] = sources[0].identity
        copied[names[1]] = sources[1].identity
        return (submission, record)
    }

    private static func today() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: Date())
    }
}
