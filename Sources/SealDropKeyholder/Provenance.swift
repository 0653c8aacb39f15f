public import Foundation
public import SealDropCLISupport
public import SealDropCrypto
public import SealDropFormat
public import SealDropKeys
import SealDropStore

/// What the drop vouches for about one submission, as checked here: its provenance record
/// (`<id>.record` beside `<id>.sealdrop`), opened with the keyholder's keys and verified against
/// the drop keys pinned with `keyholder trust-drop`.
public enum ProvenanceCheck: Sendable {
    /// Signed by a pinned drop key, for this submission and its size (and hash, where checked).
    case verified(ProvenanceRecord)
    /// A record that opens and whose signature holds, but no drop key is pinned here to say
    /// whose it is: shown, marked unverified.
    case unverified(ProvenanceRecord)
    /// No record beside the submission: the drop vouches for nothing about it.
    case missing
    /// A record that does not open, does not verify, or belongs to other bytes.
    case invalid(String)

    /// One word for tables and JSON: `ok`, `unpinned`, `none`, `BAD`.
    public var label: String {
        switch self {
        case .verified: "ok"
        case .unverified: "unpinned"
        case .missing: "none"
        case .invalid: "BAD"
        }
    }

    /// The record, when one was read and its signature holds.
    public var record: ProvenanceRecord? {
        switch self {
        case .verified(let record), .unverified(let record): record
        case .missing, .invalid: nil
        }
    }
}

/// The drop keys a keyholder has pinned (`keyholder trust-drop`), kept in the keyring folder as
/// `trusted-drops`: one `sealdropdrop1…` per line, `#` comments. A drop key is typed or pasted
/// in once, at setup, never read from a medium (which the drop's side could have written).
public enum TrustedDrops {
    /// The file in a keyring folder.
    public static func path(in folder: String) -> String {
        (folder as NSString).appendingPathComponent("trusted-drops")
    }

    /// The pinned keys of `folder`; none when the file does not exist.
    public static func load(folder: String) throws(CLIError) -> [DropPublicKey] {
        let path = path(in: folder)
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let bytes = try readSmallFile(path, limit: 64 * 1024) { (owner, mode) throws(CLIError) in
            guard owner == geteuid(), mode & 0o022 == 0 else {
                throw CLIError("\(path) can be changed by another user", hint: "chmod 600 \(path); it decides which drops' records are believed")
            }
        }
        var keys: [DropPublicKey] = []
        for (index, line) in String(decoding: bytes, as: UTF8.self).split(separator: "\n").enumerated() {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty || text.hasPrefix("#") { continue }
            do { keys.append(try DropPublicKey(text: text)) } catch {
                throw CLIError("\(path), line \(index + 1): \(error)", hint: "the file holds drop public keys (sealdropdrop1…) written by keyholder trust-drop")
            }
        }
        return keys
    }

    /// Pins `key` in `folder` (created 0700 if missing); false if it was pinned already.
    public static func add(_ key: DropPublicKey, folder: String) throws(CLIError) -> Bool {
        if try load(folder: folder).contains(key) { return false }
        _ = try Keyring.ensureFolder(folder)
        let path = path(in: folder)
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CLIError("cannot write \(path): \(errnoText())", hint: "check the keyring folder's permissions") }
        defer { close(fd) }
        let line = "# pinned \(formatUTC(Date())) UTC, fingerprint \(key.fingerprint)\n\(key.text)\n"
        try writeAll(fd, Array(line.utf8))
        guard fsync(fd) == 0 else { throw CLIError("cannot sync \(path): \(errnoText())") }
        return true
    }
}

/// The record file beside a submission file: `X.record` for `X.sealdrop`; nil for a file not
/// named `*.sealdrop`.
public func recordPath(of file: SubmissionFile) -> String? {
    let suffix = "." + SpoolLayout.submissionExtension
    guard file.path.hasSuffix(suffix) else { return nil }
    return String(file.path.dropLast(suffix.count)) + "." + ProvenanceRecord.fileExtension
}

/// Checks `file`'s provenance record: opens it with the ring's keys (asking for a passphrase
/// only if a key is still locked), verifies its signature, and checks that it is this
/// submission's: its ID, its size (or, re-keyed since, its payload's size after a header of
/// `headerBytes`), and when given, its payload's hash (``fileHashes(_:headerBytes:)``). For a
/// submission of `archive` re-encrypted there (`rekey --full`), the payload hashes its
/// `reencrypted.jsonl` records lead back to count as its own.
public func checkProvenance(of file: SubmissionFile, size: UInt64?, headerBytes: Int, payloadHash: [UInt8]?,
                            ring: Keyring, archive: Archive? = nil) throws(CLIError) -> ProvenanceCheck {
    guard let path = recordPath(of: file), fileExistsOrLink(path) else { return .missing }
    let bytes: [UInt8]
    do { bytes = try readRecordFile(path) } catch { return .invalid("the record \(path) cannot be read: \(error.message)") }
    // The archive's re-encryption records are read only when the payload is not the one received.
    let earlier = { () -> [[UInt8]] in
        guard let archive, archive.holds(file), let payloadHash else { return [] }
        return archive.earlierPayloads(of: file.label, current: payloadHash)
    }
    return try checkRecord(bytes, of: file, size: size, headerBytes: headerBytes, payloadHash: payloadHash, earlierPayloads: earlier, ring: ring)
}

/// Checks a record's bytes (see ``checkProvenance(of:size:headerBytes:payloadHash:ring:archive:)``):
/// opens the record once, then checks it against the file, accepting instead of `payloadHash`
/// any of `earlierPayloads` (the payloads a re-encrypted copy had before).
func checkRecord(_ bytes: [UInt8], of file: SubmissionFile, size: UInt64?, headerBytes: Int, payloadHash: [UInt8]?,
                 earlierPayloads: () -> [[UInt8]] = { [] }, ring: Keyring) throws(CLIError) -> ProvenanceCheck {
    var source = ArraySource(bytes)
    let keys: [SecretKey]
    do {
        let header = try EnvelopeReader<ArraySource>.readHeader(from: &source)
        keys = try ring.secretKeys(for: header.keyIDs)
    } catch let error as CLIError {
        throw error
    } catch {
        return .invalid("the record is damaged: \(error)")
    }
    guard !keys.isEmpty else { return .invalid("the record is sealed to none of your keys") }
    let record: ProvenanceRecord
    do { record = try ProvenanceRecord.open(bytes, keys: keys) } catch {
        return .invalid("the record does not open or verify: \(error)")
    }
    let trusted = ring.trustedDrops.isEmpty ? [record.dropKey] : ring.trustedDrops
    func check(_ payload: [UInt8]?) throws(ProvenanceError) {
        try record.check(id: file.label, size: size ?? record.bytes, headerBytes: UInt64(headerBytes), payloadHash: payload, trusted: trusted)
    }
    do {
        try check(payloadHash)
    } catch {
        guard case .mismatch = error, payloadHash != nil,
              earlierPayloads().contains(where: { (try? check($0)) != nil }) else { return .invalid("\(error)") }
    }
    return ring.trustedDrops.isEmpty ? .unverified(record) : .verified(record)
}

/// BLAKE2b-256 of the whole file at `path` (a regular file) and of what follows its header of
/// `headerBytes`, read once more, and its size: what a provenance record's hashes (and an export
/// manifest's entries) are checked against.
public func fileHashes(_ path: String, headerBytes: Int) throws(CLIError) -> (whole: [UInt8], payload: [UInt8], bytes: UInt64) {
    var reader = try FileReader(path: path, requireRegularFile: true)
    let hasher = PayloadHasher(headerBytes: headerBytes, alsoWhole: true)
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let count: Int
        do { count = try buffer.withUnsafeMutableBytes { try reader.readFully(into: $0) } } catch {
            throw CLIError("cannot read \(path): \(error)")
        }
        buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        if count < buffer.count { break }
    }
    let hashes = hasher.finalize()
    return (hashes.whole!, hashes.payload, reader.bytesRead)
}

/// What to say about a submission's provenance on standard error, if anything: a `BAD` record
/// is an error (the caller counts it as a failure), a missing one a warning, an unpinned one a
/// note with the hint to pin the drop key.
public func provenanceReport(_ row: SubmissionRow) -> (error: CLIError?, warning: String?) {
    switch row.record {
    case "BAD":
        return (CLIError("\(row.file): \(row.recordError ?? "the provenance record is invalid")",
                         hint: "the record or the submission was altered, or they were mixed up: compare with the drop's copy before trusting what this submission says about itself"), nil)
    case "none":
        return (nil, "\(row.file): no provenance record: the drop vouches for nothing about it (it was not received through a drop, or its .record file was removed)")
    case "unpinned":
        return (nil, "\(row.file): the provenance record is unverified: no drop key is pinned (keyholder trust-drop sealdropdrop1…, as sealdropd drop-key --show prints it on the server)")
    default:
        return (nil, nil)
    }
}

/// A record file's bytes: a regular file (never blocks on a FIFO), at most 64 KiB.
func readRecordFile(_ path: String) throws(CLIError) -> [UInt8] {
    var reader = try FileReader(path: path, requireRegularFile: true)
    var bytes = [UInt8](repeating: 0, count: 64 * 1024 + 1)
    let count: Int
    do { count = try bytes.withUnsafeMutableBytes { try reader.readFully(into: $0) } } catch {
        throw CLIError("\(error)")
    }
    guard count <= 64 * 1024 else { throw CLIError("larger than any record") }
    return Array(bytes[..<count])
}

/// The `received`, `drop key` and `sealed` lines of `row`: what the drop's record vouches for,
/// kept apart from what the submission says about itself.
public func provenanceFields(_ row: SubmissionRow) -> [(label: String, value: String)] {
    provenanceFields(claimedTime: row.time, claimedSealer: row.sealedBy, provenance: row.provenance)
}

/// The `record` or `received` and `drop key` lines, and the `sealed` line: what the drop's
/// record vouches for, kept apart from what the submission says about itself (`claimedTime`,
/// `claimedSealer`: the source's claim whenever the source sealed it).
public func provenanceFields(claimedTime: Date?, claimedSealer: String?, provenance: ProvenanceCheck?) -> [(label: String, value: String)] {
    let claimed = claimedTime.map { "\(formatUTC($0)) UTC" } ?? "no time given"
    let claimedBy = claimedSealer == "server" ? "by the server on receipt" : "by the source"
    let record: ProvenanceRecord, verified: Bool
    switch provenance {
    case .verified(let found): (record, verified) = (found, true)
    case .unverified(let found): (record, verified) = (found, false)
    case .invalid(let why):
        return [("record", "BAD: \(why); nothing below is vouched for by the drop"),
                ("sealed", "the submission claims: sealed \(claimedBy), \(claimed) (unverified)")]
    case .missing, nil:
        return [("record", "none: no provenance record beside this file; the drop vouches for nothing about it"),
                ("sealed", "the submission claims: sealed \(claimedBy), \(claimed) (unverified)")]
    }
    let sealed = switch record.door {
    case ProvenanceRecord.Door.put:
        "by the server on receipt, \(claimed) (the server's clock)"
    case ProvenanceRecord.Door.web:
        "by the server on receipt from the upload page, \(claimed) (the server's clock)"
    case ProvenanceRecord.Door.sealed where claimedSealer == "server":
        "the submission claims: sealed by the server on receipt, \(claimed). The drop's record says it arrived already sealed, through SEALED: the source sealed it and wrote that claim"
    case ProvenanceRecord.Door.sealed:
        "by the source before upload, \(claimed) by their clock (the source's claim, which may be wrong or misleading)"
    default:
        "the submission claims: sealed \(claimedBy), \(claimed) (a front door this version does not know: \(record.door))"
    }
    return [
        ("received", "\(formatUTC(record.received)) UTC through \(record.door) (\(verified ? "the drop's signed record; the server's clock" : "UNVERIFIED: no drop key is pinned"))"),
        ("drop key", "\(record.dropKey.fingerprint)\(verified ? " (pinned)" : " (not pinned: keyholder trust-drop)")"),
        ("sealed", sealed),
    ]
}
