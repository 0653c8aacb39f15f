import ArgumentParser
import Foundation
import SealDropCLISupport

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Authenticate every byte of submissions without writing any plaintext.",
        discussion: """
        Prints one line per submission: its path and 'ok', 'no match', 'header failure', \
        'payload failure' (tampered with or truncated) or 'read error': the outcome names of the \
        format's test vectors. The reason for a failure goes to standard error. Nothing is \
        written to disk. Without PATH, the --in folders (or the current folder) are verified. \
        The exit status is 1 if any submission is not ok.
        """
    )

    @OptionGroup var keys: KeyOptions
    @OptionGroup var inbox: InboxOptions

    @Flag(help: "Print one JSON object per line (file, id, status, key_ids, key_id, error).")
    var json = false

    @Argument(help: ArgumentHelp("Submission files, inbox folders, spool roots or submission IDs.", valueName: "path"))
    var paths: [String] = []

    func run() throws {
        var failures = 0
        try reportingErrors { () throws(CLIError) in
            let files = paths.isEmpty ? try Locator.all(in: inbox) : try Locator.resolve(paths, inboxes: inbox)
            guard !files.isEmpty else {
                throw CLIError("no submissions found (looked for *.sealdrop files)", hint: "give submission files or an inbox folder")
            }
            let ring = try keys.makeKeyRing()
            for file in files {
                var result = SubmissionRow(file: file, status: .ok)
                do throws(KeyholderError) {
                    let read = try readHeader(file)
                    result.keyIDs = read.header.keyIDs.map(\.description)
                    let (reader, source) = try openStreamingReader(read, ring: ring)
                    result.keyID = reader.openedWith.publicKey.keyID.description
                    let progress = ProgressBar(label: escapeForDisplay(file.label), total: read.fileSize ?? 0)
                    defer { progress.finish() }
                    do {
                        try reader.readAll { _ in progress.update(source.bytesRead) }
                    } catch {
                        throw classify(error)
                    }
                    result.size = reader.contentByteCount
                    if let declared = reader.metadata.size, declared != reader.contentByteCount {
                        diagnostics.warn("\(escapeForDisplay(file.path)): the content is \(reader.contentByteCount) bytes, but the metadata says \(declared)")
                    }
                } catch {
                    switch error {
                    case .fatal(let fatal): throw fatal
                    case .submission(let failure):
                        failures += 1
                        result.fail(failure)
                        emit(result)
                        diagnostics.report(failure.report(for: file))
                        continue
                    }
                }
                emit(result)
            }
            if failures > 0 && files.count > 1 {
                diagnostics.note("\(failures) of \(files.count) submissions failed verification")
            }
        }
        if failures > 0 { throw ExitStatus.submissionFailed }
    }

    private func emit(_ result: SubmissionRow) {
        if json, let line = try? jsonLine(result) {
            print(line)
        } else {
            print("\(escapeForDisplay(result.file)): \(result.status.rawValue)")
        }
        flushStandardOutput()
    }
}
