import FuzzSupport
import SealDropFormat

/// An export's manifest as the keyholder reads it from a medium, and the chain state files
/// (`export-chain`, in the spool and in the archive).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzExportManifest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = FuzzInput.bytes(data, size)
    _ = try? ExportManifest.parse(bytes)
    _ = ExportChainState.parseFile(String(decoding: bytes, as: UTF8.self))
    return 0
}
