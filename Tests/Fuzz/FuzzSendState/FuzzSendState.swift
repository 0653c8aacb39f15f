import FuzzSupport
import SealDropClient

/// `sealdrop send --state FILE`: the resumable upload's state file, which a source's machine
/// keeps between attempts (and anyone with that machine could have edited).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSendState(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = FuzzInput.bytes(data, size)
    _ = try? SendState.parse(&bytes)
    return 0
}
