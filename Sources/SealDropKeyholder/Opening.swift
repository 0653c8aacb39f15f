public import Foundation
public import SealDropCLISupport
public import SealDropCrypto
public import SealDropFormat

/// A submission whose header was read (no key needed yet).
public struct HeaderRead {
    /// The open file, positioned just after the header.
    public let file: FileReader
    /// The parsed header.
    public let header: EnvelopeHeader
    /// The file's size (nil for anything but a regular file).
    public let fileSize: UInt64?

    /// The padded content length the file's size reveals; nil if the size is impossible.
    public var paddedLength: UInt64? {
        fileSize.flatMap {
            SubmissionSize.paddedContentLength(fileSize: $0, recipients: header.recipients.count, metadataLength: header.metadataLength)
        }
    }
}

/// Opens `file` (a regular file only: never blocks on a FIFO) and reads its header.
public func readHeader(_ file: SubmissionFile) throws(KeyholderError) -> HeaderRead {
    let reader: FileReader
    do { reader = try FileReader(path: file.path, requireRegularFile: true) } catch { throw classify(error) }
    var source = reader
    do {
        let header = try EnvelopeReader<FileReader>.readHeader(from: &source)
        return HeaderRead(file: reader, header: header, fileSize: reader.regularFileSize())
    } catch {
        throw classify(error)
    }
}

/// Opens a submission whose header was read with whichever key in the ring it names: checks
/// the header MAC and reads the metadata chunk, nothing of the payload beyond it.
public func openReader(_ read: HeaderRead, ring: Keyring) throws(KeyholderError) -> EnvelopeReader<FileReader> {
    try openReader(read, ring: ring) { read.file }
}

/// Like ``openReader(_:ring:)``, for reading the whole payload: the file is read ahead on a
/// second thread while this one decrypts. Progress is the returned source's `bytesRead`.
public func openStreamingReader(_ read: HeaderRead, ring: Keyring) throws(KeyholderError) -> (reader: EnvelopeReader<ReadAhead>, source: ReadAhead) {
    var source: ReadAhead?
    let reader = try openReader(read, ring: ring) {
        let ahead = ReadAhead(read.file, zeroAfterUse: false)
        source = ahead
        return ahead
    }
    return (reader, source!)
}

private func openReader<Source: ByteSource>(_ read: HeaderRead, ring: Keyring, source: () -> Source) throws(KeyholderError) -> EnvelopeReader<Source> {
    let keys: [SecretKey]
    do { keys = try ring.secretKeys(for: read.header.keyIDs) } catch { throw .fatal(error) }
    guard !keys.isEmpty else { throw .submission(noMatch(read.header.keyIDs, ring: ring)) }
    do {
        return try EnvelopeReader(header: read.header, remaining: source(), keys: keys)
    } catch {
        throw classify(error)
    }
}

/// Everything `list`, `show` and `verify` say about one submission (JSON member names in
/// snake case; absent values are left out).
public struct SubmissionRow: Encodable, Sendable {
    public var file: String
    public var id: String
    public var outcome: Outcome
    /// The key IDs the submission is sealed to (from its header).
    public var keyIDs: [String]?
    /// The key that opened it.
    public var keyID: String?
    public var time: Date?
    /// `source` (the time is the source's clock) or `server` (the server's, on receipt).
    public var sealedBy: String?
    public var size: UInt64?
    /// True when `size` is the size the source recorded; false when it is the padded length.
    public var sizeExact: Bool?
    public var name: String?
    public var type: String?
    public var message: String?
    public var error: String?
    /// For a submission of the archive: true until it has been decrypted (`keyholder decrypt`).
    public var new: Bool?
    /// What the provenance record says and whether it holds; nil until it was checked.
    public var provenance: ProvenanceCheck?
    /// The provenance record's state (``ProvenanceCheck/label``): `ok`, `unpinned`, `none`, `BAD`.
    public var record: String? { provenance?.label }
    /// From the record (when its signature holds): the front door that delivered it.
    public var door: String? { provenance?.record?.door }
    /// From the record: when the drop received it, by the server's clock.
    public var received: Date? { provenance?.record?.received }
    /// From the record: the fingerprint of the drop key that signed it.
    public var dropKey: String? { provenance?.record?.dropKey.fingerprint }
    /// Why the record is `BAD`.
    public var recordError: String? {
        if case .invalid(let why) = provenance { return why }
        return nil
    }

    enum CodingKeys: String, CodingKey {
        case file, id, status, keyIDs = "key_ids", keyID = "key_id", time, sealedBy = "sealed_by", size
        case sizeExact = "size_exact", name, type, message, error, new
        case record, door, received, dropKey = "drop_key", recordError = "record_error"
    }

    /// A row for `file` with the outcome `outcome`.
    public init(file: SubmissionFile, outcome: Outcome = .success) {
        self.file = file.path
        id = file.label
        self.outcome = outcome
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(file, forKey: .file)
        try container.encode(id, forKey: .id)
        try container.encode(outcome.label, forKey: .status)
        try container.encodeIfPresent(keyIDs, forKey: .keyIDs)
        try container.encodeIfPresent(keyID, forKey: .keyID)
        try container.encodeIfPresent(time, forKey: .time)
        try container.encodeIfPresent(sealedBy, forKey: .sealedBy)
        try container.encodeIfPresent(size, forKey: .size)
        try container.encodeIfPresent(sizeExact, forKey: .sizeExact)
        try container.encodeIfPresent(name, forKey: .name)
        try container.encodeIfPresent(type, forKey: .type)
        try container.encodeIfPresent(message, forKey: .message)
        try container.encodeIfPresent(error, forKey: .error)
        try container.encodeIfPresent(new, forKey: .new)
        try container.encodeIfPresent(record, forKey: .record)
        try container.encodeIfPresent(door, forKey: .door)
        try container.encodeIfPresent(received, forKey: .received)
        try container.encodeIfPresent(dropKey, forKey: .dropKey)
        try container.encodeIfPresent(recordError, forKey: .recordError)
    }

    /// Fills in what the provenance record says, and whether it holds.
    public mutating func add(_ check: ProvenanceCheck) {
        provenance = check
    }

    /// Who sealed it, as far as can be known: from a verified record (`PUT` and `WEB`: the server;
    /// `SEALED`: the source, before upload), else the metadata's unverified claim followed by `?`.
    public var sealer: String? {
        if case .verified(let record) = provenance {
            switch record.door {
            case ProvenanceRecord.Door.put, ProvenanceRecord.Door.web: return "server"
            case ProvenanceRecord.Door.sealed: return "source"
            default: break
            }
        }
        return sealedBy.map { $0 + "?" }
    }

    /// Fills in what the header reveals without a key.
    public mutating func add(_ read: HeaderRead) {
        keyIDs = read.header.keyIDs.map(\.description)
        if size == nil, let padded = read.paddedLength {
            size = padded
            sizeExact = false
        }
    }

    /// Fills in what the metadata says.
    public mutating func add(_ metadata: Metadata, openedWith key: SecretKey) {
        keyID = key.publicKey.keyID.description
        time = metadata.time
        sealedBy = metadata.sealedBy.rawValue
        if let recorded = metadata.size {
            size = recorded
            sizeExact = true
        }
        name = metadata.name
        type = metadata.mediaType
        message = metadata.message
    }

    /// Records a failure.
    public mutating func fail(_ failure: SubmissionFailure) {
        outcome = failure.outcome
        error = failure.message
    }
}

/// Reads header and metadata of `file` into a row; per-submission failures become the row's
/// outcome (and are returned), fatal ones are thrown.
public func probe(_ file: SubmissionFile, ring: Keyring) throws(CLIError) -> (row: SubmissionRow, failure: SubmissionFailure?) {
    var row = SubmissionRow(file: file)
    do throws(KeyholderError) {
        let read = try readHeader(file)
        row.add(read)
        let reader = try openReader(read, ring: ring)
        row.add(reader.metadata, openedWith: reader.openedWith)
        do { row.add(try checkProvenance(of: file, size: read.fileSize, headerBytes: read.header.bytes.count, payloadHash: nil, ring: ring)) } catch {
            throw .fatal(error)
        }
        return (row, nil)
    } catch {
        switch error {
        case .fatal(let fatal): throw fatal
        case .submission(let failure):
            row.fail(failure)
            return (row, failure)
        }
    }
}

/// The rows of `files`, oldest first and failures last, as `keyholder list` shows them; with an
/// archive, each archive submission says whether it is new (not decrypted yet).
public func listing(_ files: [SubmissionFile], ring: Keyring, archive: Archive?) throws(CLIError) -> (rows: [SubmissionRow], failures: [(SubmissionFile, SubmissionFailure)]) {
    var rows: [SubmissionRow] = []
    var failures: [(SubmissionFile, SubmissionFailure)] = []
    rows.reserveCapacity(files.count)
    let decrypted = archive?.decryptedIDs() ?? []
    for file in files {
        var (row, failure) = try probe(file, ring: ring)
        row.message = nil
        if let archive, archive.holds(file) { row.new = !decrypted.contains(file.label) }
        rows.append(row)
        if let failure { failures.append((file, failure)) }
    }
    rows.sort(by: listingOrder)
    return (rows, failures)
}

/// Opened submissions first, oldest first (by the drop's time of receipt where a record gives
/// it, else the metadata's time; those with no time at all after them); failures last; then by
/// file.
private func listingOrder(_ a: SubmissionRow, _ b: SubmissionRow) -> Bool {
    let (aOpened, bOpened) = (a.outcome == .success, b.outcome == .success)
    if aOpened != bOpened { return aOpened }
    switch (a.received ?? a.time, b.received ?? b.time) {
    case let (x?, y?) where x != y: return x < y
    case (.some, nil): return true
    case (nil, .some): return false
    default: return a.file < b.file
    }
}

/// Authenticates every byte of `file` and writes nothing. `progress` is told the bytes read.
/// Its provenance record is checked against the payload's hash (and, for a submission of
/// `archive` re-encrypted there, against the payload it had before).
public func verify(_ file: SubmissionFile, ring: Keyring, archive: Archive? = nil,
                   progress: (UInt64) -> Void = { _ in }) throws(CLIError) -> (row: SubmissionRow, failure: SubmissionFailure?) {
    var row = SubmissionRow(file: file)
    do throws(KeyholderError) {
        let read = try readHeader(file)
        row.keyIDs = read.header.keyIDs.map(\.description)
        // Everything after the header is read once, read ahead on a second thread: the reader
        // authenticates it and the hasher takes the payload's hash for the provenance record.
        let ahead = ReadAhead(read.file, zeroAfterUse: false)
        let payload = PayloadHasher(headerBytes: 0)
        let reader = try openReader(read, ring: ring) { CopyingSource(ahead) { payload.update($0) } }
        row.keyID = reader.openedWith.publicKey.keyID.description
        do {
            try reader.readAll { _ in progress(ahead.bytesRead) }
        } catch {
            throw classify(error)
        }
        row.size = reader.contentByteCount
        do {
            row.add(try checkProvenance(of: file, size: read.fileSize, headerBytes: read.header.bytes.count,
                                        payloadHash: payload.finalize().payload, ring: ring, archive: archive))
        } catch {
            throw .fatal(error)
        }
        return (row, nil)
    } catch {
        switch error {
        case .fatal(let fatal): throw fatal
        case .submission(let failure):
            row.fail(failure)
            return (row, failure)
        }
    }
}
