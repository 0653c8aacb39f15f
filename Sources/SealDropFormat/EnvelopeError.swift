public import SealDropKeys

/// Every way opening a submission can fail. ``outcome`` is the one mapping from these errors to
/// the outcome classes the test vectors and `keyholder verify` name; ``description`` starts
/// with that outcome's words, so a message always says which class it belongs to.
public enum EnvelopeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file does not start with `SEALDROP`.
    case notASubmission
    /// A version this build does not read.
    case unsupportedVersion(UInt8)
    /// The header is cut short or its fields are out of range.
    case malformedHeader(String)
    /// None of the given secret keys is a recipient; the file's key IDs are listed.
    case noMatchingKey([KeyID])
    /// A recipient entry named the key but its sealed file key did not open.
    case fileKeyUnwrapFailed(KeyID)
    /// The header MAC does not match: the header was edited or spliced from another file.
    case headerMACMismatch
    /// A payload chunk failed authentication (altered, reordered, spliced or foreign).
    case chunkAuthenticationFailed(chunk: Int)
    /// The file ends inside the 24-byte stream header that starts the payload.
    case truncatedStreamHeader
    /// The payload ended before its final chunk.
    case truncated
    /// Bytes follow the final chunk.
    case trailingData
    /// A chunk decrypted but breaks the layout rules (wrong tag, bad length field, non-zero filler).
    case malformedChunk(chunk: Int, String)
    /// The metadata chunk authenticated but breaks the format's metadata rules (the rule named).
    case malformedMetadata(String)
    /// The content's length differs from the `size` the metadata declares: `actual` is the
    /// whole content's length when `complete`, else how much had authenticated when it already
    /// exceeded `declared`.
    case contentSizeMismatch(declared: UInt64, actual: UInt64, complete: Bool)

    /// The test-vector outcome this error belongs to.
    public var outcome: Outcome {
        switch self {
        case .noMatchingKey: .noMatch
        case .notASubmission, .unsupportedVersion, .malformedHeader, .fileKeyUnwrapFailed, .headerMACMismatch: .headerFailure
        case .chunkAuthenticationFailed, .truncatedStreamHeader, .truncated, .trailingData, .malformedChunk: .payloadFailure
        case .malformedMetadata, .contentSizeMismatch: .badMetadata
        }
    }

    /// What went wrong, without the outcome's words.
    public var reason: String {
        switch self {
        case .notASubmission: "not a SealDrop submission (it does not start with \"SEALDROP\")"
        case .unsupportedVersion(let v): "unsupported submission format version \(v) (this build reads version 1)"
        case .malformedHeader(let why): "malformed header: \(why)"
        case .noMatchingKey(let ids): "the submission is sealed to key ID \(ids.map(\.description).joined(separator: ", "))"
        case .fileKeyUnwrapFailed(let id): "the file key sealed to key ID \(id) does not open; the header is corrupt or was tampered with"
        case .headerMACMismatch: "header authentication failed; the header was edited or taken from another submission"
        case .chunkAuthenticationFailed(let n): "chunk \(n) failed to decrypt and authenticate; the file is truncated or corrupt, or was tampered with"
        case .truncatedStreamHeader: "truncated or corrupt (the file ends inside the stream header)"
        case .truncated: "truncated or corrupt (the final chunk is missing)"
        case .trailingData: "truncated or corrupt (data after the final chunk)"
        case .malformedChunk(let n, let why): "truncated or corrupt (chunk \(n): \(why))"
        case .malformedMetadata(let rule): Self.metadataPreamble + rule
        case .contentSizeMismatch(let declared, let actual, let complete):
            Self.metadataPreamble + (complete
                ? "the content is \(actual) bytes, but member \"size\" declares \(declared)"
                : "the content is longer than the \(declared) bytes member \"size\" declares (\(actual) bytes so far)")
        }
    }

    public var description: String { "\(outcome.messagePrefix): \(reason)" }

    /// How every ``Outcome/badMetadata`` reason starts: who can have written such metadata.
    static let metadataPreamble = "the metadata authenticated, so it was written by someone holding the file key "
        + "(the source, or the server that sealed it), but it breaks the format's rules: "
}

/// Every way sealing a submission can fail: mistakes of the writer's caller, never a property
/// of a file being read, so they have no ``Outcome``.
public enum SealingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Metadata too large for the metadata chunk (the JSON's byte count).
    case metadataTooLarge(Int)
    /// No recipients, or more than the format allows.
    case badRecipientCount(Int)
    /// libsodium refused to seal to this public key (for example a low-order point).
    case unusableRecipientKey(KeyID)
    /// More content than the format's size arithmetic allows (``Layout/maxContentLength``).
    case contentTooLarge
    /// The content length differs from the size declared in the metadata.
    case sizeMismatch(declared: UInt64, actual: UInt64)
    /// The metadata's time lies outside the years 0001 to 9999 the format can record.
    case timeOutOfRange
    /// Two recipients share a key ID; a header names each recipient once.
    case duplicateRecipient(KeyID)

    public var description: String {
        switch self {
        case .metadataTooLarge(let n): "metadata too large (\(n) bytes; at most \(Layout.maxMetadataByteCount - Layout.chunkLengthFieldByteCount))"
        case .badRecipientCount(let n): "a submission needs 1 to \(Layout.maxRecipients) recipients, not \(n)"
        case .unusableRecipientKey(let id): "the public key of key ID \(id) cannot be sealed to"
        case .contentTooLarge: "the content is larger than a submission may be (1 TiB)"
        case .sizeMismatch(let declared, let actual): "the input changed while it was sealed (declared \(declared) bytes, read \(actual))"
        case .timeOutOfRange: "the time to record lies outside the years 0001 to 9999 the format can record"
        case .duplicateRecipient(let id): "key ID \(id) is given twice; a submission names each recipient once"
        }
    }
}

/// The outcome of opening a submission: the one name for it in the format's test vectors,
/// `keyholder verify`, `list --json` and the keyholder's records.
public enum Outcome: String, Sendable, CaseIterable, Codable {
    /// Every byte authenticated.
    case success
    /// None of the keys at hand is among the submission's recipients.
    case noMatch = "no match"
    /// The header is malformed, of another version, or fails authentication.
    case headerFailure = "header failure"
    /// A chunk fails authentication or the layout rules: tampered with, truncated or extended.
    case payloadFailure = "payload failure"
    /// The metadata authenticated, so someone holding the file key (the source, or the server
    /// that sealed it) wrote it, but it breaks the format's rules, or the content's length
    /// differs from its `size`. No content is released.
    case badMetadata = "bad metadata"
    /// The file's bytes could not be read at all (a permission, an I/O error, not a regular file).
    /// Not a vector outcome: it says nothing about the file's contents.
    case readError = "read error"

    /// The word `keyholder` prints for the outcome: `ok` for a success, otherwise the raw value.
    public var label: String { self == .success ? "ok" : rawValue }

    /// How a message about this outcome starts (`no matching key`, `header failure`, …).
    public var messagePrefix: String { self == .noMatch ? "no matching key" : rawValue }
}
