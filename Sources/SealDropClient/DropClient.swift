public import Foundation
public import SealDropCLISupport
public import SealDropFormat
public import SealDropKeys
import NIOCore
public import SealDropCrypto
import SealDropWire

/// What `sealdrop send` does on the network: fetch and verify the newsroom's keys, then seal
/// each file on this machine while sending it as a `SEALED` upload. No sealed copy and no
/// plaintext is written anywhere; memory stays at a few chunks whatever the size.
public struct DropClient: Sendable {
    /// The drop, and the signing key it pins.
    public let address: DropAddress
    /// How it is reached.
    public let route: Route

    /// A client for `address` along `route`.
    public init(address: DropAddress, route: Route) {
        self.address = address
        self.route = route
    }

    /// Fetches the recipients list (`KEYS`) and verifies it against the signing key the address
    /// pins: signature and expiry. An unsigned, wrongly signed, edited or expired list is refused
    /// before any file is sent.
    public func fetchRecipients(now: Date = Date()) throws(SendFailure) -> SignedRecipients {
        let reply = try connection(sending: "SEALDROP/1 KEYS\n\n").readAll()
        let document = try Self.keysDocument(in: reply)
        do {
            return try SignedRecipients.verifiedForUpload(document, address: address, now: now)
        } catch {
            throw .keysNotVerified(error.description)
        }
    }

    /// A new connection to the drop on which `request`, a request without a body, was sent.
    func connection(sending request: String) throws(SendFailure) -> DropConnection {
        let connection = try DropConnection.open(to: address, via: route)
        var bytes = connection.buffer(capacity: request.utf8.count)
        bytes.writeString(request)
        try connection.send(bytes)
        return connection
    }

    /// `OK <n>`, LF, then exactly `n` bytes of UTF-8: the document; an `ERR` line is the drop's refusal.
    static func keysDocument(in reply: [UInt8]) throws(SendFailure) -> String {
        guard let end = reply.firstIndex(of: UInt8(ascii: "\n")) else {
            throw .connectionLost(detail: reply.isEmpty ? "no reply to KEYS" : "an incomplete reply to KEYS")
        }
        var line = String(decoding: reply[..<end], as: UTF8.self)
        if line.hasSuffix("\r") { line.removeLast() }
        if line.hasPrefix("ERR ") { throw .refused(line) }
        guard line.hasPrefix("OK "), let count = Int(line.dropFirst(3)), count >= 0 else {
            throw .keysNotVerified("the drop's answer to KEYS is not \"OK <length>\"")
        }
        let body = reply[(end + 1)...]
        guard body.count == count else {
            throw body.count < count ? .connectionLost(detail: "the list of keys arrived incomplete") : .keysNotVerified("more bytes than announced after the list of keys")
        }
        guard let text = String(validating: body, as: UTF8.self) else { throw .keysNotVerified("the list of keys is not UTF-8 text") }
        return text
    }

    /// Seals `input` (of `metadata.size` bytes) to `recipients` while uploading it; returns the
    /// drop's receipt once the drop says the submission is durable. `progress` is called with
    /// the content bytes sent so far.
    public func send(_ input: FileReader, metadata: Metadata, to recipients: [PublicKey],
                     progress: (UInt64) -> Void = { _ in }) throws(SendFailure) -> String {
        guard let size = metadata.size else { preconditionFailure("the size is declared before sending") }
        let writer: EnvelopeWriter
        do { writer = try EnvelopeWriter(recipients: recipients, metadata: metadata) } catch {
            throw .unreadable("cannot seal \(input.path): \(error.description)")
        }
        let total = Layout.sealedByteCount(contentLength: size, recipients: recipients.count, metadataLength: writer.header.metadataLength)
        let connection = try DropConnection.open(to: address, via: route)
        var first = connection.buffer(capacity: 64 + writer.prefix.count)
        first.writeString("SEALDROP/1 SEALED \(total)\n\n")
        first.writeBytes(writer.prefix)
        try connection.send(first)
        let sent = try streamSealed(input, with: writer, over: connection, sent: UInt64(writer.prefix.count), limit: total, progress: progress)
        guard sent == total else {
            connection.abort()
            throw .fileChanged
        }
        return try Self.receipt(in: connection.finishAndReadLine())
    }

    /// The receipt of an `OK <receipt>` line; any other line is the drop's refusal.
    static func receipt(in line: String) throws(SendFailure) -> String {
        guard line.hasPrefix("OK "), Reply.isValidReceipt(String(line.dropFirst(3))) else { throw .refused(line) }
        return String(line.dropFirst(3))
    }

    /// Reads `input` ahead, seals it with `writer` (to its end, then finishes) straight into
    /// buffers sent on `connection`; the first `skip` sealed bytes are dropped (sealed again only
    /// to reach an offset). `sent` envelope bytes were sent before; more than `limit` in all
    /// means the file grew (``SendFailure/fileChanged``). Returns the bytes sent in all. Any
    /// failure aborts the connection, so that the drop keeps nothing of a `SEALED` body.
    func streamSealed(_ input: FileReader, with writer: EnvelopeWriter, over connection: DropConnection, skip: UInt64 = 0,
                      sent: UInt64, limit: UInt64, progress: (UInt64) -> Void) throws(SendFailure) -> UInt64 {
        var sent = sent, skip = skip
        let source = ReadAhead(input, zeroAfterUse: true)
        do {
            var more = true
            while more {
                var sealed = connection.buffer(capacity: (1 << 20) + 2 * Layout.fullChunkByteCount)
                // Each chunk is sealed straight into the buffer's free space.
                let sealInto: EnvelopeWriter.SealInto = { count, seal in
                    sealed.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { space in
                        seal(UnsafeMutableRawBufferPointer(rebasing: space[..<count]))
                        return count
                    }
                }
                more = try source.nextBlock { content in try writer.append(content, sealingInto: sealInto) }
                if !more { try writer.finish(sealingInto: sealInto) }
                let dropped = Int(min(skip, UInt64(sealed.readableBytes)))
                sealed.moveReaderIndex(forwardBy: dropped)
                skip -= UInt64(dropped)
                sent += UInt64(sealed.readableBytes)
                guard sent <= limit else { throw SendFailure.fileChanged }
                if sealed.readableBytes > 0 { try connection.send(sealed) }
                progress(source.bytesRead)
            }
            return sent
        } catch let failure as SendFailure {
            connection.abort()
            throw failure
        } catch SealingError.sizeMismatch {
            connection.abort()
            throw .fileChanged
        } catch let error as CLIError {
            connection.abort()
            throw .unreadable(error.message)
        } catch {
            connection.abort()
            throw .unreadable("cannot send \(input.path): \(error)")
        }
    }
}
