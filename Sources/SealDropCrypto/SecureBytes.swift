import CSodium

/// A fixed-size buffer for secrets, in libsodium guarded memory (`sodium_malloc`): guard pages
/// around it, locked against swapping where the system allows, and zeroed when released
/// (`sodium_free`). It never prints its contents and is not `Codable`; the bytes are reachable
/// only inside `withUnsafeBytes`/`withUnsafeMutableBytes`.
public final class SecureBytes {
    private let base: UnsafeMutableRawPointer
    /// How many bytes the buffer holds.
    public let count: Int

    /// Allocates `count` zeroed bytes of guarded memory.
    public init(count: Int) {
        ensureSodium()
        precondition(count >= 0, "negative size")
        guard let pointer = sodium_malloc(Swift.max(count, 1)) else {
            fatalError("sodium_malloc: out of memory")
        }
        sodium_memzero(pointer, Swift.max(count, 1))
        self.base = pointer
        self.count = count
    }

    /// Allocates guarded memory and fills it with cryptographically secure random bytes.
    public static func random(count: Int) -> SecureBytes {
        let bytes = SecureBytes(count: count)
        if count > 0 { randombytes_buf(bytes.base, count) }
        return bytes
    }

    /// Copies `source` into new guarded memory. The caller should zero its own copy.
    public convenience init(copying source: UnsafeRawBufferPointer) {
        self.init(count: source.count)
        if let from = source.baseAddress, source.count > 0 { base.copyMemory(from: from, byteCount: source.count) }
    }

    deinit {
        sodium_free(base)
    }

    /// Read access to the secret bytes; the pointer must not escape the closure.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Write access to the secret bytes; the pointer must not escape the closure.
    public func withUnsafeMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeMutableRawBufferPointer(start: base, count: count))
    }

    /// Zeroes the buffer now, before it is released.
    public func zero() {
        sodium_memzero(base, Swift.max(count, 1))
    }

    /// Compares with another secret in constant time.
    public func constantTimeEquals(_ other: SecureBytes) -> Bool {
        count == other.count && sodium_memcmp(base, other.base, count) == 0
    }

    var rawPointer: UnsafeMutableRawPointer { base }
    func typedPointer<T>(_ type: T.Type) -> UnsafeMutablePointer<T> {
        base.assumingMemoryBound(to: type)
    }
}
