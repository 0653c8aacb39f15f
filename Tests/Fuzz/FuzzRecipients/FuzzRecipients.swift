import FuzzSupport
import SealDropKeys

/// A recipients file (one public key per line, `#` comments) as the daemon and `sealdrop seal`
/// read it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRecipients(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? Recipients.parse(bytes: FuzzInput.bytes(data, size))
    return 0
}
