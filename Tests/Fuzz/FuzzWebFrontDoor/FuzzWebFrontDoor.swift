import FuzzSupport
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import SealDropServer
@testable import SealDropWeb

/// The upload page's front door as a connection sees it: NIO's HTTP/1 decoder with the daemon's
/// head limits (the very handlers `WebChannel` installs), fed the input in pieces; a
/// `POST /upload` head's Content-Type then opens the form, and the body parts go through it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWebFrontDoor(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var limits = ServerLimits()
    limits.maxHeaderLineBytes = 1024
    limits.maxHeaderLines = 8
    let channel = EmbeddedChannel()
    defer { _ = try? channel.finish() }
    guard (try? WebChannel.addHTTPFraming(to: channel.pipeline.syncOperations, limits: limits)) != nil else { return 0 }
    var form: UploadForm?
    for piece in FuzzInput.pieces(FuzzInput.bytes(data, size)) {
        // The decoder refusing the bytes ends the connection, as in the daemon (a 400).
        guard (try? channel.writeInbound(ByteBuffer(bytes: piece))) != nil else { return 0 }
        while let part = try? channel.readInbound(as: HTTPRequestPart.self) {
            switch part {
            case .head(let head):
                guard head.method == .post, head.path == "/upload" else { return 0 }
                form = try? UploadForm(contentType: head.headerFields[.contentType], maxHeadBytes: limits.maxHeaderLineBytes,
                                       maxHeadLines: limits.maxHeaderLines)
            case .body(let buffer):
                guard form != nil, (try? form!.feed(buffer)) != nil else { return 0 }
            case .end:
                _ = try? form?.finish()
                return 0
            }
        }
    }
    return 0
}
