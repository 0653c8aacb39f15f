import Foundation
import Logging
import NIOCore
import NIOPosix
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropStore
import SealDropWire

/// The TCP front door: serves one connection, one request, one reply, over the
/// ``UploadPipeline`` every front door shares. Shared by every connection task.
///
/// Nothing here knows, logs or stores where a connection comes from.
struct RequestHandler: Sendable {
    let pipeline: UploadPipeline
    let limits: ServerLimits
    let logger: Logger

    typealias Parts = NIOAsyncChannelInboundStream<RequestPart>.AsyncIterator

    /// What to send back and whether to drain the input afterwards.
    private struct Outcome {
        var reply: Reply
        var drain = true
    }

    /// Serves the request on `connection`, replies, and closes it. Never throws: whatever goes
    /// wrong ends this connection only.
    func serve(_ connection: Connection) async {
        do {
            try await connection.channel.executeThenClose { inbound, outbound in
                var parts = inbound.makeAsyncIterator()
                let outcome = await respond(&parts, connection: connection)
                connection.control.stopTimers()
                let sent = await connection.send(outcome.reply, through: outbound, timeout: limits.writeTimeout)
                if sent, outcome.drain {
                    await connection.control.drainAfterReply(limits)
                }
            }
        } catch {
            logger.trace("connection closed with an error", metadata: ["error.type": "\(type(of: error))"])
        }
    }

    /// Refuses a connection over the limit with `ERR busy`, spending at most a second or two
    /// on it (the refusal slots are few, see `ConnectionTracker`).
    func refuseBusy(_ connection: Connection) async {
        connection.control.stopTimers()
        do {
            try await connection.channel.executeThenClose { _, outbound in
                if await connection.send(Reply(ProtocolError(.busy)), through: outbound, timeout: min(limits.writeTimeout, .seconds(1))) {
                    await connection.control.drainAfterBusy(limits)
                }
            }
        } catch {
            logger.trace("busy connection closed with an error", metadata: ["error.type": "\(type(of: error))"])
        }
    }

    /// Closes a connection that is not served (past every limit, or accepted as the server
    /// stopped), through its async channel, at once.
    func close(_ connection: Connection) async {
        try? await connection.channel.executeThenClose { _, _ in }
    }

    private func respond(_ parts: inout Parts, connection: Connection) async -> Outcome {
        do {
            guard case .head(let head)? = try await next(&parts) else { throw ProtocolError(.truncated) }
            switch head.verb {
            case .keys:
                return Outcome(reply: try await keys(&parts))
            case .put:
                let content = UploadContent.plaintext(name: head.name, mediaType: head.mediaType, message: head.message)
                return Outcome(reply: try await upload(content, head, &parts, connection: connection))
            case .sealed:
                return Outcome(reply: try await upload(.sealed, head, &parts, connection: connection))
            case .create:
                return Outcome(reply: try await create(head, &parts, connection: connection))
            case .offset:
                return Outcome(reply: try await offset(head, &parts, connection: connection))
            case .append:
                return Outcome(reply: try await append(head, &parts, connection: connection))
            }
        } catch {
            return refusal(for: error)
        }
    }

    /// The next part; throws `CancellationError` if the server is shutting down.
    func next(_ parts: inout Parts) async throws -> RequestPart? {
        let part = try await parts.next()
        if part == nil, Task.isCancelled { throw CancellationError() }
        return part
    }

    /// The reply to a request that failed, and whether to drain what the client still sends.
    private func refusal(for error: any Error) -> Outcome {
        let refusal: ProtocolError
        var drain = true
        switch error {
        case let error as ProtocolError:
            refusal = error
        case let error as UploadRefusal:
            refusal = ProtocolError(refusal: error)
            if error == .shuttingDown { drain = false }
        case is CancellationError:
            refusal = ProtocolError(refusal: .shuttingDown)
            drain = false
        default:
            // The connection failed (reset, closed): a reply may no longer arrive, but costs nothing.
            logger.debug("connection lost", metadata: ["error.type": "\(type(of: error))"])
            refusal = ProtocolError(.truncated)
            drain = false
        }
        logger.debug("request refused", metadata: ["error.code": "\(refusal.code.rawValue)"])
        return Outcome(reply: Reply(refusal), drain: drain)
    }

    // MARK: KEYS

    private func keys(_ parts: inout Parts) async throws -> Reply {
        guard case .end? = try await next(&parts) else { throw ProtocolError(.truncated) }
        // The signed list's bytes as they are in its file, or the keys in force, one per line.
        let document = pipeline.recipients.currentSet.document
        logger.debug("recipients sent")
        return .document(ByteBuffer(bytes: document))
    }

    // MARK: PUT and SEALED

    /// Receives the body into a new upload of `content` and commits it: one loop for both verbs.
    private func upload(_ content: UploadContent, _ head: RequestHead, _ parts: inout Parts, connection: Connection) async throws -> Reply {
        let upload = try await pipeline.begin(content, length: head.contentLength, eventLoop: connection.control.eventLoop)
        do {
            return try await receive(into: upload, &parts, connection: connection)
        } catch {
            await upload.abort()
            throw error
        }
    }

    /// Appends the body's parts to `upload` as they arrive and commits it once the body is
    /// complete; returns the receipt. The caller decides what becomes of the upload on an error.
    func receive(into upload: Upload, _ parts: inout Parts, connection: Connection) async throws -> Reply {
        var fastReads = false
        receiving: while true {
            switch try await next(&parts) {
            case .body(let buffer)?:
                try await upload.append(buffer)
                if upload.inFastLane && !fastReads {
                    fastReads = true
                    await connection.readLargerPieces()
                }
            case .end?:
                break receiving
            case .head?, nil:
                throw ProtocolError(.truncated)
            }
        }
        // Bytes after the declared end are refused, never stored.
        if await connection.control.trailingDataSeen() { throw ProtocolError(.trailingData) }
        return .ok(receipt: try await upload.commit().text)
    }
}
