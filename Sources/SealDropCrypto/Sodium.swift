import CSodium
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// libsodium must be initialised once before any other call; `sodium_init` is idempotent and
/// thread-safe, and a Swift global is initialised exactly once, lazily.
private let sodiumInitResult: Int32 = sodium_init()

/// Makes sure libsodium is ready. Every public entry point of this module calls it first.
@inline(__always)
func ensureSodium() {
    precondition(sodiumInitResult >= 0, "libsodium failed to initialise")
}

/// Compares two byte sequences in time that depends only on their length (`sodium_memcmp`).
public func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    ensureSodium()
    guard a.count == b.count else { return false }
    if a.isEmpty { return true }
    return a.withUnsafeBytes { pa in
        b.withUnsafeBytes { pb in sodium_memcmp(pa.baseAddress!, pb.baseAddress!, a.count) == 0 }
    }
}

/// Overwrites a buffer with zeros in a way the compiler may not optimise away (`sodium_memzero`).
public func secureZero(_ buffer: UnsafeMutableRawBufferPointer) {
    guard let base = buffer.baseAddress, buffer.count > 0 else { return }
    sodium_memzero(base, buffer.count)
}

/// Overwrites an array's bytes with zeros (`sodium_memzero`).
public func secureZero(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { secureZero($0) }
}

/// Cryptographically secure random bytes (`randombytes_buf`).
public func randomBytes(count: Int) -> [UInt8] {
    ensureSodium()
    var out = [UInt8](repeating: 0, count: count)
    out.withUnsafeMutableBytes { if count > 0 { randombytes_buf($0.baseAddress!, count) } }
    return out
}

/// Disables core dumps for this process and its children (`RLIMIT_CORE` soft and hard limit 0),
/// so that a crash cannot write key material or plaintext to disk. Returns false if the limit
/// could not be set.
@discardableResult
public func disableCoreDumps() -> Bool {
    var limit = rlimit(rlim_cur: 0, rlim_max: 0)
    #if os(Linux)
    return setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &limit) == 0
    #else
    return setrlimit(RLIMIT_CORE, &limit) == 0
    #endif
}

/// A uniformly distributed random number in `0..<upperBound` (`randombytes_uniform`, which
/// avoids modulo bias), for choosing passphrase words.
public func randomUniform(below upperBound: UInt32) -> UInt32 {
    ensureSodium()
    precondition(upperBound > 0, "an empty range")
    return randombytes_uniform(upperBound)
}

/// The version of the libsodium this process runs on (`sodium_version_string`).
public var libsodiumVersion: String { String(cString: sodium_version_string()) }
