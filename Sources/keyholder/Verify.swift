import ArgumentParser
import Foundation
import SealDropCLISupport
import SealDropFormat
import SealDropKeyholder

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Authenticate every byte of submissions without writing any plaintext.",
        discussion: """
        Prints one line per submission: its path and 'ok', 'no match', 'header failure', \
        'payload failure' (tampered with or truncated), 'bad metadata' (the metadata \
        authenticated but breaks the format's rules, or the content's length differs from the \
        size it declares) or 'read error': the outcome names of the format's test vectors. The \
        reason for a failure goes to standard error. Each submission's provenance record (its \
        .record file, which the drop signed with its drop key) is checked too, against the \
        payload's hash: an altered or mismatched record is a failure; a missing one (a file \
        that did not come through a drop, or whose record was removed), or one whose drop key \
        is not pinned (keyholder trust-drop), gets a warning. Nothing is written to disk. \
        Without PATH, the archive (or the --in folders) is verified; a medium can be verified \
        before it is imported.

        With --manifest DIR, checks the export sealdropd export wrote to DIR as keyholder \
        import would, without importing or decrypting anything (no key is unlocked): the \
        manifest's signature by a pinned drop key, each listed submission's and record's size \
        and BLAKE2b hash, files it does not list, and the chain against the last export imported \
        into the archive. Every problem is reported on a line of its own; when all holds it \
        prints 'manifest digest: xxxx-xxxx-…', the digest keyholder import prints too.

        Example:
          keyholder verify
          keyholder verify /media/usb/spool
          keyholder verify --manifest /media/usb/export-2026-11-30

        \(submissionExitStatuses)
        """
    )

    @OptionGroup var keys: KeyOptions
    @OptionGroup var location: ArchiveOptions

    @Flag(help: "Print one JSON object per line (file, id, status, key_ids, key_id, error, and the record's record, door, received, drop_key, record_error).")
    var json = false

    @Option(help: ArgumentHelp("Check the export (signed manifest, files, chain) in this folder instead; nothing is imported.", valueName: "dir"))
    var manifest: String?

    @Flag(help: "With --manifest: accept an export that follows a missing one (only when that export was lost).")
    var acceptGap = false

    @Argument(help: ArgumentHelp("Submission files, inbox folders, spool roots or submission IDs.", valueName: "path"))
    var paths: [String] = []

    func validate() throws {
        if manifest != nil && (!paths.isEmpty || json) {
            throw ValidationError("--manifest DIR checks one export folder: give no other paths, and no --json")
        }
        if acceptGap && manifest == nil { throw ValidationError("--accept-gap goes with --manifest DIR") }
    }

    func run() throws {
        if let manifest { return try verifyExport(manifest) }
        var failures = 0
        try reportingErrors { () throws(CLIError) in
            let archive = try location.existingArchive()
            let files = try location.files(paths, archive: archive, allWhenEmpty: true)
            guard !files.isEmpty else {
                throw CLIError("no submissions found (looked for *.sealdrop files)", hint: "give submission files or an inbox folder")
            }
            let ring = try keys.makeKeyring()
            for file in files {
                let bar = progressBar(for: file, size: fileSize(file.path))
                let (row, failure) = try verify(file, ring: ring, archive: archive) { bar.update($0) }
                bar.finish()
                if json, let line = try? jsonLine(row) { print(line) } else { printLine("\(row.file): \(row.outcome.label)") }
                flushStandardOutput()
                if let failure {
                    failures += 1
                    diagnostics.report(failure.report(for: file))
                }
                let provenance = provenanceReport(row)
                if let error = provenance.error {
                    failures += 1
                    diagnostics.report(error)
                }
                if let warning = provenance.warning { diagnostics.warn(warning) }
            }
            if failures > 0 && files.count > 1 {
                diagnostics.note("\(failures) of \(files.count) submissions failed verification")
            }
        }
        if failures > 0 { throw ExitStatus.submissionFailed }
    }
}

extension Verify {
    /// `--manifest DIR`: the checks keyholder import makes of an export, without importing.
    func verifyExport(_ folder: String) throws {
        var clean = false
        try reportingErrors { () throws(CLIError) in
            guard ExportCheck.manifestPath(in: folder) != nil else {
                throw CLIError("\(folder) holds no export manifest (\(ExportManifest.fileName))",
                               hint: "give the folder sealdropd export --to DIR wrote; a medium without a manifest proves nothing about its completeness")
            }
            let trusted = try TrustedDrops.load(folder: keys.keyring ?? Keyring.defaultFolder)
            var chain: [ExportChainState] = []
            if let archivePath = location.existingArchivePath { chain = try ExportChainStore.load(archivePath: archivePath) }
            let check = try ExportCheck.run(medium: folder, trusted: trusted, chain: chain, acceptingGap: acceptGap)
            if check.gapAccepted, let verdict = check.verdict {
                diagnostics.warn("\(verdict); accepted with --accept-gap")
            }
            guard check.isClean, let manifest = check.manifest else {
                for problem in check.problems { diagnostics.report(problem) }
                diagnostics.note("the export on \(folder) does not verify (\(check.problems.count) problem(s))")
                return
            }
            printLine("\(folder): ok: export \(manifest.sequence) of drop \(manifest.dropKey.fingerprint), \(manifest.entries.count) submission(s), none missing, added or altered; \(check.verdict.map { "\($0)" } ?? "")")
            printLine("manifest digest: \(check.digest)")
            clean = true
        }
        if !clean { throw ExitStatus.submissionFailed }
    }
}

/// The size of the file at `path`, 0 if unknown.
func fileSize(_ path: String) -> UInt64 {
    var info = stat()
    return stat(path, &info) == 0 ? UInt64(info.st_size) : 0
}
