import FuzzSupport
import SealDropKeys

/// The drop address a source types or scans (`sealdropaddr1…`, any case).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDropAddress(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? DropAddress(text: String(decoding: FuzzInput.bytes(data, size), as: UTF8.self))
    return 0
}
