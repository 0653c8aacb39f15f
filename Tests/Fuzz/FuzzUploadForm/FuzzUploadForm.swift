import FuzzSupport
import NIOCore
@testable import SealDropWeb

/// The upload page's multipart reader and the form's rules, fed in pieces; the first line of
/// the input is the Content-Type header's value (so boundaries vary too).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzUploadForm(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = FuzzInput.bytes(data, size)
    let newline = bytes.firstIndex(of: 10) ?? bytes.count
    let contentType = String(decoding: bytes[..<newline], as: UTF8.self)
    guard var form = try? UploadForm(contentType: contentType, maxHeadBytes: 512, maxHeadLines: 8) else { return 0 }
    for piece in FuzzInput.pieces(Array(bytes.dropFirst(newline + 1))) {
        guard (try? form.feed(ByteBuffer(bytes: piece))) != nil else { return 0 }
    }
    _ = try? form.finish()
    return 0
}
