public import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The daemon's open spool: the root folder (locked for this process), its `tmp` and `inbox`
/// folders held open by descriptor, and the file operations of one submission's life:
///
/// 1. ``createTemporaryFile(for:)``: `tmp/<id>.partial`, `O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600;
/// 2. ``SpoolFile/write(_:at:)`` (positioned writes) and ``SpoolFile/finish(dayOf:)`` (times set
///    to the day, `fsync`, close);
/// 3. ``commit(_:dayOf:)``: rename into `inbox/<id>.sealdrop` without replacing anything, then
///    `fsync` the inbox folder; or ``discard(_:)`` to remove the temporary file.
///
/// A resumable upload lives in `partial/` from ``createPartial(_:state:dayOf:)`` on, with its
/// record (``PartialState``): ``keep(_:state:dayOf:)`` syncs it and records how many of its bytes
/// are durable; ``reopen(_:)`` opens it again, cut back to that many bytes; ``commit(_:record:dayOf:)``
/// moves it to the inbox like any other.
///
/// Every method blocks in system calls: call them from a thread meant for blocking work. All
/// paths are resolved relative to the folders' descriptors, so swapping `tmp` or `inbox` for a
/// symbolic link after start-up has no effect.
public final class Spool: Sendable {
    /// The spool root as given.
    public let rootPath: String
    private let rootFD: Int32
    private let tempFD: Int32
    private let partialFD: Int32
    private let inboxFD: Int32

    /// Opens and checks a spool root, creating its `tmp` and `inbox` folders (mode 0700) if
    /// needed, and takes an exclusive lock on it so a second daemon cannot share it.
    ///
    /// Refused: a root that is missing, not a folder, owned by another user than the effective
    /// user, accessible to group or others (`mode & 0o077 != 0`), or not writable; `tmp` or
    /// `inbox` that are symbolic links, not folders, owned by someone else or accessible to others.
    public static func open(root: String) throws(SpoolError) -> Spool {
        // Open first, then check what was opened: nothing can swap the folder in between.
        let rootFD = systemOpen(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else {
            let code = errno
            if code == ENOENT { throw .missing(path: root) }
            if code == ENOTDIR { throw .notADirectory(path: root) }
            if code == EACCES {
                // Say why, if the folder's owner and mode tell.
                var info = stat()
                if stat(root, &info) == 0 { try checkFolder(info, path: root) }
                throw .permissionDenied(path: root)
            }
            throw .system(operation: "open", path: root, errno: code)
        }
        try checkOpenFolder(rootFD, path: root)
        guard faccessat(rootFD, ".", W_OK | X_OK, 0) == 0 else {
            systemClose(rootFD)
            throw .notWritable(path: root)
        }
        guard flock(rootFD, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            systemClose(rootFD)
            if code == EWOULDBLOCK { throw .locked(path: root) }
            throw .system(operation: "lock", path: root, errno: code)
        }
        let tempFD: Int32
        do { tempFD = try openSubfolder(SpoolLayout.tempFolderName, in: rootFD, root: root) } catch {
            systemClose(rootFD)
            throw error
        }
        let partialFD: Int32
        do { partialFD = try openSubfolder(SpoolLayout.partialFolderName, in: rootFD, root: root) } catch {
            systemClose(tempFD)
            systemClose(rootFD)
            throw error
        }
        let inboxFD: Int32
        do { inboxFD = try openSubfolder(SpoolLayout.inboxFolderName, in: rootFD, root: root) } catch {
            systemClose(partialFD)
            systemClose(tempFD)
            systemClose(rootFD)
            throw error
        }
        return Spool(rootPath: root, rootFD: rootFD, tempFD: tempFD, partialFD: partialFD, inboxFD: inboxFD)
    }

    private init(rootPath: String, rootFD: Int32, tempFD: Int32, partialFD: Int32, inboxFD: Int32) {
        self.rootPath = rootPath
        self.rootFD = rootFD
        self.tempFD = tempFD
        self.partialFD = partialFD
        self.inboxFD = inboxFD
    }

    deinit {
        systemClose(inboxFD)
        systemClose(partialFD)
        systemClose(tempFD)
        systemClose(rootFD)  // releases the lock
    }

    /// The path of `tmp` (for messages and tests).
    public var tempPath: String { (rootPath as NSString).appendingPathComponent(SpoolLayout.tempFolderName) }
    /// The path of `inbox` (for messages and tests).
    public var inboxPath: String { (rootPath as NSString).appendingPathComponent(SpoolLayout.inboxFolderName) }
    /// The path of `partial` (for messages and tests).
    public var partialPath: String { (rootPath as NSString).appendingPathComponent(SpoolLayout.partialFolderName) }

    /// Checks an open folder (see ``checkFolder(_:path:)``); closes `fd` if it fails.
    private static func checkOpenFolder(_ fd: Int32, path: String) throws(SpoolError) {
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            systemClose(fd)
            throw .system(operation: "stat", path: path, errno: code)
        }
        do { try checkFolder(info, path: path) } catch {
            systemClose(fd)
            throw error
        }
    }

    private static func checkFolder(_ info: stat, path: String) throws(SpoolError) {
        let mode = UInt32(info.st_mode)
        guard mode & UInt32(S_IFMT) == UInt32(S_IFDIR) else { throw .notADirectory(path: path) }
        let euid = geteuid()
        guard info.st_uid == euid else { throw .wrongOwner(path: path, owner: UInt32(info.st_uid), expected: UInt32(euid)) }
        guard mode & 0o077 == 0 else { throw .accessibleToOthers(path: path, mode: mode) }
    }

    private static func openSubfolder(_ name: String, in rootFD: Int32, root: String) throws(SpoolError) -> Int32 {
        let path = (root as NSString).appendingPathComponent(name)
        if mkdirat(rootFD, name, 0o700) != 0, errno != EEXIST {
            throw .system(operation: "mkdir", path: path, errno: errno)
        }
        let fd = openat(rootFD, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ELOOP || code == ENOTDIR { throw .notADirectory(path: path) }
            throw .system(operation: "open", path: path, errno: code)
        }
        try checkOpenFolder(fd, path: path)
        return fd
    }

    // MARK: Start-up

    /// Removes everything but folders from `tmp`: uploads a previous run did not finish (and
    /// anything else planted there). Returns how many entries it removed.
    @discardableResult
    public func sweepTemporaryFiles() throws(SpoolError) -> Int {
        var removed = 0
        for (name, type) in try Self.entries(of: tempFD, path: tempPath) where type != UInt8(DT_DIR) {
            if unlinkat(tempFD, name, 0) == 0 { removed += 1 } else if errno != ENOENT {
                throw .system(operation: "unlink", path: (tempPath as NSString).appendingPathComponent(name), errno: errno)
            }
        }
        return removed
    }

    /// Brings `partial/` back to a known state after a restart: cuts every open resumable
    /// upload back to the bytes its record says are durable (a crash may have left more, never
    /// synced); marks finished an open record whose data was already committed to the inbox (a
    /// crash between the rename and the record); removes a record without its data, a damaged
    /// record with its data, data without a record, and anything else. Returns how many uploads
    /// are open.
    @discardableResult
    public func recoverKeptUploads() throws(SpoolError) -> Int {
        var open = 0
        var changed = false
        let names = try Self.entries(of: partialFD, path: partialPath).filter { $0.1 != UInt8(DT_DIR) }.map(\.0)
        let records = Set(names.filter { $0.hasSuffix("." + SpoolLayout.stateExtension) })
        for name in names {
            if name.hasSuffix("." + SpoolLayout.stateExtension),
               let id = SubmissionID(String(name.dropLast(SpoolLayout.stateExtension.count + 1))) {
                switch try? readState(of: id) {
                case let state? where state.status == .open:
                    if let (file, _) = try? reopen(id) {
                        file.close()
                        open += 1
                        continue
                    }
                    if faccessat(inboxFD, id.fileName, F_OK, AT_SYMLINK_NOFOLLOW) == 0 {
                        var finished = state
                        finished.status = .finished
                        if (try? writeState(finished, of: id)) != nil { continue }
                    }
                case .some:
                    continue
                case nil:
                    break
                }
                unlinkat(partialFD, Self.temporaryName(id), 0)
            } else if name.hasSuffix("." + SpoolLayout.partialExtension),
                      let id = SubmissionID(String(name.dropLast(SpoolLayout.partialExtension.count + 1))),
                      records.contains(Self.stateName(id)) {
                continue
            }
            unlinkat(partialFD, name, 0)
            changed = true
        }
        if changed { fsync(partialFD) }
        return open
    }

    /// Removes every submission in `inbox` that arrived before `cutoff` (its file's modification
    /// time, which the spool sets to the day of arrival), with its provenance record, then
    /// `fsync`s the inbox. Only `inbox` is read: uploads in progress (`tmp`) and resumable
    /// uploads (`partial`) are never touched. Returns how many submissions it removed.
    public func removeSubmissions(arrivedBefore cutoff: Date) throws(SpoolError) -> Int {
        let limit = Int(cutoff.timeIntervalSince1970.rounded(.down))
        var removed = 0
        let suffix = "." + SpoolLayout.submissionExtension
        for (name, _) in try Self.entries(of: inboxFD, path: inboxPath) where name.hasSuffix(suffix) {
            var info = stat()
            guard fstatat(inboxFD, name, &info, AT_SYMLINK_NOFOLLOW) == 0,
                  UInt32(info.st_mode) & UInt32(S_IFMT) == UInt32(S_IFREG), info.st_mtim.tv_sec < limit else { continue }
            guard unlinkat(inboxFD, name, 0) == 0 else {
                if errno == ENOENT { continue }  // exported meanwhile
                throw .system(operation: "unlink", path: (inboxPath as NSString).appendingPathComponent(name), errno: errno)
            }
            removed += 1
            let record = String(name.dropLast(suffix.count)) + "." + SpoolLayout.recordExtension
            unlinkat(inboxFD, record, 0)
        }
        if removed > 0, fsync(inboxFD) != 0 {
            throw .system(operation: "fsync", path: inboxPath, errno: errno)
        }
        return removed
    }

    /// What the submissions in `inbox` (with their records) and the uploads kept in `partial`
    /// cost against the spool quota: `charge` of each file's size, summed.
    public func storedCharge(_ charge: (UInt64) -> UInt64) throws(SpoolError) -> UInt64 {
        var total: UInt64 = 0
        let folders = [(inboxFD, inboxPath, [SpoolLayout.submissionExtension, SpoolLayout.recordExtension]),
                       (partialFD, partialPath, [SpoolLayout.partialExtension, SpoolLayout.stateExtension])]
        for (folderFD, path, endings) in folders {
            for (name, _) in try Self.entries(of: folderFD, path: path) where endings.contains(where: { name.hasSuffix("." + $0) }) {
                var info = stat()
                if fstatat(folderFD, name, &info, AT_SYMLINK_NOFOLLOW) == 0, UInt32(info.st_mode) & UInt32(S_IFMT) == UInt32(S_IFREG) {
                    total += charge(UInt64(max(0, info.st_size)))
                }
            }
        }
        return total
    }

    /// Bytes and inodes an unprivileged process may still use on the spool's file system
    /// (`statvfs`: `f_bavail` blocks, `f_favail` inodes).
    public func available() throws(SpoolError) -> (bytes: UInt64, inodes: UInt64) {
        var info = statvfs()
        guard fstatvfs(tempFD, &info) == 0 else { throw .system(operation: "statvfs", path: tempPath, errno: errno) }
        return (UInt64(info.f_bavail) * UInt64(info.f_frsize), UInt64(info.f_favail))
    }

    /// The names and types of a folder's entries, without `.` and `..` (`folderFD` stays open).
    static func entries(of folderFD: Int32, path: String) throws(SpoolError) -> [(String, UInt8)] {
        let fd = openat(folderFD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0, let dir = fdopendir(fd) else {
            let code = errno
            if fd >= 0 { systemClose(fd) }
            throw .system(operation: "open", path: path, errno: code)
        }
        defer { closedir(dir) }
        var result: [(String, UInt8)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name == "." || name == ".." { continue }
            result.append((name, UInt8(entry.pointee.d_type)))
        }
        return result
    }

    // MARK: One submission

    /// Creates `tmp/<id>.partial` for writing: `O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC`,
    /// mode 0600 (set again with `fchmod`, whatever the umask). Fails if anything, including a
    /// symbolic link, already has that name; nothing is removed then.
    public func createTemporaryFile(for id: SubmissionID) throws(SpoolError) -> SpoolFile {
        let name = Self.temporaryName(id)
        let fd = openat(tempFD, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .system(operation: "create", path: temporaryPath(id), errno: errno) }
        guard fchmod(fd, 0o600) == 0 else {
            let code = errno
            systemClose(fd)
            unlinkat(tempFD, name, 0)
            throw .system(operation: "chmod", path: temporaryPath(id), errno: code)
        }
        return SpoolFile(id: id, fd: fd, path: temporaryPath(id), kept: false)
    }

    /// Moves a finished temporary file into the inbox as `inbox/<id>.sealdrop`, after its
    /// provenance `record` as `inbox/<id>.record` (written and synced first), refusing to
    /// replace anything there, sets the `tmp` and `inbox` folders' times to the start of the
    /// day of `date` (so they do not tell when the last upload came), and `fsync`s the inbox
    /// folder. If that `fsync` fails the new inbox entry is removed again and the error thrown:
    /// a submission is either durable or gone.
    public func commit(_ file: SpoolFile, record: [UInt8], dayOf date: Date) throws(SpoolError) {
        let fromFD = file.kept ? partialFD : tempFD
        let from = Self.temporaryName(file.id)
        let to = file.id.fileName
        let target = (inboxPath as NSString).appendingPathComponent(to)
        var times = Self.dayTimes(date)
        let recordName = try placeRecord(record, of: file.id, times: times)
        do {
            try renameNoReplace(from: from, in: fromFD, to: to, in: inboxFD, target: target)
        } catch {
            unlinkat(inboxFD, recordName, 0)
            throw error
        }
        _ = futimens(inboxFD, &times)
        _ = futimens(fromFD, &times)
        guard fsync(inboxFD) == 0 else {
            let code = errno
            unlinkat(inboxFD, to, 0)
            unlinkat(inboxFD, recordName, 0)
            throw .system(operation: "fsync", path: inboxPath, errno: code)
        }
        if file.kept {
            _ = futimens(partialFD, &times)
            fsync(partialFD)
        }
    }

    /// Writes a submission's provenance record as `tmp/<id>.record` (0600, `O_EXCL`), with the
    /// day's times, `fsync`s it and renames it into the inbox (never replacing anything); the
    /// caller's `fsync` of the inbox makes the name durable. Returns the record's inbox name.
    private func placeRecord(_ record: [UInt8], of id: SubmissionID, times: [timespec]) throws(SpoolError) -> String {
        let name = "\(id).\(SpoolLayout.recordExtension)"
        let path = (tempPath as NSString).appendingPathComponent(name)
        let fd = openat(tempFD, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .system(operation: "create", path: path, errno: errno) }
        do throws(SpoolError) {
            guard fchmod(fd, 0o600) == 0 else {
                let code = errno
                systemClose(fd)
                throw .system(operation: "chmod", path: path, errno: code)
            }
            try Self.fill(SpoolFile(id: id, fd: fd, path: path, kept: false), with: record,
                          dayOf: Date(timeIntervalSince1970: TimeInterval(times[0].tv_sec)))
            try renameNoReplace(from: name, in: tempFD, to: name, in: inboxFD, target: (inboxPath as NSString).appendingPathComponent(name))
        } catch {
            unlinkat(tempFD, name, 0)
            throw error
        }
        return name
    }

    /// Removes a submission's temporary file (after ``SpoolFile/close()`` or a failed finish),
    /// or a kept one and its record, and sets the folder's times back to the day.
    public func discard(_ file: SpoolFile) {
        let folderFD = file.kept ? partialFD : tempFD
        unlinkat(folderFD, Self.temporaryName(file.id), 0)
        if file.kept { unlinkat(partialFD, Self.stateName(file.id), 0) }
        var times = Self.dayTimes(Date())
        _ = futimens(folderFD, &times)
    }

    // MARK: Kept uploads

    /// Begins a resumable upload: an empty `partial/<id>.partial` (0600, `O_EXCL`) and its
    /// record `state`, both with the day's times, synced with the folder.
    public func createPartial(_ id: SubmissionID, state: PartialState, dayOf date: Date) throws(SpoolError) {
        let name = Self.temporaryName(id)
        let fd = openat(partialFD, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .system(operation: "create", path: partialPath(id), errno: errno) }
        var times = Self.dayTimes(date)
        let ready = fchmod(fd, 0o600) == 0 && futimens(fd, &times) == 0 && fsync(fd) == 0
        let code = errno
        systemClose(fd)
        guard ready else {
            unlinkat(partialFD, name, 0)
            throw .system(operation: "create", path: partialPath(id), errno: code)
        }
        do throws(SpoolError) { try writeState(state, of: id, dayOf: date) } catch {
            unlinkat(partialFD, name, 0)
            throw error
        }
    }

    /// Keeps an upload to be resumed: `fsync`s its file (whose first `state.offset` bytes are
    /// the upload's), sets its times to the day of `date`, moves it to `partial/` if it is still
    /// in `tmp`, and writes `state` as its record (see ``writeState(_:of:dayOf:)``): the record
    /// never claims bytes that are not on the disk.
    public func keep(_ file: SpoolFile, state: PartialState, dayOf date: Date) throws(SpoolError) -> SpoolFile {
        var times = Self.dayTimes(date)
        _ = futimens(file.fd, &times)
        guard fsync(file.fd) == 0 else { throw .system(operation: "fsync", path: file.path, errno: errno) }
        var kept = file
        if !file.kept {
            let name = Self.temporaryName(file.id)
            try renameNoReplace(from: name, in: tempFD, to: name, in: partialFD, target: partialPath(file.id))
            guard fsync(partialFD) == 0 else { throw .system(operation: "fsync", path: partialPath, errno: errno) }
            _ = futimens(tempFD, &times)
            fsync(tempFD)
            kept = SpoolFile(id: file.id, fd: file.fd, path: partialPath(file.id), kept: true)
        }
        try writeState(state, of: file.id, dayOf: date)
        return kept
    }

    /// Opens a kept upload again, cut back to the bytes its record says are durable. Returns
    /// the open file and the record. Throws `ENOENT` (as ``SpoolError/system(operation:path:errno:)``)
    /// when no such upload is kept, `EIO` when its record is damaged or says it is not open.
    public func reopen(_ id: SubmissionID) throws(SpoolError) -> (file: SpoolFile, state: PartialState) {
        let state = try readState(of: id)
        guard state.status == .open else { throw .system(operation: "reopen", path: partialPath(id), errno: EIO) }
        let fd = openat(partialFD, Self.temporaryName(id), O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .system(operation: "open", path: partialPath(id), errno: errno) }
        var info = stat()
        guard fstat(fd, &info) == 0, UInt32(info.st_mode) & UInt32(S_IFMT) == UInt32(S_IFREG), UInt64(info.st_size) >= state.offset else {
            let code = errno == 0 ? EIO : errno
            systemClose(fd)
            throw .system(operation: "reopen", path: partialPath(id), errno: code)
        }
        // Cutting the file back sets its times to now: back to the day.
        var times = Self.dayTimes(Date())
        guard ftruncate(fd, off_t(state.offset)) == 0, futimens(fd, &times) == 0, fsync(fd) == 0 else {
            let code = errno
            systemClose(fd)
            throw .system(operation: "truncate", path: partialPath(id), errno: code)
        }
        return (SpoolFile(id: id, fd: fd, path: partialPath(id), kept: true), state)
    }

    /// Ends a resumable upload that will not be completed: its data is removed and `state` (a
    /// finished or expired record, kept until its `until`) replaces its record.
    public func endPartial(_ id: SubmissionID, state: PartialState, dayOf date: Date) throws(SpoolError) {
        unlinkat(partialFD, Self.temporaryName(id), 0)
        try writeState(state, of: id, dayOf: date)
    }

    /// Removes a resumable upload's record (and its data, if any is left).
    public func removePartial(_ id: SubmissionID) {
        unlinkat(partialFD, Self.temporaryName(id), 0)
        unlinkat(partialFD, Self.stateName(id), 0)
        var times = Self.dayTimes(Date())
        _ = futimens(partialFD, &times)
        fsync(partialFD)
    }

    /// The resumable uploads' records in `partial/`, by ID; nil for a damaged one.
    public func partialStates() throws(SpoolError) -> [(id: SubmissionID, state: PartialState?)] {
        try Self.entries(of: partialFD, path: partialPath).compactMap { name, _ in
            guard name.hasSuffix("." + SpoolLayout.stateExtension),
                  let id = SubmissionID(String(name.dropLast(SpoolLayout.stateExtension.count + 1))) else { return nil }
            return (id, try? readState(of: id))
        }
    }

    private func partialPath(_ id: SubmissionID) -> String {
        (partialPath as NSString).appendingPathComponent(Self.temporaryName(id))
    }

    static func stateName(_ id: SubmissionID) -> String { "\(id.text).\(SpoolLayout.stateExtension)" }

    /// Writes a resumable upload's record. A new one goes to a scratch name, is `fsync`ed and
    /// renamed into place, the folder `fsync`ed; an existing one is overwritten in place (records
    /// have a fixed size of less than a disk sector, see ``PartialState/byteCount``) and
    /// `fsync`ed, which needs no new space on a full disk. Times are set to the day of `date`.
    public func writeState(_ state: PartialState, of id: SubmissionID, dayOf date: Date = Date()) throws(SpoolError) {
        let name = Self.stateName(id)
        let path = (partialPath as NSString).appendingPathComponent(name)
        let existing = openat(partialFD, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
        if existing >= 0 {
            try Self.fill(SpoolFile(id: id, fd: existing, path: path, kept: true), with: state.encoded, dayOf: date)
            return
        }
        guard errno == ENOENT else { throw .system(operation: "open", path: path, errno: errno) }
        let scratch = name + ".new"
        unlinkat(partialFD, scratch, 0)
        let fd = openat(partialFD, scratch, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .system(operation: "create", path: path, errno: errno) }
        do throws(SpoolError) { try Self.fill(SpoolFile(id: id, fd: fd, path: path, kept: true), with: state.encoded, dayOf: date) } catch {
            unlinkat(partialFD, scratch, 0)
            throw error
        }
        guard renameat(partialFD, scratch, partialFD, name) == 0 else { throw .system(operation: "rename", path: path, errno: errno) }
        var times = Self.dayTimes(date)
        _ = futimens(partialFD, &times)
        guard fsync(partialFD) == 0 else { throw .system(operation: "fsync", path: partialPath, errno: errno) }
    }

    /// Writes `bytes` at the start of `file`, then sets its times to the day of `date`, `fsync`s
    /// and closes it (``SpoolFile/finish(dayOf:)``); closes it on any failure too.
    private static func fill(_ file: SpoolFile, with bytes: [UInt8], dayOf date: Date) throws(SpoolError) {
        let failure = bytes.withUnsafeBytes { raw -> SpoolError? in
            do throws(SpoolError) { try file.write(raw, at: 0); return nil } catch { return error }
        }
        if let failure {
            file.close()
            throw failure
        }
        try file.finish(dayOf: date)
    }

    /// Reads a resumable upload's record. Throws `ENOENT` when there is none, `EIO` when it is
    /// damaged.
    public func readState(of id: SubmissionID) throws(SpoolError) -> PartialState {
        let path = (partialPath as NSString).appendingPathComponent(Self.stateName(id))
        let fd = openat(partialFD, Self.stateName(id), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .system(operation: "open", path: path, errno: errno) }
        defer { systemClose(fd) }
        var buffer = [UInt8](repeating: 0, count: PartialState.byteCount + 1)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0, let state = PartialState(parsing: Array(buffer[..<n])) else {
            throw .system(operation: "read", path: path, errno: EIO)
        }
        return state
    }

    /// The path of a submission's temporary file.
    public func temporaryPath(_ id: SubmissionID) -> String {
        (tempPath as NSString).appendingPathComponent(Self.temporaryName(id))
    }

    static func temporaryName(_ id: SubmissionID) -> String { "\(id.text).\(SpoolLayout.partialExtension)" }

    /// Access and modification times both at 00:00:00 UTC of `date`'s day.
    static func dayTimes(_ date: Date) -> [timespec] {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let day = seconds - ((seconds % 86_400) + 86_400) % 86_400
        return [timespec(tv_sec: day, tv_nsec: 0), timespec(tv_sec: day, tv_nsec: 0)]
    }

    /// `renameat2(RENAME_NOREPLACE)`; where the kernel or file system lacks it, `linkat` (which
    /// never replaces either) followed by `unlinkat` of the old name.
    private func renameNoReplace(from: String, in fromFD: Int32, to: String, in toFD: Int32, target: String) throws(SpoolError) {
        if let rename = renameat2Function {
            if rename(fromFD, from, toFD, to, 1 /* RENAME_NOREPLACE */) == 0 { return }
            let code = errno
            guard code == ENOSYS || code == EINVAL else { throw .system(operation: "rename", path: target, errno: code) }
        }
        guard linkat(fromFD, from, toFD, to, 0) == 0 else { throw .system(operation: "link", path: target, errno: errno) }
        unlinkat(fromFD, from, 0)
    }
}

/// An open temporary file of one submission. Its descriptor is used by one thread at a time.
public struct SpoolFile: Sendable {
    /// The submission it belongs to.
    public let id: SubmissionID
    let fd: Int32
    let path: String
    /// Whether it is kept in `partial/` (to be resumed) rather than in `tmp`.
    public let kept: Bool

    /// Writes all of `bytes` at `offset` (`pwrite`, retried on short writes and `EINTR`).
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(SpoolError) {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(operation: "write", path: path, errno: errno)
            }
            done += n
        }
    }

    /// Lets `pacer` start writeback of the bytes written so far (those before `end`).
    public func paceWriteback(_ pacer: inout WritebackPacer, upTo end: Int64) {
        pacer.wrote(upTo: end, fd: fd)
    }

    /// Sets the file's access and modification times to the start of `date`'s UTC day,
    /// `fsync`s it and closes it. On failure the descriptor is closed too.
    public func finish(dayOf date: Date) throws(SpoolError) {
        var times = Spool.dayTimes(date)
        guard futimens(fd, &times) == 0 else {
            let code = errno
            systemClose(fd)
            throw .system(operation: "set times of", path: path, errno: code)
        }
        guard fsync(fd) == 0 else {
            let code = errno
            systemClose(fd)
            throw .system(operation: "fsync", path: path, errno: code)
        }
        guard systemClose(fd) == 0 || errno == EINTR else {
            throw .system(operation: "close", path: path, errno: errno)
        }
    }

    /// Closes the descriptor without syncing (before ``Spool/discard(_:)``, or once kept).
    public func close() {
        systemClose(fd)
    }

    /// Reads up to `buffer.count` bytes at `offset` (a kept upload is reopened read-write);
    /// fewer only at the end of the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(SpoolError) -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(operation: "read", path: path, errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// `fsync`s the file without closing it.
    public func sync() throws(SpoolError) {
        guard fsync(fd) == 0 else { throw .system(operation: "fsync", path: path, errno: errno) }
    }

    /// Sets the file's access and modification times to the start of `date`'s UTC day (what a
    /// file at rest in the spool shows), without closing it.
    public func setDayTimes(_ date: Date) {
        var times = Spool.dayTimes(date)
        _ = futimens(fd, &times)
    }
}
