import Foundation
import FuzzSupport
import SealDropCrypto
import SealDropFormat
import SealDropKeys

/// Whole submissions read to the end with the test vectors' key `a` (seeded with the vectors,
/// so the fuzzer starts inside the sealed payload): header, stream header, metadata, every
/// chunk, padding and the end.
nonisolated(unsafe) private let keys: [SecretKey] = {
    let folder = ProcessInfo.processInfo.environment["SEALDROP_FUZZ_VECTOR_KEYS"] ?? "Tests/SealDropFormatTests/Vectors/keys"
    guard let text = try? String(contentsOfFile: folder + "/a.key", encoding: .utf8),
          let line = try? String(contentsOfFile: folder + "/passphrase", encoding: .utf8),
          let passphrase = Array(line.utf8).withUnsafeBytes({ try? Passphrase.fromFileContents($0) }),
          let key = try? KeyFile(text: text).unlock(passphrase: passphrase)
    else { fatalError("FuzzEnvelope needs the vector keys: run it from the repository (Scripts/fuzz does)") }
    return [key]
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEnvelope(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let reader = try? EnvelopeReader(source: ArraySource(FuzzInput.bytes(data, size)), keys: keys) else { return 0 }
    _ = try? reader.readAll { _ in }
    return 0
}
