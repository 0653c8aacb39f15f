import Foundation
import FuzzSupport
import SealDropKeyholder

/// The keyholder's own records, read back by list, retire and decrypt: an import record
/// (`imports/*.json`), `decrypted.jsonl` and `reencrypted.jsonl`. The first byte picks which.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKeyholderRecords(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = FuzzInput.bytes(data, size)
    guard let which = bytes.first else { return 0 }
    let root = (FuzzInput.scratch as NSString).appendingPathComponent("archive")
    guard let archive = try? Archive.open(root, create: true) else { return 0 }
    let content = Array(bytes.dropFirst())
    switch which % 3 {
    case 0:
        let name = (archive.importsPath as NSString).appendingPathComponent("record.json")
        FileManager.default.createFile(atPath: name, contents: Data(content))
        _ = archive.importRecords()
        try? FileManager.default.removeItem(atPath: name)
    case 1:
        FileManager.default.createFile(atPath: archive.decryptedPath, contents: Data(content))
        _ = archive.decryptedIDs()
    default:
        FileManager.default.createFile(atPath: archive.reencryptedPath, contents: Data(content))
        _ = archive.earlierPayloads(of: "aaaaaaaaaaaaaaaaaaaaaaaa", current: [UInt8](repeating: 1, count: 32))
    }
    return 0
}
