import ArgumentParser
import Foundation
import SealDropCLISupport
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropStore

struct Decrypt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decrypt submissions into a folder under their original (sanitised) names, or one to standard output.",
        discussion: """
        Each submission is named by path (a .sealdrop file, an inbox folder, a spool root) or by \
        ID (looked up in the --in folders, or the current folder); --all takes every submission \
        in the --in folders.

        With --out DIR: DIR is created (mode 0700) if missing; a symbolic link is refused, and \
        so is a folder the submissions are read from. Each output is written under a hidden \
        temporary name and given its final name only after the final chunk authenticated; a \
        failure, or an interruption (Ctrl-C, SIGTERM, SIGHUP), leaves no output file. Names from sources are reduced to a safe base name (no \
        '/', '..', NUL, control or bidi characters, at most 200 bytes; when nothing is left, the \
        submission ID); a name that is taken, by anything, gets a suffix ' (1)', ' (2)', …: no \
        existing file is ever overwritten, and a symbolic link in its way is left alone. Each \
        submission succeeds or fails on its own; the exit status is 1 if any failed.

        With --stdout: exactly one submission, written to standard output, which must not be a \
        terminal. Only authenticated chunks are released; if a later chunk fails, keyholder \
        exits 1 saying the output is incomplete: discard it.

        On a terminal, files over 8 MiB show a progress bar with rate and ETA on standard error.
        """
    )

    @OptionGroup var keys: KeyOptions
    @OptionGroup var inbox: InboxOptions

    @Option(name: .long, help: ArgumentHelp("The output folder; created (mode 0700) if missing. A symbolic link is refused.", valueName: "dir"))
    var out: String?

    @Flag(help: "Write the one submission to standard output (not a terminal) instead of a folder.")
    var stdout = false

    @Flag(help: "Decrypt every submission in the --in folders (or the current folder).")
    var all = false

    @Argument(help: ArgumentHelp("Submission files, inbox folders, spool roots or submission IDs.", valueName: "id-or-path"))
    var paths: [String] = []

    func validate() throws {
        if stdout == (out != nil) { throw ValidationError("give either --out DIR or --stdout") }
        if all && !paths.isEmpty { throw ValidationError("--all takes no submissions: it decrypts every one in the --in folders") }
        if !all && paths.isEmpty { throw ValidationError("name at least one submission (ID or path), or give --all") }
        if stdout && all { throw ValidationError("--stdout writes exactly one submission; --all is for --out DIR") }
    }

    func run() throws {
        var failures = 0
        try reportingErrors { () throws(CLIError) in
            let files = all ? try Locator.all(in: inbox) : try Locator.resolve(paths, inboxes: inbox)
            guard !files.isEmpty else {
                throw CLIError("no submissions found (looked for *.sealdrop files)", hint: "give submission files, IDs or an inbox folder")
            }
            if stdout {
                guard files.count == 1 else {
                    throw CLIError("--stdout writes exactly one submission, and \(files.count) were named",
                                   hint: "use --out DIR for several")
                }
                if try !toStandardOutput(files[0], ring: try keys.makeKeyRing()) { failures = 1 }
                return
            }
            let target = try OutputTarget(path: out!, inputs: files)
            let ring = try keys.makeKeyRing()
            var decrypted = 0
            for file in files {
                do throws(KeyholderError) {
                    let (name, symlinks) = try decryptOne(file, ring: ring, into: target)
                    decrypted += 1
                    for link in symlinks {
                        diagnostics.warn("\(escapeForDisplay((target.path as NSString).appendingPathComponent(link))) is a symbolic link: left untouched, the output took another name")
                    }
                    print("\(escapeForDisplay(file.path)): ok -> \(escapeForDisplay((target.path as NSString).appendingPathComponent(name)))")
                    flushStandardOutput()
                } catch {
                    switch error {
                    case .fatal(let fatal): throw fatal
                    case .submission(let failure):
                        failures += 1
                        diagnostics.report(failure.report(for: file))
                    }
                }
            }
            if failures > 0 && files.count > 1 {
                diagnostics.note("\(decrypted) of \(files.count) submissions decrypted; \(failures) failed")
            }
        }
        if failures > 0 { throw ExitStatus.submissionFailed }
    }

    /// Opens one submission into a temporary file and names it only once it all authenticated.
    private func decryptOne(_ file: SubmissionFile, ring: KeyRing, into target: OutputTarget) throws(KeyholderError) -> (String, [String]) {
        let read = try readHeader(file)
        let (reader, source) = try openStreamingReader(read, ring: ring)
        let folder: OutputFolder
        let temporary: String, fd: Int32
        do {
            folder = try target.folder()
            // Ctrl-C (or SIGTERM, SIGHUP) while writing removes the partial output.
            (temporary, fd) = try PartialFileGuard.createGuarded(in: folder)
        } catch {
            throw .fatal(error)
        }
        defer { PartialFileGuard.disarm() }
        let progress = ProgressBar(label: escapeForDisplay(file.label), total: read.fileSize ?? 0)
        do throws(KeyholderError) {
            // Decrypting runs here while a second thread writes (and then zeroes) the plaintext;
            // that thread has ended before the descriptor is closed, whatever happens.
            let output = BackgroundWriter(fd: fd, zeroAfterWriting: true)
            defer { output.stop() }
            try stream(reader, from: source, into: output, progress: progress) { error in
                CLIError("cannot write to the output folder \(escapeForDisplay(target.path)): \(error.message)",
                         hint: "check the free space and permissions of the output folder")
            }
            guard fsync(fd) == 0 else {
                throw .fatal(CLIError("cannot sync the output in \(escapeForDisplay(target.path)): \(errnoText())", hint: "check the output disk"))
            }
            progress.finish()
            close(fd)
        } catch {
            progress.finish()
            close(fd)
            folder.remove(temporary)
            throw error
        }
        if let declared = reader.metadata.size, declared != reader.contentByteCount {
            diagnostics.warn("\(escapeForDisplay(file.path)): the content is \(reader.contentByteCount) bytes, but the metadata says \(declared)")
        }
        let fallback = submissionStem(of: file.path)
        let preferred = safeFileName(reader.metadata.name) ?? fallback
        do {
            let published = try folder.publishReporting(temporary: temporary, as: preferred)
            return (published.name, published.symlinksPassed)
        } catch {
            // A name the output file system will not take falls back to the submission ID.
            if preferred != fallback, let published = try? folder.publishReporting(temporary: temporary, as: fallback) {
                diagnostics.warn("\(escapeForDisplay(file.path)): its name could not be used (\(error.message)); saved under its ID instead")
                return (published.name, published.symlinksPassed)
            }
            folder.remove(temporary)
            throw .fatal(error)
        }
    }

    /// Streams one submission to standard output. Returns false if it failed (reported).
    private func toStandardOutput(_ file: SubmissionFile, ring: KeyRing) throws(CLIError) -> Bool {
        guard !isTerminal(1) else {
            throw CLIError("refusing to write a decrypted submission to a terminal",
                           hint: "redirect standard output to a file or a program, or use --out DIR")
        }
        if let output = fileIdentity(fd: 1), let input = fileIdentity(path: file.path), output == input {
            throw CLIError("standard output is the submission file itself", hint: "redirect standard output elsewhere")
        }
        var written: UInt64 = 0
        do throws(KeyholderError) {
            let read = try readHeader(file)
            let (reader, source) = try openStreamingReader(read, ring: ring)
            let progress = ProgressBar(label: escapeForDisplay(file.label), total: read.fileSize ?? 0)
            defer { progress.finish() }
            let output = BackgroundWriter(fd: 1, zeroAfterWriting: true)
            defer { written = output.bytesWritten }
            do {
                try stream(reader, from: source, into: output, progress: progress) { error in
                    CLIError("cannot write to standard output: \(error.message)")
                }
            } catch {
                // What authenticated before the failure goes out, as it would have unbuffered.
                try? output.finish()
                throw error
            }
            return true
        } catch {
            switch error {
            case .fatal(let fatal):
                throw written > 0 ? CLIError(fatal.message + "; the output is incomplete (\(written) bytes were written): discard it", hint: fatal.hint) : fatal
            case .submission(let failure):
                diagnostics.report(failure.report(for: file))
                if written > 0 {
                    diagnostics.report(CLIError("the output is incomplete: \(written) bytes were written before the failure, and they cannot be trusted to be the whole submission",
                                                hint: "discard what was written to standard output"))
                }
                return false
            }
        }
    }
}

/// Writes every authenticated content byte of `reader` through `output` and waits until all of
/// it is written. A failed write is reported in the words `describe` gives it; any other failure
/// as the submission's own.
private func stream(_ reader: EnvelopeReader<ReadAhead>, from source: ReadAhead, into output: BackgroundWriter,
                    progress: ProgressBar, describe: (CLIError) -> CLIError) throws(KeyholderError) {
    do {
        try reader.readAll { content in
            do throws(CLIError) { try output.write(content) } catch { throw OutputWriteError(error: describe(error)) }
            progress.update(source.bytesRead)
        }
        do throws(CLIError) { try output.finish() } catch { throw OutputWriteError(error: describe(error)) }
    } catch {
        throw classify(error)
    }
}

/// The `--out` folder: checked before any work, created and opened only when the first
/// submission has opened, so a run that fails early (a wrong passphrase, no matching key)
/// leaves nothing behind, not even the folder.
final class OutputTarget {
    let path: String
    private var opened: OutputFolder?

    /// Checks `path` (not a symlink, a folder if it exists) and that it is not a folder the
    /// `inputs` are read from.
    init(path: String, inputs: [SubmissionFile]) throws(CLIError) {
        self.path = path
        try OutputFolder.check(path: path)
        guard let output = fileIdentity(path: path) else { return }
        for input in inputs where input.fromFolder {
            let folder = (input.path as NSString).deletingLastPathComponent
            if let identity = fileIdentity(path: folder.isEmpty ? "." : folder), identity == output {
                throw CLIError("the output folder \(escapeForDisplay(path)) is a folder the submissions are read from",
                               hint: "decrypt into a folder of its own, e.g. --out decrypted")
            }
        }
    }

    /// The folder, created (0700) and opened on first use.
    func folder() throws(CLIError) -> OutputFolder {
        if let opened { return opened }
        let folder = try OutputFolder(path: path)
        opened = folder
        return folder
    }
}

/// The submission ID in a file name, or a neutral stand-in, for outputs that carry no name.
func submissionStem(of path: String) -> String {
    let base = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    return SubmissionID(base)?.text ?? safeFileName(base) ?? "submission"
}
