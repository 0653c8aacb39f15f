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

        A medium that sealdropd export wrote holds a signed manifest \
        (sealdrop-export.manifest), which is checked before anything is imported: its signature \
        by a drop key pinned with keyholder trust-drop (none pinned is an error), each listed \
        submission's and record's size and BLAKE2b hash, files on the medium that it does not \
        list, and the chain: the export must be the next after the last one imported from that \
        drop (the first ever starts the chain, as a note says). Every problem is reported on a \
        line of its own, naming the submission (missing, added, altered), a manifest that does \
        not verify or is signed by another key, or a chain that breaks or goes backwards \
        (an older or replayed export); then nothing is imported and no digest is printed. When \
        all holds, exactly the listed submissions are imported, the chain is recorded \
        (export-chain in the archive), and the last line is 'manifest digest: xxxx-xxxx-…': the \
        digest the operator types back into sealdropd export --move. A medium without a manifest \
        is imported as before, with a note that nothing proves it complete.

        An export that follows a missing one (export 5 after export 3) is refused: import the \
        missing one first. Only when it was lost, and nothing was removed from the server with \
        it (--move removes only after its digest was typed back), --accept-gap imports this one \
        with a warning; a chain that goes backwards or forks is never accepted.

        Each import is recorded in the archive (imports/): when, from where, and every \
        submission found with its key IDs, size, BLAKE2b hash and outcome. 'keyholder retire' \
        reads these records before it destroys a key.

        Example:
          keyholder import /media/usb/export-2026-11-30
          keyholder import /media/usb/spool

        \(submissionExitStatuses) An export whose manifest, files or chain do not verify \
        exits 1 with nothing imported.
        """
    )

    @OptionGroup var keys: KeyOptions

    @Option(help: ArgumentHelp("The archive folder (default ~/.sealdrop/archive); created (mode 0700) if missing.", valueName: "dir"))
    var archive: String?

    @Flag(help: "Accept an export that follows a missing one (only when that export was lost).")
    var acceptGap = false

    @Argument(help: ArgumentHelp("The medium's folder (a spool copy, an inbox, or a folder of .sealdrop files).", valueName: "media"))
    var medium: String

    func run() throws {
        var failures = 0, exportRefused = false
        try reportingErrors { () throws(CLIError) in
            let archive = try Archive.open(self.archive ?? Archive.defaultPath, create: true)
            let ring = try keys.makeKeyring()
            var bar: ProgressBar?
            let show: (Importer.Event) -> Void = { event in
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
            let importer = Importer(archive: archive, ring: ring)
            let record: ImportRecord
            var digest: String?
            if ExportCheck.manifestPath(in: medium) != nil {
                let check = try ExportCheck.run(medium: medium, trusted: ring.trustedDrops, chain: try ExportChainStore.load(archivePath: archive.path),
                                                acceptingGap: acceptGap)
                guard check.isClean, let manifest = check.manifest else {
                    for problem in check.problems { diagnostics.report(problem) }
                    diagnostics.note("the export on \(medium) does not verify (\(check.problems.count) problem(s)): nothing was imported, and no digest is given to remove anything from the server")
                    exportRefused = true
                    return
                }
                let count = manifest.entries.count
                if check.gapAccepted, let verdict = check.verdict {
                    diagnostics.warn("\(verdict); accepted with --accept-gap: what a lost export alone held is not on this medium")
                }
                diagnostics.note("export \(manifest.sequence) of drop \(manifest.dropKey.fingerprint) verified: \(count) submission(s), signed by the pinned drop key, none missing, added or altered; \(check.verdict.map { "\($0)" } ?? "")")
                record = try importer.importExport(check, report: show)
                digest = check.digest
            } else {
                diagnostics.note("no export manifest on \(medium): nothing proves the medium complete or unaltered (sealdropd export --to DIR writes one)")
                record = try importer.importMedium(medium, report: show)
            }
            let imported = record.entries.filter { $0.action == .imported }.count
            let already = record.entries.count - imported - record.entries.filter { $0.action == .notImported || $0.action == .conflict }.count
            diagnostics.note("\(record.entries.count) submission(s) on \(medium): \(imported) imported, \(already) already in the archive, \(failures) with a problem; recorded in \(archive.importsPath)")
            if let digest { printLine("manifest digest: \(digest)") }
            if record.entries.isEmpty && digest == nil {
                diagnostics.warn("no submissions found on \(medium): is the medium mounted, and is this the spool or its inbox?")
            }
        }
        if failures > 0 || exportRefused { throw ExitStatus.submissionFailed }
    }
}
