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

        What the drop vouches for is kept apart from what the submission says about itself. \
        The provenance record beside the file (<id>.record, signed with the drop key pinned by \
        keyholder trust-drop, checked against the submission's ID and size) gives 'received': \
        the server's time and the front door (PUT: the server sealed it; SEALED: the source \
        sealed it before upload). The metadata's time and 'sealed by' are then shown as the \
        source's claim when the source sealed it. A missing record is said; an altered or \
        mismatched one is an error (exit 1). 'keyholder verify' also reads the whole file and \
        checks the record's hash of its payload.

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
            let provenance = provenanceReport(row)
            if let error = provenance.error {
                failed = true
                diagnostics.report(error)
            }
            if row.record == "unpinned", let warning = provenance.warning { diagnostics.warn(warning) }
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
        for (label, value) in provenanceFields(row) { field(label, value) }
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
