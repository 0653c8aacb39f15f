public import SealDropCrypto

/// BLAKE2b-256 of a stored envelope's payload (every byte after its header, which re-keying
/// keeps) and, when asked, of the whole file, from the file's bytes given in order: what a
/// provenance record holds and is checked against. One pass, whoever reads or writes the file.
public final class PayloadHasher {
    private let headerBytes: UInt64
    private let payload = BLAKE2b.Hasher()
    private let whole: BLAKE2b.Hasher?
    /// Bytes given so far.
    public private(set) var byteCount: UInt64 = 0

    /// A hasher for a file whose envelope header is `headerBytes` long; `alsoWhole` hashes the
    /// whole file too.
    public init(headerBytes: Int, alsoWhole: Bool = false) {
        self.headerBytes = UInt64(headerBytes)
        whole = alsoWhole ? BLAKE2b.Hasher() : nil
    }

    /// Adds the file's next bytes.
    public func update(_ chunk: UnsafeRawBufferPointer) {
        whole?.update(chunk)
        let end = byteCount + UInt64(chunk.count)
        if end > headerBytes {
            let skip = Int(headerBytes > byteCount ? headerBytes - byteCount : 0)
            payload.update(UnsafeRawBufferPointer(rebasing: chunk[skip...]))
        }
        byteCount = end
    }

    /// The payload's hash and length, and the whole file's hash when asked for; the hasher
    /// cannot be used after.
    public func finalize() -> (payload: [UInt8], payloadBytes: UInt64, whole: [UInt8]?) {
        (payload.finalize(), byteCount > headerBytes ? byteCount - headerBytes : 0, whole?.finalize())
    }
}
