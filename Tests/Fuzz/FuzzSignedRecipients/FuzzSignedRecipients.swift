import FuzzSupport
import SealDropCrypto
import SealDropKeys

/// A signed recipients list as a source's client reads it from the drop (`KEYS`), parsed against
/// a pinned key: the key its own `signing-key:` line names when that line parses (so seeds made
/// by `keyholder sign-recipients` reach the signature check and what follows it), else a fixed
/// one.
private let fixed = try! SigningSecretKey(seed: SecureBytes(count: 32)).publicKey

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSignedRecipients(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: FuzzInput.bytes(data, size), as: UTF8.self)
    let named = text.split(separator: "\n").first { $0.hasPrefix("signing-key: ") }
        .flatMap { try? SigningPublicKey(text: String($0.dropFirst("signing-key: ".count))) }
    _ = try? SignedRecipients.parse(text, pinnedKey: named ?? fixed)
    return 0
}
