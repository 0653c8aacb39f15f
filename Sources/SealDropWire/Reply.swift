public import NIOCore

/// A reply from the server, written once per connection.
///
/// On the wire:
/// - ``ok(receipt:)``: `OK <receipt>` `LF`;
/// - ``error(_:_:)``: `ERR <code> <reason>` `LF`;
/// - ``document(_:)``: `OK <byte-count>` `LF`, then exactly that many bytes;
/// - ``created(upload:token:)``: `OK <upload-id> <token>` `LF`;
/// - ``offset(_:)``: `OK <offset>` `LF`.
///
/// A reply never carries bytes the client sent: receipts are server-made tokens, reasons are
/// fixed text and are sanitised again when written.
public enum Reply: Sendable, Equatable {
    /// The submission is stored durably; `receipt` is its ID, 1 to ``maxReceiptLength`` characters
    /// from `A`–`Z`, `a`–`z`, `0`–`9` and `-` (see ``isValidReceipt(_:)``).
    case ok(receipt: String)
    /// The request is refused; the reason is a fixed text for a person.
    case error(ErrorCode, String)
    /// The answer to `KEYS`: the recipients document (UTF-8 text, one public key per line, `#`
    /// comment lines), sent as `OK <n>` and then its `n` bytes.
    case document(ByteBuffer)
    /// The answer to `CREATE`: the new upload's ID (also its receipt once complete) and its
    /// secret token, each 1 to ``maxReceiptLength`` characters as for a receipt.
    case created(upload: String, token: String)
    /// The answer to `OFFSET`: how many bytes of the upload the server holds durably.
    case offset(UInt64)

    /// The longest receipt ``ok(receipt:)`` may carry.
    public static let maxReceiptLength = 128

    /// The longest reason written; longer reasons are cut.
    public static let maxReasonLength = 200

    /// The reply refusing a request with `error`'s code and reason.
    ///
    /// - Parameter error: The refusal.
    public init(_ error: ProtocolError) {
        self = .error(error.code, error.reason)
    }

    /// Whether `receipt` can be sent in ``ok(receipt:)``: 1 to ``maxReceiptLength`` characters, each
    /// an ASCII letter, digit or `-`.
    ///
    /// - Parameter receipt: A candidate receipt.
    public static func isValidReceipt(_ receipt: String) -> Bool {
        let bytes = receipt.utf8
        return !bytes.isEmpty && bytes.count <= Self.maxReceiptLength
            && bytes.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"):
                    true
                default:
                    false
                }
            }
    }

    /// Appends the reply's wire form to `buffer`.
    ///
    /// An error reason is written as printable ASCII only: every other character becomes `?`,
    /// it is cut to ``maxReasonLength`` characters, and an empty reason is replaced by the code's
    /// ``ErrorCode/defaultReason``.
    ///
    /// - Parameter buffer: The buffer to append to.
    /// - Precondition: For ``ok(receipt:)``, ``isValidReceipt(_:)`` holds. Receipts are made by the
    ///   server, so a violation is a bug, not bad input.
    public func write(into buffer: inout ByteBuffer) {
        switch self {
        case .ok(let receipt):
            precondition(Self.isValidReceipt(receipt), "a receipt must be 1 to 128 characters of [A-Za-z0-9-]")
            buffer.writeStaticString("OK ")
            buffer.writeString(receipt)
            buffer.writeInteger(ASCII.lf)
        case .error(let code, let reason):
            buffer.writeStaticString("ERR ")
            buffer.writeString(code.rawValue)
            buffer.writeInteger(ASCII.space)
            buffer.writeString(Self.sanitizedReason(reason, default: code.defaultReason))
            buffer.writeInteger(ASCII.lf)
        case .created(let upload, let token):
            precondition(Self.isValidReceipt(upload) && Self.isValidReceipt(token), "an upload ID and token are receipt-shaped")
            buffer.writeStaticString("OK ")
            buffer.writeString(upload)
            buffer.writeInteger(ASCII.space)
            buffer.writeString(token)
            buffer.writeInteger(ASCII.lf)
        case .offset(let offset):
            buffer.writeStaticString("OK ")
            buffer.writeString(String(offset))
            buffer.writeInteger(ASCII.lf)
        case .document(let document):
            buffer.writeStaticString("OK ")
            buffer.writeString(String(document.readableBytes))
            buffer.writeInteger(ASCII.lf)
            buffer.writeImmutableBuffer(document)
        }
    }

    private static func sanitizedReason(_ reason: String, default defaultReason: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in reason.unicodeScalars.prefix(Self.maxReasonLength) {
            scalars.append((0x20...0x7E).contains(scalar.value) ? scalar : "?")
        }
        return scalars.isEmpty ? defaultReason : String(scalars)
    }
}

/// Writes ``Reply`` values to the connection, for pipelines that carry replies rather than bytes
/// outbound.
public struct ReplyEncoder: MessageToByteEncoder, Sendable {
    /// The encoder's input.
    public typealias OutboundIn = Reply

    /// Creates an encoder.
    public init() {}

    /// Appends `data`'s wire form to `out`.
    public func encode(data: Reply, out: inout ByteBuffer) throws {
        data.write(into: &out)
    }
}
