import NIOCore
import SealDropWire

/// The protocol's resumable-upload verbs on the TCP front door: `CREATE`, `OFFSET` and `APPEND`
/// (the protocol article of SealDropWire). The pipeline does the work; this maps requests to it.
extension RequestHandler {
    /// `CREATE <length>`: a new empty resumable upload; answers its ID and token.
    func create(_ head: RequestHead, _ parts: inout Parts, connection: Connection) async throws -> Reply {
        guard case .end? = try await next(&parts) else { throw ProtocolError(.truncated) }
        let created = try await pipeline.createResumable(length: head.uploadLength ?? 0, eventLoop: connection.control.eventLoop)
        return .created(upload: created.id.text, token: created.token)
    }

    /// `OFFSET`: the upload's durable offset, once any connection writing to it has let go.
    func offset(_ head: RequestHead, _ parts: inout Parts, connection: Connection) async throws -> Reply {
        let (upload, token) = try Self.uploadHeaders(head)
        guard case .end? = try await next(&parts) else { throw ProtocolError(.truncated) }
        let hold = try await claim(upload, token: token, connection: connection)
        defer { pipeline.release(hold) }
        return .offset(hold.state.offset)
    }

    /// `APPEND <length>` with `Offset`: the rest of the upload from its durable offset. Whatever
    /// arrives is kept if the connection ends early; the receipt once the last byte is stored.
    func append(_ head: RequestHead, _ parts: inout Parts, connection: Connection) async throws -> Reply {
        let (uploadID, token) = try Self.uploadHeaders(head)
        guard let offset = head.offset else { throw ProtocolError(.badHeader, "APPEND needs an Offset header") }
        let hold = try await claim(uploadID, token: token, connection: connection)
        defer { pipeline.release(hold) }
        // Judged before anything is opened: a refused append changes nothing.
        guard offset <= hold.state.length else { throw UploadRefusal.pastEnd }
        guard offset == hold.state.offset else { throw UploadRefusal.offsetMismatch }
        guard head.contentLength == hold.state.length - offset else { throw UploadRefusal.notToTheEnd }
        let upload = try await pipeline.reopen(hold, eventLoop: connection.control.eventLoop)
        do {
            return try await receive(into: upload, &parts, connection: connection)
        } catch {
            switch error {
            case UploadRefusal.badEnvelope, UploadRefusal.notAddressed:
                // It can never become a submission: gone, with its record.
                await upload.abort()
            default:
                // A lost connection, a timeout, a full disk, a takeover, a shutdown: what arrived
                // stays, to be resumed. A failure to record it leaves the record before intact.
                _ = try? await upload.keep()
            }
            throw error
        }
    }

    private func claim(_ upload: String, token: String, connection: Connection) async throws -> ResumableHold {
        let control = connection.control
        return try await pipeline.claimResumable(upload, token: token, interrupt: { control.interrupt(ProtocolError(.takenOver)) },
                                                 eventLoop: control.eventLoop)
    }

    private static func uploadHeaders(_ head: RequestHead) throws(ProtocolError) -> (upload: String, token: String) {
        guard let upload = head.upload, let token = head.token else {
            throw ProtocolError(.badHeader, "OFFSET and APPEND need Upload and Token headers")
        }
        return (upload, token)
    }
}
