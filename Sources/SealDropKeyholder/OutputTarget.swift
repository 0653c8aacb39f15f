public import SealDropCLISupport
import Foundation
import SealDropFormat
import SealDropStore

/// The `--out` folder of `decrypt`: checked before any work, created and opened only when the
/// first submission has opened, so a run that fails early (a wrong passphrase, no matching key)
/// leaves nothing behind, not even the folder.
///
/// Plaintext must never land where ciphertext is kept or travels, so the folder is refused
/// when it is, or lies inside (its path resolved, links and `..` included):
/// - the archive;
/// - a folder any of the submissions are read from, however they were named (by ID, by path,
///   or as a folder);
/// - a daemon spool (a folder with `inbox` and `tmp` folders); or, for the folder itself and
///   the one holding it, a folder holding submissions (a `*.sealdrop` file, or a file that
///   starts with `SEALDROP` and a format version byte, under any name);
/// - a medium recorded by `keyholder import` (and, when that medium was a mount point, anything
///   on the file system mounted there now).
/// It must also be a folder of this user's that nobody else may write to (``OutputFolder``).
public final class OutputTarget {
    /// The folder's path, as given.
    public let path: String
    private var opened: OutputFolder?

    /// How many files of a folder are opened to look for the `SEALDROP` magic.
    static let filesSniffed = 256

    /// Checks `path` against the `inputs`, the archive and the media it recorded.
    public init(path: String, inputs: [SubmissionFile], archive: Archive?) throws(CLIError) {
        self.path = path
        try OutputFolder.check(path: path)
        let hint = "decrypt into a folder of its own, away from submissions and media, e.g. --out ~/opened"
        let folders = ancestors(of: path).filter(isDirectory)
        let identities = folders.compactMap { folder in fileIdentity(path: folder).map { (folder, $0) } }
        func isAmong(_ candidate: String) -> Bool {
            guard let identity = fileIdentity(path: candidate) else { return false }
            return identities.contains { $0.1 == identity }
        }
        if let archive, isAmong(archive.path) {
            throw CLIError("the output folder \(path) lies inside the archive \(archive.path)", hint: hint)
        }
        for input in inputs where isAmong(input.folder) {
            throw CLIError("the output folder \(path) is, or lies inside, \(input.folder), a folder the submissions are read from", hint: hint)
        }
        // A spool anywhere above; a folder of submissions only where the output goes: the output
        // folder and the folder holding it (further up, a stray `.sealdrop` file in /tmp or a
        // home folder would refuse everything below it).
        let holding = isDirectory(path) ? 2 : 1
        for (index, folder) in folders.enumerated() {
            if let why = Self.holdsSubmissions(folder, lookAtFiles: index < holding) {
                throw CLIError("the output folder \(path) is, or lies inside, \(folder), which \(why)", hint: hint)
            }
        }
        for record in archive?.importRecords() ?? [] {
            if isAmong(record.medium) || folders.contains(record.medium) {
                throw CLIError("the output folder \(path) lies on \(record.medium), a medium imported on \(formatUTC(record.time)) UTC", hint: hint)
            }
            if record.mountPoint, isMountPoint(record.medium), let medium = fileIdentity(path: record.medium),
               let output = folders.first.flatMap({ fileIdentity(path: $0) }), medium.device == output.device {
                throw CLIError("the output folder \(path) is on the file system mounted at \(record.medium), a medium imported on \(formatUTC(record.time)) UTC", hint: hint)
            }
        }
    }

    /// Why `folder` is a place of submissions, or nil.
    static func holdsSubmissions(_ folder: String, lookAtFiles: Bool) -> String? {
        if isDirectory((folder as NSString).appendingPathComponent(SpoolLayout.inboxFolderName)),
           isDirectory((folder as NSString).appendingPathComponent(SpoolLayout.tempFolderName)) {
            return "is a SealDrop spool"
        }
        guard lookAtFiles, let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return nil }
        var sniffed = 0
        for name in names {
            let path = (folder as NSString).appendingPathComponent(name)
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            if name.hasSuffix("." + SpoolLayout.submissionExtension) { return "holds submissions (\(name))" }
            guard sniffed < filesSniffed, info.st_size > Layout.magic.count else { continue }
            sniffed += 1
            if startsWithMagic(path) { return "holds submissions (\(name) is one)" }
        }
        return nil
    }

    /// Whether the file starts as a submission does: `SEALDROP` and a binary version byte (a
    /// protocol request, `SEALDROP/1 PUT …`, has a `/` there).
    private static func startsWithMagic(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: Layout.magic.count + 1)
        let n = head.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        return n == head.count && Array(head.prefix(Layout.magic.count)) == Layout.magic && head[Layout.magic.count] < 0x20
    }

    /// The folder, created (0700) and opened on first use; it must be this user's and writable
    /// by nobody else.
    public func folder() throws(CLIError) -> OutputFolder {
        if let opened { return opened }
        let folder = try OutputFolder(path: path, privateToOwner: true)
        opened = folder
        return folder
    }
}
