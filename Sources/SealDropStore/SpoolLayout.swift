import SealDropCrypto
import Foundation

/// The spool's folders and file names, shared by the daemon (which writes) and the keyholder
/// (which reads a copy):
///
///     <spool>/tmp/<id>.partial     an upload in progress; swept at daemon start-up
///     <spool>/partial/<id>.partial a resumable upload's data; cut back at start-up to
///     <spool>/partial/<id>.state   the byte count its data was last synced at, in its record
///                                  (``PartialState``), which outlives the data for a while
///     <spool>/inbox/<id>.sealdrop  a complete, durable submission
///     <spool>/inbox/<id>.record    its provenance record, signed by the drop key and sealed
///
/// Folders are 0700 and files 0600. Nothing in a name comes from the source.
public enum SpoolLayout {
    /// The folder of complete submissions, inside the spool root.
    public static let inboxFolderName = "inbox"
    /// The folder of uploads in progress, inside the spool root. Readers never look inside.
    public static let tempFolderName = "tmp"
    /// The folder of uploads kept to be resumed, inside the spool root. Readers never look inside.
    public static let partialFolderName = "partial"
    /// The extension of a resumable upload's record (``PartialState``).
    public static let stateExtension = "state"
    /// The extension of a complete submission.
    public static let submissionExtension = "sealdrop"
    /// The extension of an upload in progress.
    public static let partialExtension = "partial"
    /// The extension of a submission's provenance record, beside it in the inbox.
    public static let recordExtension = "record"
}

/// A submission's identifier: 15 random bytes as 24 lowercase base-32 characters. It is the
/// receipt a source gets and the inbox file's name, and carries nothing about the source.
public struct SubmissionID: Hashable, Sendable, CustomStringConvertible {
    /// The identifier text.
    public let text: String
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    /// A fresh random identifier.
    public static func random() -> SubmissionID {
        encode(randomBytes(count: 15))
    }

    /// The identifier derived from `bytes` (their BLAKE2b-120): the same bytes always give the
    /// same ID. The keyholder names a submission this way when its file does not carry an ID.
    public static func derived(from bytes: [UInt8]) -> SubmissionID {
        encode(BLAKE2b.hash(bytes, outputLength: 16).prefix(15).map { $0 })
    }

    private static func encode(_ bytes: [UInt8]) -> SubmissionID {
        var out: [UInt8] = []
        var accumulator = 0, bits = 0
        for byte in bytes {
            accumulator = accumulator << 8 | Int(byte)
            bits += 8
            while bits >= 5 { bits -= 5; out.append(alphabet[(accumulator >> bits) & 31]) }
        }
        return SubmissionID(unchecked: String(decoding: out, as: UTF8.self))
    }

    /// Accepts exactly 24 characters of the identifier alphabet.
    public init?(_ text: String) {
        guard text.utf8.count == 24, text.utf8.allSatisfy({ Self.alphabet.contains($0) }) else { return nil }
        self.text = text
    }

    private init(unchecked text: String) { self.text = text }

    public var description: String { text }

    /// The inbox file name of this submission.
    public var fileName: String { "\(text).\(SpoolLayout.submissionExtension)" }
}

/// Finding submissions in what the keyholder was given.
public enum Inbox {
    /// Why a path holds no readable submissions.
    public enum LookupError: Error, Equatable, Sendable {
        case notFound(String)
    }

    /// The submission files `path` stands for: the file itself; every `*.sealdrop` file in a
    /// folder; for a spool root (a folder with an `inbox` folder) the inbox's files only, never
    /// the temp area. Sorted by name; hidden files and other extensions are skipped.
    public static func submissionFiles(at path: String) throws(LookupError) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .notFound(path) }
        guard isDirectory.boolValue else { return [path] }
        var folder = path
        let inbox = (path as NSString).appendingPathComponent(SpoolLayout.inboxFolderName)
        var inboxIsDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: inbox, isDirectory: &inboxIsDirectory), inboxIsDirectory.boolValue {
            folder = inbox
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { !$0.hasPrefix(".") && $0.hasSuffix("." + SpoolLayout.submissionExtension) }
            .sorted()
            .map { (folder as NSString).appendingPathComponent($0) }
    }
}
