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

    /// Whether the request line carries a body length after this verb.
    public var takesBody: Bool {
        switch self {
        case .put, .sealed: true
        case .keys: false
        }
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
    /// The declared body length in bytes; `0` for ``Verb/keys``.
    public var contentLength: UInt64
    /// The `Name` header: the original file name, as the client sent it.
    public var name: String?
    /// The `Message` header: a short note for the newsroom.
    public var message: String?
    /// The `Type` header: the file's media type, unchecked.
    public var mediaType: String?

    /// Creates a request head.
    ///
    /// - Parameters:
    ///   - verb: The request's verb.
    ///   - contentLength: The declared body length in bytes.
    ///   - name: The `Name` header, if sent.
    ///   - message: The `Message` header, if sent.
    ///   - mediaType: The `Type` header, if sent.
    public init(
        verb: Verb,
        contentLength: UInt64,
        name: String? = nil,
        message: String? = nil,
        mediaType: String? = nil
    ) {
        self.verb = verb
        self.contentLength = contentLength
        self.name = name
        self.message = message
        self.mediaType = mediaType
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
