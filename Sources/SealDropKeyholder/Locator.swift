import Foundation
public import SealDropCLISupport
public import SealDropStore

/// One submission file to work on.
public struct SubmissionFile: Sendable {
    /// Its path, as found.
    public let path: String
    /// Its submission ID when the file is named `<id>.sealdrop`, else its file name: for tables.
    public let label: String
    /// Whether it was found by reading a whole folder (rather than named one by one).
    public let fromFolder: Bool

    /// A file at `path`.
    public init(path: String, fromFolder: Bool) {
        self.path = path
        self.fromFolder = fromFolder
        let base = (path as NSString).lastPathComponent
        let stem = base.hasSuffix("." + SpoolLayout.submissionExtension) ? (base as NSString).deletingPathExtension : base
        label = SubmissionID(stem)?.text ?? stem
    }

    /// The submission ID its name carries, if it is named `<id>.sealdrop`.
    public var id: SubmissionID? { SubmissionID(label) }

    /// The folder holding it.
    public var folder: String { parentFolder(of: path) }
}

/// Turns command-line arguments into submission files.
public enum Locator {
    /// The fewest characters of an ID that are looked up as a prefix.
    public static let shortestPrefix = 4

    /// The submission files `arguments` name, in order (a file named twice is processed
    /// twice). An argument is a path if something exists there (a file, an inbox folder, a
    /// spool root); otherwise a submission ID, or a unique prefix of one, looked up in `folders`.
    public static func resolve(_ arguments: [String], lookingIn folders: [String]) throws(CLIError) -> [SubmissionFile] {
        var files: [SubmissionFile] = []
        for argument in arguments {
            var info = stat()
            if lstat(argument, &info) == 0 {
                let isFolder = info.st_mode & S_IFMT == S_IFDIR || (info.st_mode & S_IFMT == S_IFLNK && isDirectory(argument))
                files += try filesAt(argument).map { SubmissionFile(path: $0, fromFolder: isFolder) }
            } else {
                files.append(SubmissionFile(path: try lookUp(id: argument, in: folders), fromFolder: false))
            }
        }
        return files
    }

    /// Every submission in `folders` (for `--all`, or `list` with no argument).
    public static func all(in folders: [String]) throws(CLIError) -> [SubmissionFile] {
        var files: [SubmissionFile] = []
        for folder in folders {
            files += try filesAt(folder).map { SubmissionFile(path: $0, fromFolder: true) }
        }
        return files
    }

    private static func filesAt(_ path: String) throws(CLIError) -> [String] {
        do { return try Inbox.submissionFiles(at: path) } catch {
            throw CLIError("\(path) does not exist", hint: "give a submission file, an inbox folder, a spool root or a submission ID")
        }
    }

    /// Whether `argument` has the form of a submission ID or a prefix of one (which may be too
    /// short), with or without `.sealdrop`.
    public static func couldBeID(_ argument: String) -> Bool {
        let wanted = stem(of: argument)
        return !wanted.isEmpty && wanted.count <= 24 && wanted.allSatisfy { idAlphabet.contains($0) }
    }

    private static let idAlphabet = Set("abcdefghijklmnopqrstuvwxyz234567")

    private static func stem(of argument: String) -> String {
        argument.hasSuffix("." + SpoolLayout.submissionExtension) ? String(argument.dropLast(SpoolLayout.submissionExtension.count + 1)) : argument
    }

    private static func lookUp(id argument: String, in folders: [String]) throws(CLIError) -> String {
        let wanted = stem(of: argument)
        guard couldBeID(argument) else {
            throw CLIError("\(argument) does not exist, and it is not a submission ID", hint: "give a submission file, an inbox folder, a spool root or a submission ID (24 characters a-z, 2-7)")
        }
        guard wanted.count >= shortestPrefix else {
            throw CLIError("the ID prefix \(argument) is too short: a prefix needs at least \(shortestPrefix) characters",
                           hint: "give at least \(shortestPrefix) characters of the ID ('keyholder list' shows them)")
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
        let where_ = folders.joined(separator: ", ")
        guard !matches.isEmpty else {
            throw CLIError("no submission \(argument) in \(where_)", hint: "name the folder with --in DIR, give the file's path, or import the medium first (keyholder import)")
        }
        guard matches.count == 1 else {
            let names = matches.prefix(5).map { ($0 as NSString).lastPathComponent }.joined(separator: ", ")
            throw CLIError("the ID prefix \(argument) matches \(matches.count) submissions (\(names)\(matches.count > 5 ? ", …" : ""))",
                           hint: "give more characters of the ID")
        }
        return matches[0]
    }
}

/// Whether `path` is a folder (following symbolic links).
public func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
}
