import ArgumentParser
import Foundation
import SealDropCLISupport

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List submissions: ID, date, size, original name, key ID and status.",
        discussion: """
        PATH is a submission file, an inbox folder, a spool root or a submission ID; without \
        one, the --in folders (or the current folder) are listed. Only the header and the small \
        metadata chunk of each submission are read and authenticated, never the content: status \
        'ok' means those are intact (run 'keyholder verify' to authenticate every byte).

        SEALED is the time in the metadata, in UTC; BY says whose clock it is: 'server' (the \
        daemon sealed it on receipt) or 'source' (the source sealed it on their own machine; \
        their clock may be wrong, or set to mislead). SIZE is the size the source recorded, or, \
        marked '≤', the padded length: the content is at most that long and at least about 89 % \
        of it. Names are escaped: control characters, ANSI escapes, bidi overrides and line \
        breaks are shown as \\u{…}.

        Rows are sorted by time, oldest first; failed submissions come last, with their status \
        (no match, header failure, payload failure, read error) and, on standard error, the \
        reason. The listing goes on past failures; the exit status is 1 if any failed.

        With --json, one JSON object per line: file, id, status, key_ids, and when opened \
        key_id, time (RFC 3339), sealed_by, size, size_exact, name, type; error when it failed.
        """
    )

    @OptionGroup var keys: KeyOptions
    @OptionGroup var inbox: InboxOptions

    @Flag(help: "Print one JSON object per line instead of a table.")
    var json = false

    @Argument(help: ArgumentHelp("Submission files, inbox folders, spool roots or submission IDs.", valueName: "path"))
    var paths: [String] = []

    func run() throws {
        var failures = 0
        try reportingErrors { () throws(CLIError) in
            let files = paths.isEmpty ? try Locator.all(in: inbox) : try Locator.resolve(paths, inboxes: inbox)
            guard !files.isEmpty else {
                diagnostics.note("no submissions found (looked for *.sealdrop files)")
                return
            }
            let ring = try keys.makeKeyRing()
            var rows: [SubmissionRow] = []
            var reports: [CLIError] = []
            rows.reserveCapacity(files.count)
            for file in files {
                var (row, failure) = try probe(file, ring: ring)
                row.message = nil
                rows.append(row)
                if let failure {
                    failures += 1
                    reports.append(failure.report(for: file))
                }
            }
            rows.sort(by: listingOrder)
            if json {
                for row in rows { print(try jsonLine(row)) }
            } else {
                printTable(rows)
            }
            for report in reports { diagnostics.report(report) }
            if failures > 0 && files.count > 1 {
                diagnostics.note("\(failures) of \(files.count) submissions failed")
            }
        }
        if failures > 0 { throw ExitStatus.submissionFailed }
    }

    private func printTable(_ rows: [SubmissionRow]) {
        print(tableLine(["ID", "SEALED (UTC)", "BY", "SIZE", "KEY ID", "STATUS", "NAME"]))
        for row in rows {
            let keyID = row.keyID ?? row.keyIDs.map { ids in
                ids.isEmpty ? "-" : ids[0] + (ids.count > 1 ? " +\(ids.count - 1)" : "")
            } ?? "-"
            print(tableLine([
                abbreviated(escapeForDisplay(row.id), to: columnWidths[0]),
                row.time.map(formatUTC) ?? "-",
                row.sealedBy ?? "-",
                sizeText(row),
                keyID,
                row.status.rawValue,
                row.status == .ok ? row.name.map(escapeForDisplay) ?? "-" : "-",
            ]))
        }
    }
}

/// Column widths of the `list` table; the last column (the name) is not padded.
private let columnWidths = [24, 19, 6, 10, 16, 15]

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

/// Oldest first; failures (no time) last; then by file.
private func listingOrder(_ a: SubmissionRow, _ b: SubmissionRow) -> Bool {
    switch (a.time, b.time) {
    case let (x?, y?) where x != y: x < y
    case (.some, nil): true
    case (nil, .some): false
    default: a.file < b.file
    }
}
