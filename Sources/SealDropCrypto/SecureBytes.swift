import CSodium
import Synchronization

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
        if let reused = GuardedMemoryPool.take(size: Swift.max(count, 1)) {
            self.base = reused
            self.count = count
            return
        }
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
        if !GuardedMemoryPool.give(base, size: Swift.max(count, 1)) { sodium_free(base) }
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

/// Opt-in reuse of released guarded buffers, for programs that open many small secrets one
/// after another (`keyholder list` opens a file key, two derived keys, a stream state and a
/// chunk buffer per submission: five `sodium_malloc`s, each an mmap, mprotects and an mlock,
/// which cost more than the sealed-box open itself). When enabled, a released buffer is zeroed
/// at once and kept, still guard-paged and locked, for the next buffer of exactly the same
/// size (at most ``blocksPerSize`` per size); otherwise it is freed as usual. Off by default.
public enum GuardedMemoryPool {
    /// The most released buffers kept for each size.
    public static let blocksPerSize = 8
    private static let enabled = Atomic<Bool>(false)
    /// Kept buffers by size, as addresses (so the state is `Sendable`).
    private static let blocks = Mutex<[Int: [UInt]]>([:])

    /// Turns reuse on for the rest of the process.
    public static func enable() {
        enabled.store(true, ordering: .relaxed)
    }

    static func take(size: Int) -> UnsafeMutableRawPointer? {
        guard enabled.load(ordering: .relaxed) else { return nil }
        return blocks.withLock { $0[size]?.popLast() }.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }
    }

    /// Zeroes and keeps `pointer` if reuse is on and there is room; false if the caller must free it.
    static func give(_ pointer: UnsafeMutableRawPointer, size: Int) -> Bool {
        guard enabled.load(ordering: .relaxed) else { return false }
        sodium_memzero(pointer, size)
        return blocks.withLock { pool in
            guard pool[size, default: []].count < blocksPerSize else { return false }
            pool[size, default: []].append(UInt(bitPattern: pointer))
            return true
        }
    }
}

extension SecureBytes {
    /// The bytes as lowercase hex digits, in new guarded memory (`sodium_bin2hex`, constant
    /// time): for a secret written to a file, such as the drop key's seed.
    public func hexDigits() -> SecureBytes {
        let digits = SecureBytes(count: count * 2 + 1)
        digits.withUnsafeMutableBytes { out in
            withUnsafeBytes { input in
                _ = sodium_bin2hex(out.baseAddress!.assumingMemoryBound(to: CChar.self), out.count,
                                   input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count)
            }
        }
        // Drop the terminating zero byte.
        return digits.withUnsafeBytes { SecureBytes(copying: UnsafeRawBufferPointer(rebasing: $0.dropLast())) }
    }

    /// Decodes exactly `2 × byteCount` hex digits into new guarded memory (`sodium_hex2bin`,
    /// constant time); nil for any other length or a character that is not a hex digit.
    public static func fromHexDigits(_ digits: UnsafeRawBufferPointer, byteCount: Int) -> SecureBytes? {
        ensureSodium()
        guard digits.count == byteCount * 2 else { return nil }
        let bytes = SecureBytes(count: byteCount)
        var decoded = 0
        let status = bytes.withUnsafeMutableBytes { out in
            sodium_hex2bin(out.baseAddress!.assumingMemoryBound(to: UInt8.self), byteCount,
                           digits.baseAddress!.assumingMemoryBound(to: CChar.self), digits.count, nil, &decoded, nil)
        }
        return status == 0 && decoded == byteCount ? bytes : nil
    }
}
