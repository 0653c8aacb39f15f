/// The stable error codes of the protocol, sent as `ERR <code> <reason>`.
///
/// The raw value is the code on the wire: a lowercase word that never changes meaning. The
/// decoder raises the framing codes; the server sends the others (timeouts, connection limits,
/// storage and envelope checks). The protocol article has the full table.
public enum ErrorCode: String, Sendable, CaseIterable {
    /// The request line is not `SEALDROP/<version> <verb> ...`, or is malformed after the magic:
    /// a byte that is not printable ASCII (a tab, a stray `CR`), two spaces in a row, a space at
    /// the end, or more than three words.
    case badRequest = "bad-request"
    /// The request line starts with `SEALDROP/<digits>` for a version other than 1.
    case unsupportedVersion = "unsupported-version"
    /// The verb is not `PUT`, `SEALED`, `KEYS`, `CREATE`, `OFFSET` or `APPEND`.
    case unknownVerb = "unknown-verb"
    /// The length word is missing, not 1 to 20 ASCII digits, has a sign or a leading zero, does
    /// not fit in 64 bits, or was given to `KEYS` or `OFFSET`; or an `APPEND` length is not the
    /// rest of the upload. (Spaces around it are ``badRequest``.)
    case badLength = "bad-length"
    /// The declared length is above the server's maximum body size.
    case tooLarge = "too-large"
    /// A line of the head is longer than the limit.
    case headerTooLong = "header-too-long"
    /// The head has more header lines than the limit.
    case tooManyHeaders = "too-many-headers"
    /// A header line is malformed: no `:`, a bad name, a value that is not UTF-8 or contains a
    /// control character, or a duplicate known header.
    case badHeader = "bad-header"
    /// Bytes arrived after the declared end of the body before the upload was committed.
    case trailingData = "trailing-data"
    /// The connection ended before the head was complete or before the declared length arrived.
    case truncated
    /// The head did not arrive completely within the server's header timeout.
    case headerTimeout = "header-timeout"
    /// The client sent nothing, or too little, for longer than the server's idle timeout.
    case idleTimeout = "idle-timeout"
    /// The server is at its connection limit.
    case busy
    /// Storing the upload would exceed the spool quota.
    case quota
    /// Storing the upload would eat into the free-disk reserve.
    case diskFull = "disk-full"
    /// A `SEALED` body is not a well-formed SealDrop v1 envelope.
    case badEnvelope = "bad-envelope"
    /// A `SEALED` envelope is addressed to none of the current recipients.
    case notAddressed = "not-addressed"
    /// The server failed to store the upload (an I/O error).
    case serverError = "server-error"
    /// `OFFSET` or `APPEND` named an upload the server does not have (never created, or its
    /// record is gone).
    case unknownUpload = "unknown-upload"
    /// The `Token` is not the upload's (another upload's token included).
    case badToken = "bad-token"
    /// `APPEND`'s `Offset` is not the number of bytes the server holds durably; nothing changed.
    case offsetMismatch = "offset-mismatch"
    /// `APPEND`'s `Offset` is past the upload's declared length; nothing changed.
    case pastEnd = "past-end"
    /// The upload is complete and stored: its ID is its receipt.
    case uploadFinished = "upload-finished"
    /// The upload expired, or made no progress for too long, and was removed: start again.
    case uploadExpired = "upload-expired"
    /// Another connection presented the upload's token and took it over; what this connection
    /// sent is kept up to its last byte received.
    case takenOver = "taken-over"

    /// A fixed, client-independent reason for this code, used when no more specific fixed reason
    /// applies.
    public var defaultReason: String {
        switch self {
        case .badRequest: "not a SEALDROP request line"
        case .unsupportedVersion: "only SEALDROP/1 is supported"
        case .unknownVerb: "verb must be PUT, SEALED, KEYS, CREATE, OFFSET or APPEND"
        case .badLength: "length must be 1 to 20 ASCII digits without sign or leading zeros"
        case .tooLarge: "declared length is above the maximum body size"
        case .headerTooLong: "head line is longer than the limit"
        case .tooManyHeaders: "more header lines than the limit"
        case .badHeader: "malformed header line"
        case .trailingData: "bytes after the declared end of the body"
        case .truncated: "connection closed before the request was complete"
        case .headerTimeout: "head not received in time"
        case .idleTimeout: "connection idle for too long"
        case .busy: "too many connections, try again later"
        case .quota: "spool quota exceeded"
        case .diskFull: "not enough free disk space"
        case .badEnvelope: "body is not a well-formed SealDrop v1 envelope"
        case .notAddressed: "envelope is not addressed to any current recipient"
        case .serverError: "the submission could not be stored"
        case .unknownUpload: "no such upload"
        case .badToken: "the token is not this upload's"
        case .offsetMismatch: "the offset is not the upload's durable length; ask OFFSET"
        case .pastEnd: "the offset is past the upload's declared length"
        case .uploadFinished: "the upload is complete and stored; its ID is its receipt"
        case .uploadExpired: "the upload expired or made no progress for too long and was removed; start again"
        case .takenOver: "another connection took this upload over"
        }
    }
}

/// A refusal: an ``ErrorCode`` with a fixed, human-readable reason.
///
/// The reason never contains bytes the client sent, so it is safe to send back and to log.
/// ``RequestDecoder`` throws only this error type.
public struct ProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The stable code, sent on the wire.
    public var code: ErrorCode
    /// A fixed explanation for a person: printable ASCII, no newline.
    public var reason: String

    /// Creates a refusal with a specific reason.
    ///
    /// - Parameters:
    ///   - code: The stable code.
    ///   - reason: A fixed explanation. Never build it from client data.
    public init(_ code: ErrorCode, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    /// Creates a refusal with the code's ``ErrorCode/defaultReason``.
    ///
    /// - Parameter code: The stable code.
    public init(_ code: ErrorCode) {
        self.init(code, code.defaultReason)
    }

    /// The code and reason, as in `bad-length: length must be ...`.
    public var description: String {
        "\(self.code.rawValue): \(self.reason)"
    }
}
