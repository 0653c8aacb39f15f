#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Thin wrappers for C functions whose names are shadowed by methods inside the types that call
// them (`Spool.open`, `SpoolFile.close`).

@inline(__always)
@discardableResult
func systemClose(_ fd: Int32) -> Int32 { close(fd) }

@inline(__always)
func systemOpen(_ path: String, _ flags: Int32) -> Int32 { open(path, flags) }

typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32

/// glibc's `renameat2` (since 2.28), which Swift's Glibc module does not declare because it
/// needs `_GNU_SOURCE`; nil where the C library lacks it (then `linkat` + `unlinkat` is used).
let renameat2Function: RenameAt2? = {
    #if os(Linux)
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return nil }  // RTLD_DEFAULT
    return unsafeBitCast(symbol, to: RenameAt2.self)
    #else
    return nil
    #endif
}()
