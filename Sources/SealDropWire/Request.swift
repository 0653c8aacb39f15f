public import NIOCore

/// What a request asks the daemon to do: the second word of the request line.
///
/// Verbs are matched exactly, in upper case.
public enum Verb: String, Sendable, CaseIterable {
    /// `PUT <length>`: the body is the raw file; the server seals it to the newsroom's keys.
    case put = "PUT"
    /// `SEALED <length>`: the body is a SealDrop v1 envelope the source sealed on their own
    /// machine; the server checks the envelope header and stores it as it is.
    case sealed = "SEALED"
    /// `KEYS`: no length and no body; the server replies with the current recipients document.
    case keys = "KEYS"
    /// `CREATE <length>`: no body; begins a resumable sealed upload of `length` bytes. The server
    /// answers the upload's ID and a secret token.
    case create = "CREATE"
    /// `OFFSET`, with the `Upload` and `Token` headers: no length and no body; the server answers
    /// how many bytes of the upload it holds durably.
    case offset = "OFFSET"
    /// `APPEND <length>`, with the `Upload`, `Token` and `Offset` headers: the body is the rest of
    /// the upload from that offset. The server answers the receipt once the whole upload is stored.
    case append = "APPEND"

    /// Whether the request line carries a length after this verb.
    public var takesLength: Bool {
        switch self {
        case .put, .sealed, .create, .append: true
        case .keys, .offset: false
        }
    }

    /// Whether the length is the length of a body that follows the head (for `CREATE` it is the
    /// length of the upload to come, and no body follows).
    public var hasBody: Bool {
        switch self {
        case .put, .sealed, .append: true
        case .keys, .offset, .create: false
        }
    }

    /// Whether the verb works on a resumable upload named by the `Upload` and `Token` headers.
    public var namesUpload: Bool {
        self == .offset || self == .append
    }
}

/// The decoded head of a request: its request line and the known headers.
///
/// Header values are valid UTF-8 without control characters and trimmed of surrounding spaces
/// and tabs, but otherwise exactly as the client sent them: a `name` may still be `../../x`,
/// contain bidirectional overrides, or be empty. Whoever prints or stores them must treat them as
/// untrusted.
public struct RequestHead: Sendable, Hashable {
    /// The request's verb.
    public var verb: Verb
    /// The declared body length in bytes; `0` for the verbs without a body (``Verb/keys``,
    /// ``Verb/offset``, ``Verb/create``).
    public var contentLength: UInt64
    /// For ``Verb/create``, the length of the upload to come; otherwise nil.
    public var uploadLength: UInt64?
    /// The `Name` header: the original file name, as the client sent it.
    public var name: String?
    /// The `Message` header: a short note for the newsroom.
    public var message: String?
    /// The `Type` header: the file's media type, unchecked.
    public var mediaType: String?
    /// The `Upload` header: the ID of a resumable upload, as the client sent it (unchecked).
    public var upload: String?
    /// The `Token` header: the secret token of a resumable upload, as the client sent it. Never
    /// log or print it.
    public var token: String?
    /// The `Offset` header: where an `APPEND` body starts in the upload. Written like a length;
    /// anything else is refused with ``ErrorCode/badHeader``.
    public var offset: UInt64?

    /// Creates a request head.
    ///
    /// - Parameters:
    ///   - verb: The request's verb.
    ///   - contentLength: The declared body length in bytes.
    ///   - name: The `Name` header, if sent.
    ///   - message: The `Message` header, if sent.
    ///   - mediaType: The `Type` header, if sent.
    ///   - uploadLength: For `CREATE`, the upload's declared length.
    ///   - upload: The `Upload` header, if sent.
    ///   - token: The `Token` header, if sent.
    ///   - offset: The `Offset` header, if sent.
    public init(
        verb: Verb,
        contentLength: UInt64,
        name: String? = nil,
        message: String? = nil,
        mediaType: String? = nil,
        uploadLength: UInt64? = nil,
        upload: String? = nil,
        token: String? = nil,
        offset: UInt64? = nil
    ) {
        self.verb = verb
        self.contentLength = contentLength
        self.name = name
        self.message = message
        self.mediaType = mediaType
        self.uploadLength = uploadLength
        self.upload = upload
        self.token = token
        self.offset = offset
    }
}

/// One piece of a decoded request, in the order ``RequestDecoder`` produces them.
///
/// A request always decodes to exactly one ``head(_:)``, then zero or more ``body(_:)`` parts
/// whose sizes add up to ``RequestHead/contentLength``, then exactly one ``end``.
public enum RequestPart: Sendable, Equatable {
    /// The request line and headers. Always the first part.
    case head(RequestHead)
    /// A piece of the body: a slice of the bytes received so far, never longer than what
    /// remains of the declared length. The slice shares storage with the received data.
    case body(ByteBuffer)
    /// Exactly ``RequestHead/contentLength`` body bytes have been delivered. For `KEYS` and for a
    /// zero length it follows the head directly.
    case end
}
