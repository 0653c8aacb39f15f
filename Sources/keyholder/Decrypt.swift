import ArgumentParser
import Foundation
import SealDropCLISupport
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropStore

/// Options that choose the secret keys, shared by every command that opens submissions.
struct KeyOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("A secret key file to use; repeat for several. Without it, every *.key file in the keyring folder is used.", valueName: "keyfile"))
    var key: [String] = []

    @Option(help: ArgumentHelp("The keyring folder (default ~/.sealdrop/keys).", valueName: "dir"))
    var keyring: String?

    @Option(help: ArgumentHelp("Read passphrases from the first line of this file; keys it does not open are asked for on the terminal.", valueName: "file"))
    var passphraseFile: String?

    func makeKeyRing() throws(CLIError) -> KeyRing {
        try KeyRing(keyPaths: key, keyringFolder: keyring, passphraseFile: passphraseFile)
    }
}

struct Decrypt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decrypt submissions into a folder, under their original (sanitised) names.",
        discussion: """
        PATH is a submission file, an inbox folder, or a spool root (its inbox is read, never its \
        temp area). Each output is written under a hidden temporary name and given its final \
        name only after the last chunk authenticated; a failure leaves no output file. Names \
        from sources are reduced to a safe base name; a name that is taken gets a suffix \
        ' (1)', ' (2)', …: no existing file is ever overwritten. Each submission succeeds or \
        fails on its own; the exit status is 1 if any failed.
        """
    )

    @OptionGroup var keys: KeyOptions

    @Option(name: .long, help: ArgumentHelp("The output folder; created (mode 0700) if missing. A symbolic link is refused.", valueName: "dir"))
    var out: String

    @Argument(help: ArgumentHelp("Submission files, inbox folders or spool roots.", valueName: "path"))
    var paths: [String]

    func validate() throws {
        guard !paths.isEmpty else { throw ValidationError("name at least one submission file or inbox folder") }
    }

    func run() throws {
        var failures = 0
        try reportingErrors { () throws(CLIError) in
            let ring = try keys.makeKeyRing()
            let folder = try OutputFolder(path: out)
            for file in try expand(paths) {
                do throws(CLIError) {
                    let written = try decryptOne(file, ring: ring, into: folder)
                    print("\(escapeForDisplay(file)): ok -> \(escapeForDisplay((out as NSString).appendingPathComponent(written)))")
                } catch {
                    failures += 1
                    diagnostics.report(CLIError("\(escapeForDisplay(file)): \(error.message)", hint: error.hint))
                }
            }
        }
        if failures > 0 { throw ExitCode.failure }
    }

    /// Opens one submission into a temporary file in `folder` and names it only on success.
    private func decryptOne(_ path: String, ring: KeyRing, into folder: OutputFolder) throws(CLIError) -> String {
        let reader = try openSubmission(path, ring: ring)
        let (temporary, fd) = try folder.createTemporaryFile()
        do throws(CLIError) {
            try envelopeCall { try reader.readAll { content in try writeAll(fd, content) } }
            guard fsync(fd) == 0 else { throw CLIError("cannot sync the output: \(errnoText())") }
            close(fd)
        } catch {
            close(fd)
            folder.remove(temporary)
            throw error
        }
        let fallback = submissionStem(of: path)
        return try folder.publish(temporary: temporary, as: safeFileName(reader.metadata.name) ?? fallback)
    }
}

/// Every submission file named by `paths`, in order.
func expand(_ paths: [String]) throws(CLIError) -> [String] {
    var files: [String] = []
    for path in paths {
        do { files += try Inbox.submissionFiles(at: path) } catch {
            throw CLIError("\(escapeForDisplay(path)) does not exist", hint: "give a submission file, an inbox folder or a spool root")
        }
    }
    return files
}

/// The submission ID in a file name, or a neutral stand-in, for outputs that carry no name.
func submissionStem(of path: String) -> String {
    let base = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    return SubmissionID(base)?.text ?? safeFileName(base) ?? "submission"
}

/// Reads a submission's header and opens it with whichever key in the ring it names.
func openSubmission(_ path: String, ring: KeyRing) throws(CLIError) -> EnvelopeReader<FileReader> {
    let file = try FileReader(path: path)
    var source = file
    let header = try envelopeCall { try EnvelopeReader<FileReader>.readHeader(from: &source) }
    let keys = try ring.secretKeys(for: header.keyIDs)
    guard !keys.isEmpty else {
        throw CLIError(EnvelopeError.noMatchingKey(header.keyIDs).description,
                       hint: "your keys have key ID \(ring.keyIDs.map(\.description).joined(separator: ", ")); a key rotated out of the keyring cannot open it")
    }
    return try envelopeCall { try EnvelopeReader(header: header, remaining: source, keys: keys) }
}

/// Turns format and I/O errors into messages with hints.
@discardableResult
func envelopeCall<T>(_ body: () throws -> T) throws(CLIError) -> T {
    do {
        return try body()
    } catch let error as CLIError {
        throw error
    } catch let error as EnvelopeError {
        switch error.outcome {
        case .payloadFailure:
            throw CLIError(error.description, hint: "the copy may be damaged: copy it again from the inbox; if it stays broken, it was tampered with")
        case .headerFailure:
            throw CLIError(error.description, hint: "the file is not an intact SealDrop submission")
        case .noMatch, .success:
            throw CLIError(error.description)
        }
    } catch {
        throw CLIError("\(error)")
    }
}
