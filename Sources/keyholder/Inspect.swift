import ArgumentParser
import Foundation
import SealDropCLISupport
import SealDropFormat

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a submission file without any key: format version, recipients, sizes.",
        discussion: """
        Reads only the header, which is not encrypted: the format version, the key IDs of the \
        recipients, the header's size and the metadata chunk's size, and the file's total size \
        with the padded content length it implies. Nothing is authenticated (that needs a key). \
        The exit status is 1 when the header cannot be read or the file's size is impossible \
        for an intact submission (truncated, or bytes appended).
        """
    )

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Argument(help: ArgumentHelp("The submission file.", valueName: "file"))
    var path: String

    struct Description: Encodable {
        var file: String
        var version: Int
        var keyIDs: [String]
        var headerSize: Int
        var metadataChunkSize: Int
        var totalSize: UInt64?
        var paddedContentSize: UInt64?
        var error: String?

        enum CodingKeys: String, CodingKey {
            case file, version, keyIDs = "key_ids", headerSize = "header_size", metadataChunkSize = "metadata_chunk_size"
            case totalSize = "total_size", paddedContentSize = "padded_content_size", error
        }
    }

    func run() throws {
        var failed = false
        try reportingErrors { () throws(CLIError) in
            guard !isDirectory(path) else {
                throw CLIError("\(escapeForDisplay(path)) is a folder", hint: "inspect takes one submission file; 'keyholder list' lists a folder")
            }
            let file = SubmissionFile(path: path, fromFolder: false)
            let read: HeaderRead
            do throws(KeyholderError) { read = try readHeader(file) } catch {
                switch error {
                case .fatal(let fatal): throw fatal
                case .submission(let failure):
                    failed = true
                    diagnostics.report(failure.report(for: file))
                    return
                }
            }
            let header = read.header
            var description = Description(
                file: path, version: Int(header.version), keyIDs: header.keyIDs.map(\.description),
                headerSize: header.bytes.count, metadataChunkSize: header.metadataLength,
                totalSize: read.fileSize, paddedContentSize: read.paddedLength, error: nil
            )
            var lengthProblem: SubmissionFailure?
            if let size = read.fileSize, read.paddedLength == nil {
                lengthProblem = SubmissionFailure(
                    status: .payloadFailure,
                    message: "payload failure: truncated or corrupt (\(size) bytes is not a possible length for this header)",
                    hint: "the copy may be damaged: copy it again from the inbox"
                )
                description.error = lengthProblem?.message
            }
            if json {
                print(try jsonLine(description))
            } else {
                print(describe(description, recipients: header.recipients.count))
            }
            if let lengthProblem {
                failed = true
                diagnostics.report(lengthProblem.report(for: file))
            }
        }
        if failed { throw ExitStatus.submissionFailed }
    }

    private func describe(_ d: Description, recipients: Int) -> String {
        var lines: [String] = []
        func field(_ label: String, _ value: String) {
            lines.append(label + String(repeating: " ", count: max(1, 16 - label.count)) + value)
        }
        field("file", escapeForDisplay(d.file))
        field("format", "SealDrop submission, version \(d.version)")
        field("recipients", "\(recipients)")
        for id in d.keyIDs { field("  key ID", id) }
        field("header", "\(d.headerSize) bytes")
        field("metadata chunk", "\(d.metadataChunkSize) bytes (the metadata's size, to within 4 KiB)")
        if let total = d.totalSize { field("total size", "\(total) bytes (\(formatByteCount(total)))") }
        if let padded = d.paddedContentSize {
            field("content", "at most \(padded) bytes (\(formatByteCount(padded))): the padded length")
        } else if d.totalSize != nil {
            field("content", "unknown: the file's size is impossible for this header")
        }
        field("authenticated", "no (inspect uses no key; 'keyholder verify' checks every byte)")
        return lines.joined(separator: "\n")
    }
}
