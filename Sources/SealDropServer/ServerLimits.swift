public import SealDropWire

/// Every limit the daemon enforces. All are global or per connection, never per address:
/// behind a Tor onion service every source connects from 127.0.0.1.
///
/// The defaults are listed in <doc:Configuration>.
public struct ServerLimits: Sendable, Hashable {
    /// The largest body a request may declare. Default 8 GiB. Refused: `ERR too-large`.
    public var maxBodyBytes: UInt64 = 8 << 30
    /// The longest line of a request head, without its line end. Default 8192. Refused:
    /// `ERR header-too-long`.
    public var maxHeaderLineBytes: Int = 8192
    /// How many header lines may follow the request line. Default 32. Refused:
    /// `ERR too-many-headers`.
    public var maxHeaderLines: Int = 32
    /// Connections served at once. Default 512. One more gets `ERR busy` and is closed.
    public var maxConnections: Int = 512
    /// What the spool may hold: the inbox, kept uploads and uploads in progress, each file
    /// charged its size in 4 KiB blocks, at least the blocks of an empty submission, plus one
    /// block for its inode. Default 32 GiB. Refused: `ERR quota`.
    public var spoolQuotaBytes: UInt64 = 32 << 30
    /// Bytes that must stay free on the spool's file system as an upload grows. Default 1 GiB.
    /// Refused: `ERR disk-full`.
    public var freeDiskReserveBytes: UInt64 = 1 << 30
    /// Inodes that must stay free on the spool's file system when an upload begins, so a flood
    /// of tiny uploads can never take the last ones. Default 10000. Refused: `ERR disk-full`.
    public var freeInodeReserve: UInt64 = 10_000
    /// Time allowed from accepting a connection to the end of its request head. Default 30 s.
    /// Refused: `ERR header-timeout`.
    public var headerTimeout: Duration = .seconds(30)
    /// Longest wait for the next body byte while the daemon is ready to read. Default 60 s.
    /// Refused: `ERR idle-timeout`.
    public var idleTimeout: Duration = .seconds(60)
    /// Slowest accepted body rate in bytes per second, averaged over each `idleTimeout` the
    /// daemon spends waiting for the client (0 turns the check off). Default 512. Refused:
    /// `ERR idle-timeout`.
    public var minimumBytesPerSecond: Int = 512
    /// Time allowed to hand a reply to the client's connection. Default 30 s; then the
    /// connection is closed.
    public var writeTimeout: Duration = .seconds(30)
    /// After a reply, how long the daemon keeps reading (and discarding) what the client still
    /// sends, so the client reads the reply instead of a reset. Default 2 s.
    public var drainTimeout: Duration = .seconds(2)
    /// At most this many bytes are drained after a reply before the connection is closed.
    /// Default 1 MiB.
    public var drainMaxBytes: Int = 1 << 20
    /// On SIGTERM or SIGINT, how long uploads in progress may take to finish before they are
    /// discarded. Default 30 s.
    public var shutdownGracePeriod: Duration = .seconds(30)
    /// Resumable uploads that may be open at once (not yet complete, not yet expired). Default
    /// 64. One more `CREATE` gets `ERR busy`.
    public var maxPartialUploads: Int = 64
    /// A resumable upload is removed this long after it was created, complete or not. Default
    /// 48 h. Then `ERR upload-expired`.
    public var partialExpiry: Duration = .seconds(48 * 3600)
    /// A resumable upload that has made no durable progress for this long, and has no
    /// connection writing to it, is removed. Default 24 h. Then `ERR upload-expired`.
    public var partialIdleLimit: Duration = .seconds(24 * 3600)
    /// While an `APPEND` runs, its data is synced and its durable offset recorded each time
    /// this many more bytes have been written (and always when its connection ends), so that
    /// after a crash about this much is sent again: this, plus what was received but not yet
    /// written (up to three 1 MiB batches in a fast lane) and what the kernel still buffered.
    /// 8 MiB, not configurable.
    public static let partialSyncInterval: UInt64 = 8 << 20

    /// The defaults.
    public init() {}

    /// The request framing limits for the request decoder of SealDropWire.
    public var wireLimits: WireLimits {
        WireLimits(maxHeaderLineBytes: maxHeaderLineBytes, maxHeaderLines: maxHeaderLines, maxBodyBytes: maxBodyBytes)
    }
}
