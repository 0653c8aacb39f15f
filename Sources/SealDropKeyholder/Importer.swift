import Foundation
public import SealDropCLISupport
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropStore

/// `keyholder import MEDIA`: copies the submissions on removable media (a copy of the daemon's
/// spool or inbox, or a folder of `*.sealdrop` files) into the archive, authenticating every
/// byte as it copies it, and records what it found there and where it came from.
///
/// - A submission is read once: each byte is written to the archive's new file as it is read
///   for authentication (``CopyingSource``), so the copy is exactly what was checked. It is
///   named only after its final chunk authenticated (`O_TMPFILE`, then a link that never
///   replaces anything) and synced with its folder.
/// - One that fails authentication is not imported: the medium's copy may be damaged.
/// - One that no key of the keyring opens is imported all the same (it may be sealed to another
///   keyholder, or to a key rotated out of this keyring) and reported.
/// - One the archive already holds is left alone: identical, or the same payload re-keyed in
///   the archive (the server still holds the old header), or a conflict, reported.
/// - Nothing is ever written to the medium.
///
/// A file not named `<id>.sealdrop` gets the ID derived from its header's bytes
/// (``SubmissionID/derived(from:)``), so importing it twice finds it again.
public final class Importer {
    /// What an import reports as it goes.
    public enum Event {
        /// A submission is about to be read (`size` bytes).
        case started(file: String, size: UInt64)
        /// So many of its bytes were read.
        case progress(bytesRead: UInt64)
        /// It is done: its record entry, and why it failed or was not imported, if it was not.
        case finished(ImportRecord.Entry, problem: CLIError?)
    }

    private let archive: Archive
    private let ring: Keyring

    /// Imports into `archive`, authenticating with the keys of `ring`.
    public init(archive: Archive, ring: Keyring) {
        self.archive = archive
        self.ring = ring
    }

    /// Imports every submission of `medium` and saves the import's record. Throws when it
    /// cannot run at all (no such medium, the archive on the medium, a key that will not
    /// unlock, the archive cannot be written); a submission that fails is recorded and reported
    /// through `report`, and the others go on.
    public func importMedium(_ medium: String, report: @escaping (Event) -> Void = { _ in }) throws(CLIError) -> ImportRecord {
        try importFiles(nil, from: medium, report: report)
    }

    /// Imports the export `check` found clean (``ExportCheck/isClean``): exactly the
    /// submissions its manifest lists, as ``importMedium(_:report:)`` does, then checks that
    /// each copy read is the bytes the manifest lists and records the export as the last of its
    /// drop's chain (``ExportChainStore``). A submission that fails is reported as usual; the
    /// export was complete all the same.
    public func importExport(_ check: ExportCheck, report: @escaping (Event) -> Void = { _ in }) throws(CLIError) -> ImportRecord {
        guard check.isClean, let manifest = check.manifest else {
            throw CLIError("the export on \(check.medium) did not verify: nothing was imported", hint: "run keyholder verify --manifest \(check.medium) to see why")
        }
        let record = try importFiles(check.listedFiles, from: check.medium, report: report)
        let listed = Dictionary(uniqueKeysWithValues: manifest.entries.map { ($0.id.text, hex($0.hash)) })
        let changed = record.entries.filter { !$0.blake2b.isEmpty && listed[$0.id] != $0.blake2b }.map(\.id)
        guard changed.isEmpty else {
            throw CLIError("submission \(changed.joined(separator: ", ")) changed on the medium while it was imported: it is not the file the manifest lists",
                           hint: "the chain was not advanced; check the medium and the machine, and import a fresh export")
        }
        try ExportChainStore.record(ExportChainState(after: manifest, manifestHash: check.manifestHash), archive: archive)
        return record
    }

    /// Imports `files` of `medium` (every submission of it when nil) and saves the record.
    private func importFiles(_ listed: [String]?, from medium: String, report: @escaping (Event) -> Void) throws(CLIError) -> ImportRecord {
        guard FileManager.default.fileExists(atPath: medium) else {
            throw CLIError("\(medium) does not exist", hint: "give the folder of the mounted medium: a copy of the daemon's spool or inbox")
        }
        let mediumPath = absolutePath(medium)
        if archive.contains(path: mediumPath) {
            throw CLIError("\(medium) lies inside the archive \(archive.path)", hint: "import from the removable medium itself")
        }
        if let mediumFolder = fileIdentity(path: mediumPath), ancestors(of: archive.path).contains(where: { fileIdentity(path: $0).map { $0 == mediumFolder } ?? false }) {
            throw CLIError("the archive \(archive.path) lies on the medium \(medium)",
                           hint: "keep the archive on the air-gapped machine's own disk (--archive DIR); keyholder never writes to the medium")
        }
        var files = listed ?? []
        if listed == nil {
            do { files = try Inbox.submissionFiles(at: medium) } catch {
                throw CLIError("\(medium) cannot be read", hint: "give the folder of the mounted medium")
            }
        }
        let folder = try OutputFolder(path: archive.submissionsPath, privateToOwner: true)
        var record = ImportRecord(time: Date(), medium: mediumPath, mountPoint: isMountPoint(mediumPath), entries: [])
        for path in files {
            do throws(CLIError) {
                let (entry, problem) = try importOne(SubmissionFile(path: path, fromFolder: true), into: folder, report: report)
                record.entries.append(entry)
                report(.finished(entry, problem: problem))
            } catch {
                // What was imported before the run had to stop is recorded all the same.
                if !record.entries.isEmpty { try? archive.save(record) }
                throw error
            }
        }
        try archive.save(record)
        return record
    }

    private func importOne(_ file: SubmissionFile, into folder: OutputFolder, report: @escaping (Event) -> Void) throws(CLIError) -> (ImportRecord.Entry, CLIError?) {
        let name = (file.path as NSString).lastPathComponent
        var entry = ImportRecord.Entry(id: file.label, file: name, keyIDs: [], size: 0, blake2b: "", status: nil, action: .notImported)
        // A first look at the header names the submission and finds it in the archive.
        let read: HeaderRead
        do throws(KeyholderError) { read = try readHeader(file) } catch {
            return try failed(&entry, error, file: file)
        }
        entry.keyIDs = read.header.keyIDs.map(\.description)
        entry.size = read.fileSize ?? 0
        let id = file.id ?? SubmissionID.derived(from: read.header.bytes)
        entry.id = id.text
        report(.started(file: file.path, size: entry.size))
        if archive.contains(id) {
            return try compareWithArchived(&entry, file: file, header: read.header, id: id)
        }
        // The import itself: one pass that copies, hashes and authenticates.
        var payloadHash: [UInt8] = []
        let pending = try folder.createPendingFile()
        // The whole file's hash for the import record, and its payload's for the provenance record.
        let hasher = PayloadHasher(headerBytes: read.header.bytes.count, alsoWhole: true)
        let input: FileReader
        do { input = try FileReader(path: file.path, requireRegularFile: true) } catch {
            folder.discard(pending)
            return try failed(&entry, classify(error), file: file)
        }
        var copying = CopyingSource(input) { bytes in
            do throws(CLIError) { try writeAll(pending.fd, bytes) } catch { throw OutputWriteError(CLIError("cannot write to the archive \(self.archive.path): \(error.message)", hint: "check its free space")) }
            hasher.update(bytes)
            report(.progress(bytesRead: input.bytesRead))
        }
        do throws(KeyholderError) {
            do {
                let header = try EnvelopeReader<CopyingSource<FileReader>>.readHeader(from: &copying)
                entry.keyIDs = header.keyIDs.map(\.description)
                let keys: [SecretKey]
                do throws(CLIError) { keys = try ring.secretKeys(for: header.keyIDs) } catch { throw KeyholderError.fatal(error) }
                if keys.isEmpty {
                    try copying.copyRest()
                    entry.status = Outcome.noMatch.label
                } else {
                    let reader = try EnvelopeReader(header: header, remaining: copying, keys: keys)
                    try reader.readAll { _ in }
                    entry.status = Outcome.success.label
                }
            } catch {
                throw classify(error)
            }
            entry.size = input.bytesRead
            let hashes = hasher.finalize()
            entry.blake2b = hex(hashes.whole!)
            payloadHash = hashes.payload
            try syncAndPublish(pending, in: folder, as: id)
        } catch {
            folder.discard(pending)
            return try failed(&entry, error, file: file)
        }
        entry.action = .imported
        var problem = entry.status == Outcome.noMatch.label ? noMatch(read.header.keyIDs, ring: ring).report(for: file) : nil
        if entry.status == Outcome.success.label, problem == nil {
            problem = try importRecord(of: file, as: id, entry: &entry, headerBytes: read.header.bytes.count, payloadHash: payloadHash, into: folder)
        }
        return (entry, problem)
    }

    /// Checks the provenance record beside `file` against the bytes just imported (whose
    /// payload hashed to `payloadHash`) and copies it into the archive if it holds; says why
    /// not if it is altered or mismatched.
    private func importRecord(of file: SubmissionFile, as id: SubmissionID, entry: inout ImportRecord.Entry, headerBytes: Int,
                              payloadHash: [UInt8], into folder: OutputFolder) throws(CLIError) -> CLIError? {
        guard let path = recordPath(of: file), fileExistsOrLink(path) else {
            entry.record = ProvenanceCheck.missing.label
            return nil
        }
        let bytes: [UInt8]
        do { bytes = try readRecordFile(path) } catch {
            entry.record = ProvenanceCheck.invalid("").label
            return CLIError("\(path): the provenance record cannot be read: \(error.message)", hint: "the submission was imported without it")
        }
        let check = try checkRecord(bytes, of: SubmissionFile(path: file.path, fromFolder: false), size: entry.size,
                                    headerBytes: headerBytes, payloadHash: payloadHash, ring: ring)
        entry.record = check.label
        if case .invalid(let why) = check {
            return CLIError("\(file.path): \(why)", hint: "the submission was imported without its record; compare the medium with the drop's copy")
        }
        let pending = try folder.createPendingFile()
        do throws(CLIError) {
            try writeAll(pending.fd, bytes)
            try pending.sync()
            try folder.publish(pending, exactlyAs: "\(id.text).\(ProvenanceRecord.fileExtension)")
        } catch {
            folder.discard(pending)
            throw CLIError("cannot store the record of \(id.text) in the archive: \(error.message)", hint: "check the archive's disk")
        }
        return nil
    }

    private func syncAndPublish(_ pending: PendingFile, in folder: OutputFolder, as id: SubmissionID) throws(KeyholderError) {
        do throws(CLIError) {
            try pending.sync()
            try folder.publish(pending, exactlyAs: id.fileName)
        } catch {
            throw .fatal(CLIError("cannot store \(id.fileName) in the archive: \(error.message)", hint: "check the archive's disk"))
        }
    }

    /// Records a submission that was not imported; a fatal error ends the run.
    private func failed(_ entry: inout ImportRecord.Entry, _ error: KeyholderError, file: SubmissionFile) throws(CLIError) -> (ImportRecord.Entry, CLIError?) {
        switch error {
        case .fatal(let fatal): throw fatal
        case .submission(let failure):
            entry.status = failure.outcome.label
            entry.action = .notImported
            let hint = failure.outcome == .readError ? failure.hint
                : "it was not imported; copy the server's inbox to the medium again and import it again"
            return (entry, CLIError("\(file.path): \(failure.message)", hint: hint))
        }
    }

    /// For a submission the archive already holds: the same file, the same payload under a
    /// header re-keyed in the archive, or a different file under the same ID.
    private func compareWithArchived(_ entry: inout ImportRecord.Entry, file: SubmissionFile, header: EnvelopeHeader, id: SubmissionID) throws(CLIError) -> (ImportRecord.Entry, CLIError?) {
        let archived = SubmissionFile(path: archive.path(for: id), fromFolder: false)
        let ours: (whole: String, payload: String), theirs: (whole: String, payload: String)
        do {
            theirs = try hashes(of: file.path, headerLength: header.bytes.count)
            var source = try FileReader(path: archived.path, requireRegularFile: true)
            let archivedHeader = try EnvelopeReader<FileReader>.readHeader(from: &source)
            ours = try hashes(of: archived.path, headerLength: archivedHeader.bytes.count)
        } catch {
            return try failed(&entry, classify(error), file: file)
        }
        entry.blake2b = theirs.whole
        if theirs.whole == ours.whole {
            entry.action = .alreadyArchived
            return (entry, nil)
        }
        if theirs.payload == ours.payload {
            entry.action = .rekeyedInArchive
            return (entry, nil)
        }
        entry.action = .conflict
        return (entry, CLIError("\(file.path): the archive already holds a different submission with the ID \(id.text); the archived one was kept",
                                hint: "compare the two with 'keyholder inspect'; a file under a known ID that differs in its payload was replaced or tampered with"))
    }

    /// BLAKE2b-256 of a whole file and of what follows its header, hex.
    private func hashes(of path: String, headerLength: Int) throws -> (whole: String, payload: String) {
        let both = try fileHashes(path, headerBytes: headerLength)
        return (hex(both.whole), hex(both.payload))
    }
}

/// Lowercase hexadecimal.
func hex(_ bytes: [UInt8]) -> String {
    Hex.encode(bytes)
}

/// Whether `path` is where a file system is mounted (its device differs from its parent's).
func isMountPoint(_ path: String) -> Bool {
    var own = stat(), parent = stat()
    guard stat(path, &own) == 0, stat(parentFolder(of: path) == path ? "/" : parentFolder(of: path), &parent) == 0 else { return false }
    return path == "/" || own.st_dev != parent.st_dev
}
