import FuzzSupport
import SealDropCrypto
import SealDropKeys

/// The text forms of keys a person types or pastes: a public key (`sealdrop1…`), the newsroom's
/// signing key (`sealdropsign1…`) and a drop key (`sealdropdrop1…`), and the hex key ID form.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKeyText(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: FuzzInput.bytes(data, size), as: UTF8.self)
    _ = try? PublicKey(text: text)
    _ = try? SigningPublicKey(text: text)
    _ = try? DropPublicKey(text: text)
    _ = [UInt8](hexString: text)
    return 0
}
