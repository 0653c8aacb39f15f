import SealDropWire

/// Why the upload pipeline refused or ended an upload, whatever front door it came through.
/// Each front door turns these into its own words in one place (``SealDropWire/ProtocolError``
/// for the TCP protocol: ``SealDropWire/ProtocolError/init(refusal:)``).
public enum UploadRefusal: Error, Equatable, Sendable {
    /// More than the daemon's maximum body size, or than the declared length.
    case tooLarge
    /// The spool quota would be exceeded.
    case quota
    /// The spool's file system would keep less than its free-space or free-inode reserve.
    case diskFull
    /// Name, type and message together do not fit the metadata chunk.
    case metadataTooLarge
    /// A sealed upload that is not an envelope, or whose length cannot be one.
    case badEnvelope(String)
    /// A sealed upload sealed to none of the keys in force.
    case notAddressed
    /// Fewer bytes arrived than the length declared.
    case truncated
    /// No resumable upload has that ID.
    case unknownUpload
    /// The token presented is not the resumable upload's.
    case badToken
    /// An append does not start at the upload's durable offset.
    case offsetMismatch
    /// An append starts past the upload's declared length.
    case pastEnd
    /// An append does not run to the upload's declared length.
    case notToTheEnd
    /// The resumable upload is already complete and stored.
    case uploadFinished
    /// The resumable upload expired, or made no progress for too long, and was removed.
    case uploadExpired
    /// Another connection presented the token and took the upload over.
    case takenOver
    /// As many resumable uploads are open as the daemon allows.
    case tooManyPartialUploads
    /// The daemon takes no resumable uploads (`max-partial-uploads: 0`).
    case resumableUploadsOff
    /// Only a resumable upload can be kept: a plaintext upload's sealing state lives only in
    /// memory.
    case notResumable
    /// The daemon is shutting down; the upload was discarded.
    case shuttingDown
    /// Storing failed for a reason the client cannot act on (logged).
    case serverError
}

extension ProtocolError {
    /// The TCP protocol's refusal for an upload the pipeline refused: the one mapping from
    /// pipeline refusals to wire error codes.
    init(refusal: UploadRefusal) {
        switch refusal {
        case .tooLarge: self.init(.tooLarge)
        case .quota: self.init(.quota)
        case .diskFull: self.init(.diskFull)
        case .metadataTooLarge: self.init(.badHeader, "Name, Type and Message together are too large")
        case .badEnvelope(let why): self.init(.badEnvelope, why)
        case .notAddressed: self.init(.notAddressed)
        case .truncated: self.init(.truncated)
        case .unknownUpload: self.init(.unknownUpload)
        case .badToken: self.init(.badToken)
        case .offsetMismatch: self.init(.offsetMismatch)
        case .pastEnd: self.init(.pastEnd)
        case .notToTheEnd: self.init(.badLength, "APPEND's length must be the rest of the upload: its length less the offset")
        case .uploadFinished: self.init(.uploadFinished)
        case .uploadExpired: self.init(.uploadExpired)
        case .takenOver: self.init(.takenOver)
        case .tooManyPartialUploads: self.init(.busy, "too many resumable uploads are open, try again later")
        case .resumableUploadsOff: self.init(.unknownVerb, "this drop takes no resumable uploads; send with SEALED")
        case .notResumable, .serverError: self.init(.serverError)
        case .shuttingDown: self.init(.busy, "the server is shutting down; the upload was discarded, try again later")
        }
    }
}
