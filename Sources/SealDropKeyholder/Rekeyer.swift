import Foundation
public import SealDropCLISupport
public import SealDropCrypto
import SealDropFormat

/// `keyholder rekey`: re-wraps the archive's submissions for new recipients, in place.
///
/// Only the archive's copies are ever rewritten: a medium or the server's inbox is never
/// written to (and nothing goes back from the air-gapped machine to the server). Each file is
/// rewritten in one authenticate-while-copying pass (``Rekeying/rewrap(header:remaining:keys:to:output:)``),
/// or with `full` decrypted and sealed again under a fresh file key; the new file is synced,
/// its header read back, and it replaces the original atomically, so a failure leaves the
/// original as it was.
public final class Rekeyer {
    /// What became of one submission.
    public enum Result: Sendable, Equatable {
        /// Rewritten for the new recipients.
        case rekeyed
        /// Left alone: it is already sealed to exactly the new recipients.
        case alreadySealedToTargets
    }

    private let archive: Archive
    private let ring: Keyring

    /// Re-keys submissions of `archive` with the keys of `ring`.
    public init(archive: Archive, ring: Keyring) {
        self.archive = archive
        self.ring = ring
    }

    /// Refuses, before any work, files that are not the archive's own.
    public func checkInArchive(_ files: [SubmissionFile]) throws(CLIError) {
        for file in files where !archive.holds(file) {
            throw CLIError("\(file.path) is not in the archive \(archive.path): rekey rewrites only the archive's copies, never a medium or the server's inbox",
                           hint: "import it first (keyholder import MEDIA), then re-key it by ID")
        }
    }

    /// Re-keys one submission of the archive to exactly `recipients`; with `full`, re-encrypts
    /// the payload under a fresh file key too (never skipped). `progress` is told the bytes read
    /// and the file's size.
    public func rekey(_ file: SubmissionFile, to recipients: [PublicKey], full: Bool,
                      progress: @escaping (UInt64, UInt64) -> Void = { _, _ in }) throws(KeyholderError) -> Result {
        let read = try readHeader(file)
        if !full, Set(read.header.keyIDs) == Set(recipients.map(\.keyID)), read.header.keyIDs.count == recipients.count {
            return .alreadySealedToTargets
        }
        let keys: [SecretKey]
        do { keys = try ring.secretKeys(for: read.header.keyIDs) } catch { throw .fatal(error) }
        guard !keys.isEmpty else { throw .submission(noMatch(read.header.keyIDs, ring: ring)) }
        let folder: OutputFolder, pending: PendingFile
        do {
            folder = try OutputFolder(path: file.folder, privateToOwner: true)
            pending = try PartialFileGuard.createGuarded(in: folder)
        } catch {
            throw .fatal(error)
        }
        defer { PartialFileGuard.disarm() }
        let total = read.fileSize ?? 0
        // A full re-encryption replaces the payload the drop's provenance record vouches for:
        // its hash before and after goes into the archive's record, so the chain can be followed.
        var payloadBefore: [UInt8]?
        if full {
            do { payloadBefore = try fileHashes(file.path, headerBytes: read.header.bytes.count).payload } catch { throw .fatal(error) }
        }
        do throws(KeyholderError) {
            let write: (UnsafeRawBufferPointer) throws -> Void = { bytes in
                do throws(CLIError) { try writeAll(pending.fd, bytes) } catch {
                    throw OutputWriteError(CLIError("cannot write to the archive: \(error.message)", hint: "check its free space"))
                }
                progress(read.file.bytesRead, total)
            }
            do {
                if full {
                    try reencrypt(read, keys: keys, to: recipients, write: write)
                } else {
                    _ = try Rekeying.rewrap(header: read.header, remaining: read.file, keys: keys, to: recipients, output: write)
                }
            } catch {
                throw classify(error)
            }
            do throws(CLIError) {
                try pending.sync()
                try checkWritten(pending, recipients: recipients)
                if let payloadBefore {
                    let after = try writtenPayloadHash(pending)
                    try archive.recordReencrypted(file.label, payloadBefore: payloadBefore, payloadAfter: after)
                }
                try folder.replace((file.path as NSString).lastPathComponent, with: pending)
            } catch {
                throw .fatal(CLIError("cannot replace \(file.path): \(error.message); the original is unchanged", hint: error.hint ?? "check the archive's disk"))
            }
        } catch {
            folder.discard(pending)
            throw error
        }
        return .rekeyed
    }

    /// Decrypts and seals again under a fresh file key, keeping the metadata.
    private func reencrypt(_ read: HeaderRead, keys: [SecretKey], to recipients: [PublicKey], write: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
        let reader = try EnvelopeReader(header: read.header, remaining: read.file, keys: keys)
        let writer = try EnvelopeWriter(recipients: recipients, metadata: reader.metadata)
        try writer.prefix.withUnsafeBytes { try write($0) }
        try reader.readAll { content in try writer.append(content, emit: write) }
        try writer.finish(emit: write)
    }

    /// BLAKE2b-256 of what follows the header in the file being written.
    private func writtenPayloadHash(_ pending: PendingFile) throws(CLIError) -> [UInt8] {
        let path = "/proc/self/fd/\(pending.fd)"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError("cannot read back the re-keyed file: \(errnoText())") }
        defer { close(fd) }
        var source = DescriptorSource(fd: fd)
        let header = try envelopeCall { try EnvelopeReader<DescriptorSource>.readHeader(from: &source) }
        return try fileHashes(path, headerBytes: header.bytes.count).payload
    }

    /// Reads back the new file's header: well formed, sealed to exactly the new recipients, of
    /// a possible length.
    private func checkWritten(_ pending: PendingFile, recipients: [PublicKey]) throws(CLIError) {
        let fd = open("/proc/self/fd/\(pending.fd)", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError("cannot read back the re-keyed file: \(errnoText())") }
        var source = DescriptorSource(fd: fd)
        defer { close(fd) }
        let header = try envelopeCall { try EnvelopeReader<DescriptorSource>.readHeader(from: &source) }
        guard header.keyIDs == recipients.map(\.keyID) else { throw CLIError("the re-keyed header does not name the new recipients") }
        var info = stat()
        guard fstat(fd, &info) == 0,
              Layout.isPossibleTotalLength(UInt64(info.st_size), recipients: recipients.count, metadataLength: header.metadataLength) else {
            throw CLIError("the re-keyed file has an impossible length")
        }
    }
}

/// Reads an open descriptor from its start (`pread`), for reading back a file being written.
struct DescriptorSource: ByteSource {
    let fd: Int32
    var offset: off_t = 0

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = pread(fd, buffer.baseAddress, buffer.count, offset)
            if n >= 0 { offset += off_t(n); return n }
            if errno == EINTR { continue }
            throw CLIError("cannot read back the re-keyed file: \(errnoText())")
        }
    }
}
