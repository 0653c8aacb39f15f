import Foundation
import ArgumentParser
import SealDropCLISupport
import SealDropKeyholder

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy submissions from removable media into the archive, verifying each as it is copied.",
        discussion: """
        MEDIA is the folder of a mounted medium: a copy of the daemon's spool (its inbox is \
        read) or inbox, or a folder of *.sealdrop files. Each submission is authenticated with \
        your keys while it is copied, in one pass, and named in the archive only once its last \
        chunk authenticated. One that fails is not imported (copy it again from the server); \
        one that none of your keys opens is imported all the same and reported; one the archive \
        already holds is left alone (also when it was re-keyed here since). Nothing is written \
        to the medium, and nothing ever needs to go back from this machine to the server.

        Each submission's provenance record (<id>.record, signed by the drop key) is checked \
        against the bytes just copied and, if it holds, copied beside it; each line ends with \
        'record: ok' (or 'unpinned': no drop key pinned, keyholder trust-drop), 'record: none' \
        (no record), or 'record: BAD' (altered or mismatched: reported, not copied).

        Each import is recorded in the archive (imports/): when, from where, and every \
        submission found with its key IDs, size, BLAKE2b hash and outcome. 'keyholder retire' \
        reads these records before it destroys a key.

        Example:
          keyholder import /media/usb/spool

        \(submissionExitStatuses)
        """
    )

    @OptionGroup var keys: KeyOptions

    @Option(help: ArgumentHelp("The archive folder (default ~/.sealdrop/archive); created (mode 0700) if missing.", valueName: "dir"))
    var archive: String?

    @Argument(help: ArgumentHelp("The medium's folder (a spool copy, an inbox, or a folder of .sealdrop files).", valueName: "media"))
    var medium: String

    func run() throws {
        var failures = 0
        try reportingErrors { () throws(CLIError) in
            let archive = try Archive.open(self.archive ?? Archive.defaultPath, create: true)
            let ring = try keys.makeKeyring()
            var bar: ProgressBar?
            let record = try Importer(archive: archive, ring: ring).importMedium(medium) { event in
                switch event {
                case .started(let file, let size):
                    bar = ProgressBar(label: escapeForDisplay((file as NSString).lastPathComponent), total: size)
                case .progress(let bytesRead):
                    bar?.update(bytesRead)
                case .finished(let entry, let problem):
                    bar?.finish()
                    bar = nil
                    let status = entry.status.map { " (\($0))" } ?? ""
                    let record = entry.record.map { "  record: \($0)" } ?? ""
                    printLine("\(entry.id)  \(entry.action.rawValue)\(status)\(record)")
                    flushStandardOutput()
                    if let problem {
                        failures += 1
                        diagnostics.report(problem)
                    }
                }
            }
            let imported = record.entries.filter { $0.action == .imported }.count
            let already = record.entries.count - imported - record.entries.filter { $0.action == .notImported || $0.action == .conflict }.count
            diagnostics.note("\(record.entries.count) submission(s) on \(medium): \(imported) imported, \(already) already in the archive, \(failures) with a problem; recorded in \(archive.importsPath)")
            if record.entries.isEmpty {
                diagnostics.warn("no submissions found on \(medium): is the medium mounted, and is this the spool or its inbox?")
            }
        }
        if failures > 0 { throw ExitStatus.submissionFailed }
    }
}
