import ArgumentParser
import Foundation
import SealDropCLISupport
import SealDropFormat
import SealDropKeyholder

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a submission file without any key: format version, recipients, sizes.",
        discussion: """
        Reads only the header, which is not encrypted: the format version, the key IDs of the \
        recipients, the header's size and the metadata chunk's size, and the file's total size \
        with the padded content length it implies. Nothing is authenticated (that needs a key).

        What it can tell without a key: a header that does not parse, and a total size that no \
        intact file with this header can have (shorter than the header, stream header and \
        metadata chunk, or a last chunk of fewer than 21 bytes). Most truncations and appended \
        bytes leave a possible size and pass: only 'keyholder verify', with a key, finds every \
        one.

        Example:
          keyholder inspect /media/usb/spool/inbox/7kq2….sealdrop

        Exit status: 0 when the header parses and the size is possible; 1 when the header \
        cannot be read or the size is impossible; 2 when the file cannot be opened; 64 for a \
        usage error.
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
                throw CLIError("\(path) is a folder", hint: "inspect takes one submission file; 'keyholder list' lists a folder")
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
                    outcome: .payloadFailure,
                    message: "payload failure: truncated or corrupt (\(size) bytes is not a possible length for this header)",
                    hint: "the copy may be damaged: copy it again from the server's inbox"
                )
                description.error = lengthProblem?.message
            }
            if json {
                print(try jsonLine(description))
            } else {
                for line in describe(description, recipients: header.recipients.count) { printLine(line) }
            }
            if let lengthProblem {
                failed = true
                diagnostics.report(lengthProblem.report(for: file))
            }
        }
        if failed { throw ExitStatus.submissionFailed }
    }

    private func describe(_ d: Description, recipients: Int) -> [String] {
        var lines: [String] = []
        func field(_ label: String, _ value: String) {
            lines.append(label + String(repeating: " ", count: max(1, 16 - label.count)) + value)
        }
        field("file", d.file)
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
        return lines
    }
}
