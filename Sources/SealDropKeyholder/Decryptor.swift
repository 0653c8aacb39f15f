import Foundation
import SealDropCLISupport
import SealDropCrypto
public import SealDropFormat
import SealDropStore

/// `keyholder decrypt`: opens submissions into an output folder, each beside a text file of its
/// metadata and message, or one to standard output.
public final class Decryptor {
    /// One decrypted submission.
    public struct Output: Sendable {
        /// The content's name in the output folder.
        public let name: String
        /// The name of the text file beside it (metadata and message).
        public let aboutName: String
        /// Names passed over because a symbolic link held them.
        public let symlinksPassed: [String]
        /// Warnings a person should read (a name that could not be used, a size mismatch).
        public let warnings: [String]
    }

    /// The ending of the text file written beside each output.
    public static let aboutSuffix = ".about.txt"

    private let ring: Keyring
    private let archive: Archive?

    /// Decrypts with the keys of `ring`; submissions of `archive` are recorded there once
    /// decrypted.
    public init(ring: Keyring, archive: Archive?) {
        self.ring = ring
        self.archive = archive
    }

    /// Splits `files` into those to decrypt and those of the archive already decrypted (which
    /// are skipped unless `again`).
    public func pending(_ files: [SubmissionFile], again: Bool) -> (toDecrypt: [SubmissionFile], alreadyDecrypted: [SubmissionFile]) {
        guard !again, let archive else { return (files, []) }
        let done = archive.decryptedIDs()
        var toDecrypt: [SubmissionFile] = [], skipped: [SubmissionFile] = []
        for file in files {
            if archive.holds(file), done.contains(file.label) { skipped.append(file) } else { toDecrypt.append(file) }
        }
        return (toDecrypt, skipped)
    }

    /// Opens one submission into `target`: its content under a temporary (where possible
    /// nameless) file named only once it all authenticated, then the text file of its metadata.
    /// `progress` is told the bytes read and the file's size.
    public func decrypt(_ file: SubmissionFile, into target: OutputTarget, progress: (UInt64, UInt64) -> Void = { _, _ in }) throws(KeyholderError) -> Output {
        let read = try readHeader(file)
        let (reader, source) = try openStreamingReader(read, ring: ring)
        let folder: OutputFolder
        let pending: PendingFile
        do {
            folder = try target.folder()
            // Ctrl-C (or SIGTERM, SIGHUP) while writing leaves no partial output.
            pending = try PartialFileGuard.createGuarded(in: folder)
        } catch {
            throw .fatal(error)
        }
        defer { PartialFileGuard.disarm() }
        do throws(KeyholderError) {
            // Decrypting runs here while a second thread writes (and then zeroes) the plaintext;
            // that thread has ended before the descriptor is closed, whatever happens.
            let output = BackgroundWriter(fd: pending.fd, zeroAfterWriting: true)
            defer { output.stop() }
            try stream(reader, from: source, into: output, progress: { progress($0, read.fileSize ?? 0) }) { error in
                CLIError("cannot write to the output folder \(target.path): \(error.message)",
                         hint: "check the free space and permissions of the output folder")
            }
            do throws(CLIError) { try pending.sync() } catch {
                throw .fatal(CLIError("cannot sync the output in \(target.path): \(error.message)", hint: "check the output disk"))
            }
        } catch {
            folder.discard(pending)
            throw error
        }
        // (A content length other than the metadata's `size` never gets here: the reader
        // refuses it as bad metadata.)
        var warnings: [String] = []
        let fallback = submissionStem(of: file.path)
        let preferred = safeFileName(reader.metadata.name) ?? fallback
        let published: OutputFolder.Published
        do {
            published = try folder.publish(pending, as: preferred)
        } catch {
            // A name the output file system will not take falls back to the submission ID.
            guard preferred != fallback, let byID = try? folder.publish(pending, as: fallback) else {
                folder.discard(pending)
                throw .fatal(error)
            }
            warnings.append("\(file.path): its name could not be used (\(error.message)); saved under its ID instead")
            published = byID
        }
        let about: OutputFolder.Published
        do {
            let provenance = try checkProvenance(of: file, size: read.fileSize, headerBytes: read.header.bytes.count, payloadHash: nil, ring: ring)
            if case .invalid(let why) = provenance { warnings.append("\(file.path): \(why)") }
            about = try writeAbout(file, reader: reader, provenance: provenance, contentName: published.name, in: folder)
            if let archive, archive.holds(file) { try archive.recordDecrypted(file.label) }
        } catch {
            throw .fatal(error)
        }
        return Output(name: published.name, aboutName: about.name, symlinksPassed: published.symlinksPassed + about.symlinksPassed, warnings: warnings)
    }

    /// Writes the text file beside a decrypted output: what the drop's provenance record vouches
    /// for, and apart from it what the submission says about itself, every untrusted text
    /// escaped, the source's message quoted line by line. Mode 0600, never executable.
    private func writeAbout<Source>(_ file: SubmissionFile, reader: EnvelopeReader<Source>, provenance: ProvenanceCheck,
                                    contentName: String, in folder: OutputFolder) throws(CLIError) -> OutputFolder.Published {
        let text = Self.aboutText(id: file.label, metadata: reader.metadata, provenance: provenance,
                                  keyID: reader.openedWith.publicKey.keyID.description,
                                  contentName: contentName, contentLength: reader.contentByteCount)
        let pending = try folder.createPendingFile()
        do throws(CLIError) {
            try writeAll(pending.fd, Array(text.utf8))
            try pending.sync()
            return try folder.publish(pending, as: contentName + Self.aboutSuffix)
        } catch {
            folder.discard(pending)
            throw error
        }
    }

    /// The text of the file written beside an output.
    public static func aboutText(id: String, metadata: Metadata, provenance: ProvenanceCheck, keyID: String, contentName: String,
                                 contentLength: UInt64) -> String {
        var lines = ["SealDrop submission \(escapeForDisplay(id))", ""]
        func field(_ label: String, _ value: String) {
            lines.append(label + String(repeating: " ", count: max(1, 12 - label.count)) + value)
        }
        field("content", "\(escapeForDisplay(contentName)) (\(contentLength) bytes), beside this file")
        field("name", metadata.name.map { "\(escapeForDisplay($0)) (as the source gave it)" } ?? "(none recorded)")
        field("type", metadata.mediaType.map(escapeForDisplay) ?? "(none recorded)")
        for (label, value) in provenanceFields(claimedTime: metadata.time, claimedSealer: metadata.sealedBy.rawValue, provenance: provenance) {
            field(label, value)
        }
        field("key ID", keyID)
        field("decrypted", "\(formatUTC(Date())) UTC")
        if let message = metadata.message {
            let messageLines = message.split(separator: "\n", omittingEmptySubsequences: false)
            lines.append("")
            lines.append("message from the source (\(messageLines.count) line\(messageLines.count == 1 ? "" : "s"), escaped; every line starts with '> '):")
            for line in messageLines { lines.append("> " + escapeForDisplay(String(line))) }
        } else {
            field("message", "(none)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Streams one submission to file descriptor 1, releasing only authenticated bytes; returns
    /// how many were written. On a failure after some bytes went out, the error says so.
    public func toStandardOutput(_ file: SubmissionFile, progress: (UInt64, UInt64) -> Void = { _, _ in }) throws(KeyholderError) -> UInt64 {
        var written: UInt64 = 0
        do throws(KeyholderError) {
            let read = try readHeader(file)
            let (reader, source) = try openStreamingReader(read, ring: ring)
            let output = BackgroundWriter(fd: 1, zeroAfterWriting: true)
            defer { written = output.bytesWritten }
            do {
                try stream(reader, from: source, into: output, progress: { progress($0, read.fileSize ?? 0) }) { error in
                    CLIError("cannot write to standard output: \(error.message)")
                }
            } catch {
                // What authenticated before the failure goes out, as it would have unbuffered.
                try? output.finish()
                throw error
            }
            if let archive, archive.holds(file) {
                do throws(CLIError) { try archive.recordDecrypted(file.label) } catch { throw .fatal(error) }
            }
            return output.bytesWritten
        } catch {
            switch error {
            case .fatal(let fatal) where written > 0:
                throw .fatal(CLIError(fatal.message + "; the output is incomplete (\(written) bytes were written): discard it", hint: fatal.hint))
            case .submission(let failure) where written > 0:
                throw .submission(SubmissionFailure(
                    outcome: failure.outcome,
                    message: failure.message + "; the output is incomplete: \(written) bytes were written before the failure, and they cannot be trusted to be the whole submission",
                    hint: "discard what was written to standard output"))
            default:
                throw error
            }
        }
    }
}

/// Writes every authenticated content byte of `reader` through `output` and waits until all of
/// it is written. A failed write is reported in the words `describe` gives it; any other failure
/// as the submission's own.
private func stream(_ reader: EnvelopeReader<ReadAhead>, from source: ReadAhead, into output: BackgroundWriter,
                    progress: (UInt64) -> Void, describe: (CLIError) -> CLIError) throws(KeyholderError) {
    do {
        try reader.readAll { content in
            do throws(CLIError) { try output.write(content) } catch { throw OutputWriteError(describe(error)) }
            progress(source.bytesRead)
        }
        do throws(CLIError) { try output.finish() } catch { throw OutputWriteError(describe(error)) }
    } catch {
        throw classify(error)
    }
}

/// The submission ID in a file name, or a neutral stand-in, for outputs that carry no name.
public func submissionStem(of path: String) -> String {
    let base = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    return SubmissionID(base)?.text ?? safeFileName(base) ?? "submission"
}
