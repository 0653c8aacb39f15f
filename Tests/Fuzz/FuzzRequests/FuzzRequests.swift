import FuzzSupport
import NIOCore
import NIOEmbedded
import SealDropWire

/// The TCP protocol's request decoder (every verb, the resumable ones included) behind the real
/// `ByteToMessageHandler`, fed in the pieces the input's first bytes choose, then closed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequests(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let limits = WireLimits(maxHeaderLineBytes: 256, maxHeaderLines: 8, maxBodyBytes: 1 << 20)
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(RequestDecoder(limits: limits)))
    defer { _ = try? channel.finish() }
    for piece in FuzzInput.pieces(FuzzInput.bytes(data, size)) {
        do { try channel.writeInbound(channel.allocator.buffer(bytes: piece)) } catch { return 0 }
        while (try? channel.readInbound(as: RequestPart.self)) != nil {}
    }
    while (try? channel.readInbound(as: RequestPart.self)) != nil {}
    return 0
}
