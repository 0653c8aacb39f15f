/// The bounds the request decoder enforces on the head and the declared body length of one
/// request.
///
/// Every limit is checked while bytes arrive, before anything is allocated for them: an over-long
/// head line is refused as soon as the partial line passes ``maxHeaderLineBytes``, and a declared
/// length above ``maxBodyBytes`` is refused as soon as the request line is complete. The head of a
/// request therefore never occupies more than about
/// `(maxHeaderLines + 2) × (maxHeaderLineBytes + 2)` bytes.
///
/// The defaults suit the daemon; the daemon's configuration may change them.
public struct WireLimits: Sendable, Hashable {
    /// The smallest accepted value for ``maxHeaderLineBytes``: room for the longest possible
    /// request line (`SEALDROP/1 SEALED 18446744073709551615`, 38 bytes) with some to spare.
    public static let minimumHeaderLineBytes = 64

    /// The longest line allowed anywhere in the head (the request line and every header line),
    /// counted without its `LF` or `CRLF` terminator. Default: 8192.
    ///
    /// A longer line is refused with ``ErrorCode/headerTooLong`` as soon as the buffered part of
    /// it is longer than this limit, without waiting for its line end.
    public let maxHeaderLineBytes: Int

    /// The number of header lines allowed after the request line, not counting the empty line
    /// that ends the head. Default: 32.
    ///
    /// Unknown headers count too. One more is refused with ``ErrorCode/tooManyHeaders``.
    public let maxHeaderLines: Int

    /// The largest body length a request may declare, in bytes. Default: 8 GiB (`8 << 30`).
    ///
    /// A larger declared length is refused with ``ErrorCode/tooLarge`` as soon as the request line
    /// is complete.
    public let maxBodyBytes: UInt64

    /// Creates limits, by default the daemon's defaults.
    ///
    /// - Parameters:
    ///   - maxHeaderLineBytes: The longest head line, without its terminator. At least
    ///     ``minimumHeaderLineBytes``.
    ///   - maxHeaderLines: How many header lines may follow the request line. Not negative.
    ///   - maxBodyBytes: The largest body length a request may declare.
    /// - Precondition: `maxHeaderLineBytes >= WireLimits.minimumHeaderLineBytes` and
    ///   `maxHeaderLines >= 0`. Configuration code checks these before building limits.
    public init(maxHeaderLineBytes: Int = 8192, maxHeaderLines: Int = 32, maxBodyBytes: UInt64 = 8 << 30) {
        precondition(
            maxHeaderLineBytes >= Self.minimumHeaderLineBytes,
            "maxHeaderLineBytes must be at least \(Self.minimumHeaderLineBytes)"
        )
        precondition(maxHeaderLines >= 0, "maxHeaderLines must not be negative")
        self.maxHeaderLineBytes = maxHeaderLineBytes
        self.maxHeaderLines = maxHeaderLines
        self.maxBodyBytes = maxBodyBytes
    }
}
