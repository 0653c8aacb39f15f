public import Foundation
public import SealDropCLISupport
public import SealDropStore

/// The keyholder's local archive on the air-gapped machine (`~/.sealdrop/archive`, or
/// `--archive DIR`): the only place keyholder writes submissions to. `keyholder import` fills
/// it from removable media, verifying each submission as it copies it; `rekey` rewrites only
/// its copies; `retire` checks it (and the record of every import) before it destroys a key;
/// `decrypt` records here what it decrypted. Nothing ever goes back from it to the server.
///
///     archive/                      0700
///       submissions/<id>.sealdrop   0600, verified copies
///       imports/<time>-<random>.json one record per import: where from, what, with which outcome
///       decrypted.jsonl             one line per decrypted submission: its ID and when
///       submissions/<id>.record     0600, its provenance record, when one held on import
///       reencrypted.jsonl           one line per `rekey --full`: the payload's hash before and after
///
/// The archive holds ciphertext and records, never plaintext.
public final class Archive {
    /// The archive's folder.
    public let path: String

    /// `~/.sealdrop/archive`.
    public static var defaultPath: String {
        (Keyring.homeFolder as NSString).appendingPathComponent(".sealdrop/archive")
    }

    /// The folder of verified submissions.
    public var submissionsPath: String { (path as NSString).appendingPathComponent("submissions") }
    /// The folder of import records.
    public var importsPath: String { (path as NSString).appendingPathComponent("imports") }
    /// The record of decrypted submissions.
    public var decryptedPath: String { (path as NSString).appendingPathComponent("decrypted.jsonl") }
    /// The record of submissions re-encrypted here (`rekey --full`).
    public var reencryptedPath: String { (path as NSString).appendingPathComponent("reencrypted.jsonl") }

    private init(path: String) { self.path = path }

    /// Whether an archive exists at `path`.
    public static func exists(at path: String) -> Bool {
        isDirectory((path as NSString).appendingPathComponent("submissions"))
    }

    /// Opens the archive at `path`, creating it (and its folders, mode 0700) with `create`.
    /// Refuses an archive that is a symbolic link, belongs to another user or is open to others.
    public static func open(_ path: String, create: Bool) throws(CLIError) -> Archive {
        let archive = Archive(path: path)
        if create {
            try Keyring.ensureFolder(path)
        } else if !exists(at: path) {
            throw CLIError("there is no archive at \(path)", hint: "keyholder import MEDIA creates it; or name another with --archive DIR")
        }
        for folder in [path, archive.submissionsPath, archive.importsPath] {
            if create, mkdir(folder, 0o700) != 0, errno != EEXIST {
                throw CLIError("cannot create \(folder): \(errnoText())", hint: "check the permissions of \(parentFolder(of: folder))")
            }
            try checkPrivateFolder(folder)
        }
        return archive
    }

    /// Refuses a folder that is a link, belongs to another user, or others may use.
    private static func checkPrivateFolder(_ folder: String) throws(CLIError) {
        var info = stat()
        guard lstat(folder, &info) == 0 else { throw CLIError("cannot open \(folder): \(errnoText())") }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw CLIError("\(folder) is not a folder (\(info.st_mode & S_IFMT == S_IFLNK ? "a symbolic link" : "a file"))",
                           hint: "the archive and its folders must be real folders")
        }
        guard info.st_uid == geteuid() else { throw CLIError("the archive folder \(folder) belongs to another user", hint: "use an archive of your own") }
        guard info.st_mode & 0o077 == 0 else {
            throw CLIError("the archive folder \(folder) is open to others (mode \(String(info.st_mode & 0o777, radix: 8)))", hint: "run: chmod 700 \(folder)")
        }
    }

    // MARK: Submissions

    /// Every submission in the archive, by ID.
    public func submissionFiles() throws(CLIError) -> [SubmissionFile] {
        try Locator.all(in: [submissionsPath])
    }

    /// Where the archive keeps the submission `id`.
    public func path(for id: SubmissionID) -> String {
        (submissionsPath as NSString).appendingPathComponent(id.fileName)
    }

    /// Whether the archive holds a submission with this ID.
    public func contains(_ id: SubmissionID) -> Bool {
        var info = stat()
        return lstat(path(for: id), &info) == 0
    }

    /// Whether `file` is one of the archive's own submissions (by folder identity, not name).
    public func holds(_ file: SubmissionFile) -> Bool {
        guard let folder = fileIdentity(path: file.folder), let own = fileIdentity(path: submissionsPath) else { return false }
        return folder == own
    }

    /// Whether `path` is the archive or lies inside it.
    public func contains(path candidate: String) -> Bool {
        guard let own = fileIdentity(path: path) else { return false }
        return ancestors(of: candidate).contains { fileIdentity(path: $0).map { $0 == own } ?? false }
    }

    // MARK: Records

    /// Every import record, oldest first.
    public func importRecords() -> [ImportRecord] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: importsPath)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        return names.compactMap { try? readJSONDocument((importsPath as NSString).appendingPathComponent($0)) as ImportRecord }
            .sorted { $0.time < $1.time }
    }

    /// Saves an import record under a new name.
    public func save(_ record: ImportRecord) throws(CLIError) {
        let stamp = ISO8601DateFormatter().string(from: record.time).replacingOccurrences(of: ":", with: "")
        let name = "\(stamp)-\(SubmissionID.random().text.prefix(8)).json"
        try writeJSONDocument(record, to: (importsPath as NSString).appendingPathComponent(name))
    }

    /// One line of `decrypted.jsonl`.
    public struct Decrypted: Codable, Sendable {
        /// The submission's ID.
        public var id: String
        /// When it was decrypted.
        public var time: Date
    }

    /// The IDs of the submissions decrypted so far.
    public func decryptedIDs() -> Set<String> {
        Set((readJSONLines(decryptedPath) as [Decrypted]).map(\.id))
    }

    /// Records that submission `id` was decrypted.
    public func recordDecrypted(_ id: String, at time: Date = Date()) throws(CLIError) {
        try appendJSONLine(Decrypted(id: id, time: time), to: decryptedPath)
    }

    /// One line of `reencrypted.jsonl`: a payload the keyholder replaced (`rekey --full`), so
    /// that the drop's provenance record, which vouches for the payload received, can still be
    /// followed to the archive's copy.
    public struct Reencrypted: Codable, Sendable {
        /// The submission's ID.
        public var id: String
        /// BLAKE2b-256 of the payload before, hex.
        public var payloadBefore: String
        /// BLAKE2b-256 of the payload after, hex.
        public var payloadAfter: String
        /// When.
        public var time: Date

        enum CodingKeys: String, CodingKey { case id, payloadBefore = "payload_before", payloadAfter = "payload_after", time }
    }

    /// Records that submission `id`'s payload was re-encrypted here.
    public func recordReencrypted(_ id: String, payloadBefore: [UInt8], payloadAfter: [UInt8], at time: Date = Date()) throws(CLIError) {
        try appendJSONLine(Reencrypted(id: id, payloadBefore: hex(payloadBefore), payloadAfter: hex(payloadAfter), time: time), to: reencryptedPath)
    }

    /// The payload hashes submission `id` had before each re-encryption here, following the
    /// chain back from `current` (its payload's hash now); empty when it was never re-encrypted.
    public func earlierPayloads(of id: String, current: [UInt8]) -> [[UInt8]] {
        let lines = (readJSONLines(reencryptedPath) as [Reencrypted]).filter { $0.id == id }
        var earlier: [[UInt8]] = [], hash = hex(current)
        while let step = lines.last(where: { $0.payloadAfter == hash }), !earlier.contains(where: { hex($0) == step.payloadBefore }) {
            guard let before = [UInt8](hexString: step.payloadBefore) else { break }
            earlier.append(before)
            hash = step.payloadBefore
        }
        return earlier
    }
}

/// What one `keyholder import` did: where from, when, and for each submission found there its
/// ID, the key IDs it is sealed to, its size and BLAKE2b-256 hash, how it authenticated and
/// what became of it. The retire check reads these to know what the server's inbox held.
public struct ImportRecord: Codable, Sendable {
    /// One submission found on the medium.
    public struct Entry: Codable, Sendable {
        /// The submission's ID (from its file name, or derived from its header; see
        /// ``Importer``).
        public var id: String
        /// The file's name on the medium.
        public var file: String
        /// The key IDs its header names.
        public var keyIDs: [String]
        /// Its size in bytes.
        public var size: UInt64
        /// BLAKE2b-256 of the file, hex.
        public var blake2b: String
        /// How it authenticated (`ok`, `no match`, `header failure`, …); nil when the archive
        /// already held it and it was compared, not authenticated.
        public var status: String?
        /// What became of it.
        public var action: Action
        /// The submission's provenance record on the medium, as checked on import
        /// (``ProvenanceCheck/label``); a record that holds is copied into the archive beside it.
        public var record: String?

        enum CodingKeys: String, CodingKey { case id, file, keyIDs = "key_ids", size, blake2b, status, action, record }
    }

    /// What became of a submission found on a medium.
    public enum Action: String, Codable, Sendable {
        /// Copied into the archive.
        case imported
        /// The archive already held exactly this file.
        case alreadyArchived = "already archived"
        /// The archive already held this submission, re-keyed there (same payload, another header).
        case rekeyedInArchive = "already archived, re-keyed"
        /// The archive holds a different file under this ID; the archived one was kept.
        case conflict
        /// Not copied: it failed authentication or could not be read.
        case notImported = "not imported"
    }

    /// The record format's version.
    public var version = 1
    /// When the import ran.
    public var time: Date
    /// The medium's path as given, made absolute.
    public var medium: String
    /// Whether the medium's folder was a mount point (then the whole file system is the medium).
    public var mountPoint: Bool
    /// The submissions found.
    public var entries: [Entry]

    enum CodingKeys: String, CodingKey { case version, time, medium, mountPoint = "mount_point", entries }
}

/// `path` made absolute and resolved (symbolic links, `..`) as far as it exists, followed by
/// every folder above it, up to `/`.
func ancestors(of path: String) -> [String] {
    var current = absolutePath(path)
    var result: [String] = []
    while true {
        result.append(current)
        if current == "/" { break }
        current = parentFolder(of: current)
    }
    return result
}

/// `path` made absolute against the current folder, with symbolic links and `..` resolved for
/// the part that exists.
func absolutePath(_ path: String) -> String {
    let absolute = path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
    return (absolute as NSString).resolvingSymlinksInPath
}
