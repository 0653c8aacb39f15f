import ArgumentParser
import Foundation
import SealDropCLISupport
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropStore

/// Where submissions named by ID are looked up.
struct InboxOptions: ParsableArguments {
    @Option(name: .customLong("in"), help: ArgumentHelp("An inbox folder (or spool root) to look submission IDs up in; repeat for several. Default: the current folder.", valueName: "dir"))
    var inboxes: [String] = []

    /// The folders IDs are looked up in.
    var searchFolders: [String] { inboxes.isEmpty ? ["."] : inboxes }
}

/// One submission file to work on.
struct SubmissionFile {
    /// Its path, as found.
    let path: String
    /// Its submission ID when the file is named `<id>.sealdrop`, else its file name: for tables.
    let label: String
    /// Whether it was found by reading a whole folder (rather than named one by one).
    let fromFolder: Bool

    init(path: String, fromFolder: Bool) {
        self.path = path
        self.fromFolder = fromFolder
        let base = (path as NSString).lastPathComponent
        let stem = base.hasSuffix("." + SpoolLayout.submissionExtension) ? (base as NSString).deletingPathExtension : base
        label = SubmissionID(stem)?.text ?? stem
    }
}

/// Turns command-line arguments into submission files.
enum Locator {
    /// The submission files `arguments` name, in order (a file named twice is processed
    /// twice). An argument is a path if something exists there (a file, an inbox folder, a
    /// spool root); otherwise a submission ID, or a unique prefix of one, looked up in `inboxes`.
    static func resolve(_ arguments: [String], inboxes: InboxOptions) throws(CLIError) -> [SubmissionFile] {
        var files: [SubmissionFile] = []
        for argument in arguments {
            var info = stat()
            if lstat(argument, &info) == 0 {
                let isFolder = info.st_mode & S_IFMT == S_IFDIR || (info.st_mode & S_IFMT == S_IFLNK && isDirectory(argument))
                files += try filesAt(argument).map { SubmissionFile(path: $0, fromFolder: isFolder) }
            } else {
                files.append(SubmissionFile(path: try lookUp(id: argument, in: inboxes.searchFolders), fromFolder: false))
            }
        }
        return files
    }

    /// Every submission in the inbox folders (for `--all`, or `list` with no argument).
    static func all(in inboxes: InboxOptions) throws(CLIError) -> [SubmissionFile] {
        var files: [SubmissionFile] = []
        for folder in inboxes.searchFolders {
            files += try filesAt(folder).map { SubmissionFile(path: $0, fromFolder: true) }
        }
        return files
    }

    private static func filesAt(_ path: String) throws(CLIError) -> [String] {
        do { return try Inbox.submissionFiles(at: path) } catch {
            throw CLIError("\(escapeForDisplay(path)) does not exist", hint: "give a submission file, an inbox folder, a spool root or a submission ID")
        }
    }

    private static func lookUp(id argument: String, in folders: [String]) throws(CLIError) -> String {
        let shown = escapeForDisplay(argument)
        let wanted = argument.hasSuffix("." + SpoolLayout.submissionExtension) ? String(argument.dropLast(SpoolLayout.submissionExtension.count + 1)) : argument
        let alphabet = Set("abcdefghijklmnopqrstuvwxyz234567")
        guard !wanted.contains("/"), wanted.count >= 4, wanted.count <= 24, wanted.allSatisfy({ alphabet.contains($0) }) else {
            throw CLIError("\(shown) does not exist", hint: "give a submission file, an inbox folder, a spool root or a submission ID")
        }
        var matches: [String] = []
        for folder in folders {
            let candidates = (try? Inbox.submissionFiles(at: folder)) ?? []
            for path in candidates {
                let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
                if stem == wanted { return path }
                if stem.hasPrefix(wanted) { matches.append(path) }
            }
        }
        let where_ = folders.map(escapeForDisplay).joined(separator: ", ")
        guard !matches.isEmpty else {
            throw CLIError("no submission \(shown) in \(where_)", hint: "name the inbox folder with --in DIR, or give the file's path")
        }
        guard matches.count == 1 else {
            let names = matches.prefix(5).map { escapeForDisplay(($0 as NSString).lastPathComponent) }.joined(separator: ", ")
            throw CLIError("the ID prefix \(shown) matches \(matches.count) submissions (\(names)\(matches.count > 5 ? ", …" : ""))",
                           hint: "give more characters of the ID")
        }
        return matches[0]
    }
}

/// Whether `path` is a folder (following symbolic links).
func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
}

/// What happened to one submission, in the words `keyholder verify` and the format's test
/// vectors use (plus `read error` for a file that cannot be read at all).
enum Status: String, Encodable {
    case ok
    case noMatch = "no match"
    case headerFailure = "header failure"
    case payloadFailure = "payload failure"
    case readError = "read error"
}

/// Why one submission failed. The run goes on with the others and exits 1.
struct SubmissionFailure: Error {
    let status: Status
    let message: String
    let hint: String?

    /// A failure with its status named first in the message (`header failure: …`).
    init(status: Status, message: String, hint: String?) {
        self.status = status
        let named = message.hasPrefix(status.rawValue) || (status == .noMatch && message.hasPrefix("no matching key"))
        self.message = named ? message : "\(status.rawValue): \(message)"
        self.hint = hint
    }

    /// The failure as an error message about `file`.
    func report(for file: SubmissionFile) -> CLIError {
        CLIError("\(escapeForDisplay(file.path)): \(message)", hint: hint)
    }
}

/// A failure of one submission, or of the whole run.
enum KeyholderError: Error {
    /// This submission failed; go on with the next.
    case submission(SubmissionFailure)
    /// The run cannot go on (keys, output folder, writing): exit 2.
    case fatal(CLIError)
}

/// Wraps an error from writing output, so it is not mistaken for a damaged submission.
struct OutputWriteError: Error {
    let error: CLIError
}

/// The failure `error` (thrown while reading a submission) stands for.
func classify(_ error: any Error) -> KeyholderError {
    switch error {
    case let error as OutputWriteError:
        return .fatal(error.error)
    case let error as EnvelopeError:
        switch error.outcome {
        case .payloadFailure:
            return .submission(SubmissionFailure(status: .payloadFailure, message: error.description,
                                                 hint: "the copy may be damaged: copy it again from the inbox; if it stays broken, it was tampered with"))
        case .headerFailure:
            return .submission(SubmissionFailure(status: .headerFailure, message: error.description,
                                                 hint: "the file is not an intact SealDrop submission"))
        case .noMatch, .success:
            return .submission(SubmissionFailure(status: .noMatch, message: error.description, hint: nil))
        }
    case let error as CLIError:
        return .submission(SubmissionFailure(status: .readError, message: error.message, hint: error.hint ?? "check that the file can be read"))
    default:
        return .submission(SubmissionFailure(status: .readError, message: "\(error)", hint: nil))
    }
}

/// A submission whose header was read (no key needed yet).
struct HeaderRead {
    let file: FileReader
    let header: EnvelopeHeader
    let fileSize: UInt64?

    /// The padded content length the file's size reveals; nil if the size is impossible.
    var paddedLength: UInt64? {
        fileSize.flatMap {
            SubmissionSize.paddedContentLength(fileSize: $0, recipients: header.recipients.count, metadataLength: header.metadataLength)
        }
    }
}

/// Opens `file` and reads its header.
func readHeader(_ file: SubmissionFile) throws(KeyholderError) -> HeaderRead {
    let reader: FileReader
    do { reader = try FileReader(path: file.path) } catch {
        throw .submission(SubmissionFailure(status: .readError, message: error.message, hint: "check that the file can be read"))
    }
    var source = reader
    do {
        let header = try EnvelopeReader<FileReader>.readHeader(from: &source)
        return HeaderRead(file: reader, header: header, fileSize: reader.regularFileSize())
    } catch {
        throw classify(error)
    }
}

/// Opens a submission whose header was read with whichever key in the ring it names: checks
/// the header MAC and reads the metadata chunk, nothing of the payload beyond it.
func openReader(_ read: HeaderRead, ring: KeyRing) throws(KeyholderError) -> EnvelopeReader<FileReader> {
    try openReader(read, ring: ring) { read.file }
}

/// Like ``openReader(_:ring:)``, for reading the whole payload: the file is read ahead on a
/// second thread while this one decrypts. Progress is the returned source's `bytesRead`.
func openStreamingReader(_ read: HeaderRead, ring: KeyRing) throws(KeyholderError) -> (reader: EnvelopeReader<ReadAhead>, source: ReadAhead) {
    var source: ReadAhead?
    let reader = try openReader(read, ring: ring) {
        let ahead = ReadAhead(read.file, zeroAfterUse: false)
        source = ahead
        return ahead
    }
    return (reader, source!)
}

private func openReader<Source: ByteSource>(_ read: HeaderRead, ring: KeyRing, source: () -> Source) throws(KeyholderError) -> EnvelopeReader<Source> {
    let keys: [SecretKey]
    do { keys = try ring.secretKeys(for: read.header.keyIDs) } catch { throw .fatal(error) }
    guard !keys.isEmpty else { throw .submission(noMatch(read.header.keyIDs, ring: ring)) }
    do {
        return try EnvelopeReader(header: read.header, remaining: source(), keys: keys)
    } catch {
        throw classify(error)
    }
}

/// The distinct "no matching key" failure, naming the key IDs in the file and in the ring.
func noMatch(_ fileKeyIDs: [KeyID], ring: KeyRing) -> SubmissionFailure {
    let theirs = fileKeyIDs.map(\.description).joined(separator: ", ")
    let ours = ring.keyIDs.map(\.description).joined(separator: ", ")
    return SubmissionFailure(
        status: .noMatch,
        message: "no matching key: it is sealed to key ID \(theirs); none of your keys (key ID \(ours)) is among them",
        hint: "open it with the secret key of one of those key IDs (--key KEYFILE); a key rotated out of the keyring cannot open it"
    )
}

/// Everything `list`, `show` and `verify` say about one submission (JSON member names in
/// snake case; absent values are left out).
struct SubmissionRow: Encodable {
    var file: String
    var id: String
    var status: Status
    /// The key IDs the submission is sealed to (from its header).
    var keyIDs: [String]?
    /// The key that opened it.
    var keyID: String?
    var time: Date?
    /// `source` (the time is the source's clock) or `server` (the server's, on receipt).
    var sealedBy: String?
    var size: UInt64?
    /// True when `size` is the size the source recorded; false when it is the padded length.
    var sizeExact: Bool?
    var name: String?
    var type: String?
    var message: String?
    var error: String?

    enum CodingKeys: String, CodingKey {
        case file, id, status, keyIDs = "key_ids", keyID = "key_id", time, sealedBy = "sealed_by", size
        case sizeExact = "size_exact", name, type, message, error
    }

    init(file: SubmissionFile, status: Status) {
        self.file = file.path
        id = file.label
        self.status = status
    }

    /// Fills in what the header reveals without a key.
    mutating func add(_ read: HeaderRead) {
        keyIDs = read.header.keyIDs.map(\.description)
        if size == nil, let padded = read.paddedLength {
            size = padded
            sizeExact = false
        }
    }

    /// Fills in what the metadata says.
    mutating func add(_ metadata: Metadata, openedWith key: SecretKey) {
        keyID = key.publicKey.keyID.description
        time = metadata.time
        sealedBy = metadata.sealedBy.rawValue
        if let recorded = metadata.size {
            size = recorded
            sizeExact = true
        }
        name = metadata.name
        type = metadata.mediaType
        message = metadata.message
    }

    /// Records a failure.
    mutating func fail(_ failure: SubmissionFailure) {
        status = failure.status
        error = failure.message
    }
}

/// Reads header and metadata of `file` into a row; per-submission failures become the row's
/// status, fatal ones are thrown.
func probe(_ file: SubmissionFile, ring: KeyRing) throws(CLIError) -> (row: SubmissionRow, failure: SubmissionFailure?) {
    var row = SubmissionRow(file: file, status: .ok)
    do throws(KeyholderError) {
        let read = try readHeader(file)
        row.add(read)
        let reader = try openReader(read, ring: ring)
        row.add(reader.metadata, openedWith: reader.openedWith)
        return (row, nil)
    } catch {
        switch error {
        case .fatal(let fatal): throw fatal
        case .submission(let failure):
            row.fail(failure)
            return (row, failure)
        }
    }
}

/// The size column: exact, or `≤` the padded length, or `-`.
func sizeText(_ row: SubmissionRow) -> String {
    guard let size = row.size else { return "-" }
    return (row.sizeExact == true ? "" : "≤") + formatByteCount(size)
}
