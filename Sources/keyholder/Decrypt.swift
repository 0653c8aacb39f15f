import ArgumentParser
import Foundation
import SealDropCLISupport
import SealDropKeyholder

struct Decrypt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decrypt submissions into a folder, each beside a text file of its metadata and message.",
        discussion: """
        Submissions are named by ID (looked up in the archive, or the --in folders) or by path; \
        --all takes every submission of the archive (or the --in folders). Submissions of the \
        archive that were decrypted before are skipped (the archive records it); --again \
        decrypts them again.

        With --out DIR: DIR is created (mode 0700) if missing. It must be a folder of yours \
        that nobody else can write to, and it may not be, or lie inside, the archive, a folder \
        the submissions are read from, a daemon spool, a folder of submissions, or a medium \
        that was imported: plaintext never lands beside ciphertext or on removable media. A \
        symbolic link is refused. Each output is written as a file without a name (where the \
        file system allows; on FAT a hidden temporary name) and named only after the final \
        chunk authenticated, so an interruption (Ctrl-C, SIGTERM, SIGHUP) or a failure leaves \
        no output file. Names from sources are reduced to a safe base name (no '/', '..', NUL, \
        control or bidi characters, at most 200 bytes; when nothing is left, the submission \
        ID); a taken name gets a suffix ' (1)', ' (2)', …: no existing file is ever \
        overwritten. Beside each output, NAME.about.txt holds the submission's ID, metadata \
        and message, escaped. Each submission succeeds or fails on its own.

        With --stdout: exactly one submission, written to standard output, which must not be a \
        terminal. Only authenticated chunks are released; if a later chunk fails, keyholder \
        exits 1 saying the output is incomplete: discard it. No text file is written.

        On a terminal, files over 8 MiB show a progress bar with rate and ETA on standard error.

        Example:
          keyholder decrypt --out ~/opened --all
          keyholder decrypt --stdout 7kq2 > report.pdf

        \(submissionExitStatuses)
        """
    )

    @OptionGroup var keys: KeyOptions
    @OptionGroup var location: ArchiveOptions

    @Option(name: .long, help: ArgumentHelp("The output folder; created (mode 0700) if missing.", valueName: "dir"))
    var out: String?

    @Flag(help: "Write the one submission to standard output (not a terminal) instead of a folder.")
    var stdout = false

    @Flag(help: "Decrypt every submission of the archive (or of the --in folders).")
    var all = false

    @Flag(help: "Decrypt again submissions the archive records as decrypted.")
    var again = false

    @Argument(help: ArgumentHelp("Submission IDs, submission files, inbox folders or spool roots.", valueName: "id-or-path"))
    var paths: [String] = []

    func validate() throws {
        if stdout == (out != nil) { throw ValidationError("give either --out DIR or --stdout") }
        if all && !paths.isEmpty { throw ValidationError("--all takes no submissions: it decrypts every one of the archive or the --in folders") }
        if !all && paths.isEmpty { throw ValidationError("name at least one submission (ID or path), or give --all") }
        if stdout && all { throw ValidationError("--stdout writes exactly one submission; --all is for --out DIR") }
    }

    func run() throws {
        var failures = 0
        try reportingErrors { () throws(CLIError) in
            let archive = try location.existingArchive()
            let files = try location.files(paths, archive: archive, allWhenEmpty: all)
            guard !files.isEmpty else {
                throw CLIError("no submissions found (looked for *.sealdrop files)", hint: "give submission files, IDs or an inbox folder")
            }
            if stdout {
                guard files.count == 1 else {
                    throw CLIError("--stdout writes exactly one submission, and \(files.count) were named", hint: "use --out DIR for several")
                }
                if try !toStandardOutput(files[0], archive: archive) { failures = 1 }
                return
            }
            let target = try OutputTarget(path: out!, inputs: files, archive: archive)
            let ring = try keys.makeKeyring()
            let decryptor = Decryptor(ring: ring, archive: archive)
            let (toDecrypt, skipped) = decryptor.pending(files, again: again)
            if !skipped.isEmpty {
                diagnostics.note("skipped \(skipped.count) submission(s) decrypted before (\(skipped.prefix(3).map(\.label).joined(separator: ", "))\(skipped.count > 3 ? ", …" : "")); --again decrypts them again")
            }
            failures = try eachSubmission(toDecrypt) { file, bar throws(KeyholderError) in
                let output = try decryptor.decrypt(file, into: target) { done, _ in bar.update(done) }
                bar.finish()
                for link in output.symlinksPassed {
                    diagnostics.warn("\((target.path as NSString).appendingPathComponent(link)) is a symbolic link: left untouched, the output took another name")
                }
                for warning in output.warnings { diagnostics.warn(warning) }
                printLine("\(file.path): ok -> \((target.path as NSString).appendingPathComponent(output.name))")
                flushStandardOutput()
            }
            if failures > 0 && toDecrypt.count > 1 {
                diagnostics.note("\(toDecrypt.count - failures) of \(toDecrypt.count) submissions decrypted; \(failures) failed")
            }
        }
        if failures > 0 { throw ExitStatus.submissionFailed }
    }

    /// Streams one submission to standard output. Returns false if it failed (reported).
    private func toStandardOutput(_ file: SubmissionFile, archive: Archive?) throws(CLIError) -> Bool {
        guard !isTerminal(1) else {
            throw CLIError("refusing to write a decrypted submission to a terminal",
                           hint: "redirect standard output to a file or a program, or use --out DIR")
        }
        if let output = fileIdentity(fd: 1), let input = fileIdentity(path: file.path), output == input {
            throw CLIError("standard output is the submission file itself", hint: "redirect standard output elsewhere")
        }
        let decryptor = Decryptor(ring: try keys.makeKeyring(), archive: archive)
        let bar = progressBar(for: file, size: fileSize(file.path))
        defer { bar.finish() }
        do throws(KeyholderError) {
            _ = try decryptor.toStandardOutput(file) { done, _ in bar.update(done) }
            return true
        } catch {
            switch error {
            case .fatal(let fatal): throw fatal
            case .submission(let failure):
                bar.finish()
                diagnostics.report(failure.report(for: file))
                return false
            }
        }
    }
}
