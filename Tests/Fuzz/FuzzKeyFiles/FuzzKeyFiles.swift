import FuzzSupport
import SealDropCrypto
import SealDropKeys

/// Key files as the keyholder and the daemon read them: a keyholder's key file, a signing key
/// file (both parsed, never unlocked: Argon2id would only slow the search), and a drop key file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKeyFiles(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = FuzzInput.bytes(data, size)
    let text = String(decoding: bytes, as: UTF8.self)
    _ = try? KeyFile(text: text)
    _ = try? SigningKeyFile(text: text)
    _ = bytes.withUnsafeBytes { try? DropKeyFile.parse(SecureBytes(copying: $0)) }
    return 0
}
