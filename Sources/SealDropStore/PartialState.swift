public import Foundation
import SealDropCrypto

/// The record of a resumable upload, kept beside its data as `partial/<id>.state`: everything
/// the daemon needs to resume it after a restart, and nothing the source sent in the clear.
///
///     SEALDROP-PARTIAL-1
///     status: open
///     length: 268435456
///     offset: 8388608
///     token-hash: <64 hex digits: BLAKE2b-256 of the token>
///     until: 1796666400
///
/// - `status`: `open` while it can be resumed; `finished` once committed to the inbox, or
///   `expired` once removed (expired, or no progress for too long). A finished or expired
///   record has no data file and is kept only so that a client presenting its token learns what
///   became of it, until `until`.
/// - `length`: the length declared by `CREATE` (the sealed envelope's size, never the content's).
/// - `offset`: the bytes of the data file that were `fsync`ed before this record was written.
/// - `until` (seconds since 1970, UTC): for an open upload when it expires; otherwise when the
///   record is removed. Rounded up to the hour (to the second when the expiry is shorter than an
///   hour), so that it tells no more than that hour about when the upload began.
public struct PartialState: Sendable, Equatable {
    /// Where a resumable upload stands.
    public enum Status: String, Sendable {
        /// It can be resumed.
        case open
        /// It was committed to the inbox.
        case finished
        /// It was removed before it was complete.
        case expired
    }

    /// Where the upload stands.
    public var status: Status
    /// The declared length of the whole upload.
    public var length: UInt64
    /// Bytes of the data file known to be on disk.
    public var offset: UInt64
    /// The BLAKE2b-256 of the upload's token.
    public var tokenHash: [UInt8]
    /// For an open upload, when it expires; otherwise when this record goes.
    public var until: Date

    /// Creates a record.
    public init(status: Status, length: UInt64, offset: UInt64, tokenHash: [UInt8], until: Date) {
        self.status = status
        self.length = length
        self.offset = offset
        self.tokenHash = tokenHash
        self.until = until
    }

    private static let magic = "SEALDROP-PARTIAL-1"

    /// Every record is this long, padded with spaces, so that an update overwrites it in place:
    /// one write within one disk sector, which needs no new space on a full disk.
    public static let byteCount = 256

    /// The record's bytes, as written to disk.
    public var encoded: [UInt8] {
        let text = """
            \(Self.magic)
            status: \(status.rawValue)
            length: \(length)
            offset: \(offset)
            token-hash: \(Hex.encode(tokenHash))
            until: \(Int64(until.timeIntervalSince1970))

            """
        return Array(text.utf8) + [UInt8](repeating: UInt8(ascii: " "), count: Self.byteCount - text.utf8.count)
    }

    /// Reads a record written by ``encoded``; nil for anything else (the daemon treats such a
    /// record as damaged and removes the upload).
    public init?(parsing bytes: [UInt8]) {
        guard bytes.count == Self.byteCount, let text = String(validating: bytes, as: UTF8.self),
              let end = text.lastIndex(of: "\n"), text[text.index(after: end)...].allSatisfy({ $0 == " " })
        else { return nil }
        let lines = text[...end].split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == 7, lines[0] == Self.magic, lines[6].isEmpty else { return nil }
        var fields: [String: Substring] = [:]
        for (line, key) in zip(lines[1...5], ["status", "length", "offset", "token-hash", "until"]) {
            let prefix = key + ": "
            guard line.hasPrefix(prefix) else { return nil }
            fields[key] = line.dropFirst(prefix.count)
        }
        guard let status = fields["status"].flatMap({ Status(rawValue: String($0)) }),
              let length = fields["length"].flatMap({ UInt64($0) }),
              let offset = fields["offset"].flatMap({ UInt64($0) }), offset <= length,
              let hash = fields["token-hash"].flatMap({ Hex.decode($0, byteCount: 32) }),
              let until = fields["until"].flatMap({ Int64($0) })
        else { return nil }
        self.init(status: status, length: length, offset: offset, tokenHash: hash, until: Date(timeIntervalSince1970: TimeInterval(until)))
    }

    /// `date` plus `span`, rounded up to the hour, or to the second when `span` is under an
    /// hour: what a record keeps of a time.
    public static func coarse(_ date: Date, plus span: TimeInterval) -> Date {
        let step: Double = span >= 3600 ? 3600 : 1
        return Date(timeIntervalSince1970: ((date.timeIntervalSince1970 + span) / step).rounded(.up) * step)
    }
}
