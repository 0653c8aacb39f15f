public import SealDropKeys

/// Every way reading or writing a submission can fail. ``outcome`` groups them into the four
/// outcomes the test vectors and `keyholder verify` name.
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
    /// The payload ended before its final chunk.
    case truncated
    /// Bytes follow the final chunk.
    case trailingData
    /// A chunk decrypted but breaks the layout rules (wrong tag, bad length field, non-zero filler).
    case malformedChunk(chunk: Int, String)
    /// The metadata chunk is not the JSON object the format defines.
    case malformedMetadata(String)
    /// Metadata too large for the metadata chunk.
    case metadataTooLarge(Int)
    /// No recipients, or more than the format allows.
    case badRecipientCount(Int)
    /// More content than the format's size arithmetic allows (``Layout/maxContentLength``).
    case contentTooLarge
    /// The content length differs from the size declared in the metadata.
    case sizeMismatch(declared: UInt64, actual: UInt64)

    /// The test-vector outcome this error belongs to.
    public var outcome: Outcome {
        switch self {
        case .noMatchingKey: .noMatch
        case .notASubmission, .unsupportedVersion, .malformedHeader, .fileKeyUnwrapFailed, .headerMACMismatch: .headerFailure
        case .chunkAuthenticationFailed, .truncated, .trailingData, .malformedChunk, .malformedMetadata: .payloadFailure
        case .metadataTooLarge, .badRecipientCount, .sizeMismatch, .contentTooLarge: .payloadFailure
        }
    }

    public var description: String {
        switch self {
        case .notASubmission: "header failure: not a SealDrop submission (it does not start with \"SEALDROP\")"
        case .unsupportedVersion(let v): "header failure: unsupported submission format version \(v) (this build reads version 1)"
        case .malformedHeader(let why): "header failure: malformed header: \(why)"
        case .noMatchingKey(let ids): "no matching key: the submission is sealed to key ID \(ids.map(\.description).joined(separator: ", "))"
        case .fileKeyUnwrapFailed(let id): "header failure: the file key sealed to key ID \(id) does not open; the header is corrupt or was tampered with"
        case .headerMACMismatch: "header failure: header authentication failed; the header was edited or taken from another submission"
        case .chunkAuthenticationFailed(let n): "payload failure: chunk \(n) failed to decrypt and authenticate; the file is truncated or corrupt, or was tampered with"
        case .truncated: "payload failure: truncated or corrupt (the final chunk is missing)"
        case .trailingData: "payload failure: truncated or corrupt (data after the final chunk)"
        case .malformedChunk(let n, let why): "payload failure: truncated or corrupt (chunk \(n): \(why))"
        case .malformedMetadata(let why): "payload failure: malformed metadata: \(why)"
        case .metadataTooLarge(let n): "metadata too large (\(n) bytes; at most \(Layout.maxMetadataByteCount - Layout.chunkLengthFieldByteCount))"
        case .badRecipientCount(let n): "a submission needs 1 to \(Layout.maxRecipients) recipients, not \(n)"
        case .contentTooLarge: "the content is larger than a submission may be (1 TiB)"
        case .sizeMismatch(let declared, let actual): "the input changed while it was sealed (declared \(declared) bytes, read \(actual))"
        }
    }
}

/// The outcome of opening a submission, as named by the test vectors and `keyholder verify`.
public enum Outcome: String, Sendable, CaseIterable {
    case success
    case noMatch = "no match"
    case headerFailure = "header failure"
    case payloadFailure = "payload failure"
}
