import ArgumentParser
import Foundation
import SealDropCLISupport
import SealDropKeyholder

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List submissions: ID, date, size, key ID, status, whether it is new, and its name.",
        discussion: """
        Without PATH the archive is listed (or the --in folders); PATH is a submission file, an \
        inbox folder, a spool root or a submission ID. Only the header and the small metadata \
        chunk of each submission are read and authenticated, never the content: status 'ok' \
        means those are intact (run 'keyholder verify' to authenticate every byte).

        SEALED is the time in the metadata, in UTC. BY says who sealed it: 'server' (the daemon \
        sealed it on receipt; its clock) or 'source' (the source sealed it on their own machine; \
        their clock may be wrong, or set to mislead), as the drop's provenance record vouches; \
        followed by '?' when no valid record backs it and it is only what the submission \
        claims. RECORD is the record's state: 'ok' (signed by a pinned drop key, for this \
        submission and size), 'unpinned' (no drop key pinned: keyholder trust-drop), 'none' \
        (no record: not received through a drop, or removed) or 'BAD' (altered or mismatched: \
        an error, exit 1). SIZE is the size the source recorded, or, \
        marked '≤', the padded length: the content is at most that long and at least about 89 % \
        of it. NEW is 'new' for a submission of the archive not decrypted yet. Names are \
        escaped: control characters, ANSI escapes, bidi overrides and line breaks are shown as \
        \\u{…}.

        Rows are sorted by time, oldest first; failed submissions come last, with their status \
        (no match, header failure, payload failure, bad metadata, read error) and, on standard error, the \
        reason. The listing goes on past failures.

        With --json, one JSON object per line: file, id, status, key_ids, and when opened \
        key_id, time (RFC 3339), sealed_by, size, size_exact, name, type; new for the \
        archive's submissions; error when it failed; record, door, received, drop_key and \
        record_error from the provenance record.

        Example:
          keyholder list
          keyholder list --json /media/usb/spool

        \(submissionExitStatuses)
        """
    )

    @OptionGroup var keys: KeyOptions
    @OptionGroup var location: ArchiveOptions

    @Flag(help: "Print one JSON object per line instead of a table.")
    var json = false

    @Argument(help: ArgumentHelp("Submission files, inbox folders, spool roots or submission IDs.", valueName: "path"))
    var paths: [String] = []

    func run() throws {
        var failed = 0
        try reportingErrors { () throws(CLIError) in
            let archive = try location.existingArchive()
            let files = try location.files(paths, archive: archive, allWhenEmpty: true)
            guard !files.isEmpty else {
                diagnostics.note("no submissions found (looked for *.sealdrop files)")
                return
            }
            let (rows, failures) = try listing(files, ring: try keys.makeKeyring(), archive: archive)
            if json {
                for row in rows { print(try jsonLine(row)) }
            } else {
                printTable(rows)
            }
            for (file, failure) in failures { diagnostics.report(failure.report(for: file)) }
            failed = failures.count
            for row in rows {
                if let error = provenanceReport(row).error {
                    diagnostics.report(error)
                    failed += 1
                }
            }
            if failed > 0 && files.count > 1 { diagnostics.note("\(failed) of \(files.count) submissions failed") }
        }
        if failed > 0 { throw ExitStatus.submissionFailed }
    }

    private func printTable(_ rows: [SubmissionRow]) {
        printLine(tableLine(["ID", "SEALED (UTC)", "BY", "RECORD", "SIZE", "KEY ID", "STATUS", "NEW", "NAME"]))
        for row in rows {
            let keyID = row.keyID ?? row.keyIDs.map { ids in
                ids.isEmpty ? "-" : ids[0] + (ids.count > 1 ? " +\(ids.count - 1)" : "")
            } ?? "-"
            printLine(tableLine([
                abbreviated(row.id, to: columnWidths[0]),
                row.time.map(formatUTC) ?? "-",
                row.sealer ?? "-",
                row.record ?? "-",
                sizeText(row),
                keyID,
                row.outcome.label,
                row.new.map { $0 ? "new" : "" } ?? "-",
                row.outcome == .success ? row.name ?? "-" : "-",
            ]))
        }
    }
}

/// Column widths of the `list` table; the last column (the name) is not padded.
private let columnWidths = [24, 19, 7, 8, 10, 16, 15, 3]

private func tableLine(_ cells: [String]) -> String {
    var line = ""
    for (index, cell) in cells.enumerated() {
        if index < columnWidths.count {
            line += cell + String(repeating: " ", count: max(0, columnWidths[index] - cell.count)) + "  "
        } else {
            line += cell
        }
    }
    return line
}

/// `text` cut to `width` characters, the last one `…` if anything was cut.
private func abbreviated(_ text: String, to width: Int) -> String {
    text.count <= width ? text : String(text.prefix(width - 1)) + "…"
}

/// The size column: exact, or `≤` the padded length, or `-`.
func sizeText(_ row: SubmissionRow) -> String {
    guard let size = row.size else { return "-" }
    return (row.sizeExact == true ? "" : "≤") + formatByteCount(size)
}
