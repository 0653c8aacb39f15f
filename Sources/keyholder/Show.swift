import ArgumentParser
import Foundation
import SealDropCLISupport
import SealDropKeyholder

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one submission's metadata and the source's message.",
        discussion: """
        Reads the header and the metadata chunk only (like list). Everything the source wrote \
        is escaped: control characters, ANSI escapes and bidi overrides are shown as \\u{…}; \
        each line of the message is printed after '> ', so no line of it can pass for one of \
        keyholder's own. With --json, one JSON object as in 'keyholder list --json', plus the \
        message.

        Example:
          keyholder show 7kq2

        \(submissionExitStatuses)
        """
    )

    @OptionGroup var keys: KeyOptions
    @OptionGroup var location: ArchiveOptions

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Argument(help: ArgumentHelp("A submission ID (or a unique prefix of at least 4 characters) or a submission file.", valueName: "id-or-path"))
    var submission: String

    func run() throws {
        var failed = false
        try reportingErrors { () throws(CLIError) in
            let archive = try location.existingArchive()
            let files = try location.files([submission], archive: archive, allWhenEmpty: false)
            guard files.count == 1, let file = files.first else {
                throw CLIError("\(submission) holds \(files.count) submissions; show takes one",
                               hint: "give one submission ID or file; 'keyholder list' lists a folder")
            }
            let (row, failure) = try probe(file, ring: try keys.makeKeyring())
            if let failure {
                failed = true
                diagnostics.report(failure.report(for: file))
                return
            }
            if json {
                print(try jsonLine(row))
            } else {
                describe(row)
            }
        }
        if failed { throw ExitStatus.submissionFailed }
    }

    private func describe(_ row: SubmissionRow) {
        func field(_ label: String, _ value: String) {
            printLine(label + String(repeating: " ", count: max(1, 11 - label.count)) + value)
        }
        field("id", row.id)
        field("file", row.file)
        field("key ID", row.keyID ?? "-")
        if let time = row.time {
            let clock = row.sealedBy == "source"
                ? "sealed by the source; their clock, which may be wrong or misleading"
                : "sealed by the server on receipt; the server's clock"
            field("sealed", "\(formatUTC(time)) UTC (\(clock))")
        }
        field("name", row.name ?? "(none recorded)")
        field("type", row.type ?? "(none recorded)")
        if let size = row.size {
            field("size", row.sizeExact == true
                  ? "\(size) bytes (\(formatByteCount(size)), as recorded)"
                  : "at most \(size) bytes (\(formatByteCount(size))): the padded length; no size was recorded")
        }
        field("status", "header and metadata intact; 'keyholder verify' authenticates the content")
        if let message = row.message {
            let messageLines = message.split(separator: "\n", omittingEmptySubsequences: false)
            printLine("message (\(messageLines.count) line\(messageLines.count == 1 ? "" : "s")):")
            for line in messageLines { printLine("> " + String(line)) }
        } else {
            field("message", "(none)")
        }
    }
}
