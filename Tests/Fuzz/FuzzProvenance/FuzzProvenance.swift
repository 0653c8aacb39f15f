import FuzzSupport
import SealDropFormat

/// A provenance record's signed text as the keyholder parses it from a medium.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProvenance(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? ProvenanceRecord.parse(String(decoding: FuzzInput.bytes(data, size), as: UTF8.self))
    return 0
}
