import FuzzSupport
@testable import SealDropFormat

/// The metadata chunk's strict JSON (name, type, size, time, message) as the keyholder decodes it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMetadata(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? Metadata.decode(FuzzInput.bytes(data, size))
    return 0
}
