import FuzzSupport
import SealDropFormat

/// The envelope header as the daemon reads a `SEALED` upload's first bytes: every prefix the
/// input allows, then the whole.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEnvelopeHeader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = FuzzInput.bytes(data, size)
    _ = try? EnvelopeHeader.parse(prefix: bytes)
    if bytes.count > 1 { _ = try? EnvelopeHeader.parse(prefix: bytes.prefix(bytes.count / 2)) }
    return 0
}
