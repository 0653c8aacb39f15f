import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import SealDropFormat
import SealDropServer
import SealDropStore
import SealDropWire

/// Serves one request per connection of the upload page: the form, its style sheet, the
/// receipt, `/keys`, and `POST /upload`, which streams the form's file through the daemon's
/// ``SealDropServer/UploadPipeline`` (sealed as it arrives, durable before the receipt) and
/// answers with a redirect to the receipt page, so that reloading that page sends nothing again.
///
/// Connections are counted with the TCP listener's, against the same limit; nothing here reads,
/// logs or stores a client's address, `User-Agent` or any other header's value.
struct WebResponder: Sendable {
    let pipeline: UploadPipeline
    let tracker: ConnectionTracker
    let limits: ServerLimits
    let pages: WebPages
    let logger: Logger

    typealias Parts = NIOAsyncChannelInboundStream<HTTPRequestPart>.AsyncIterator

    /// What a form may add to its file: the message, the part heads and the delimiters.
    static let formAllowance = UInt64(UploadForm.maxMessageBytes) + 64 * 1024

    /// The headers every response carries (and `Content-Type`, `Content-Length`, `Location`).
    static let securityHeaders: HTTPFields = {
        var fields = HTTPFields()
        fields[.contentSecurityPolicy] = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        fields[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        fields[.cacheControl] = "no-store"
        fields[.xContentTypeOptions] = "nosniff"
        fields[HTTPField.Name("Permissions-Policy")!] = ""
        fields[.connection] = "close"
        return fields
    }()

    /// Serves `connection`'s one request, answers, and closes it. Never throws.
    func serve(_ connection: WebConnection) async {
        let admission = tracker.admit()
        defer { tracker.leave(admission) }
        do {
            try await connection.asyncChannel.executeThenClose { inbound, outbound in
                let control = connection.control
                let answer: (response: WebResponse, drain: Bool)?
                switch admission {
                case .drop:
                    return
                case .refuse:
                    answer = (pages.refusal(.busy), true)
                case .serve:
                    var parts = inbound.makeAsyncIterator()
                    answer = await respond(&parts, connection: connection, outbound: outbound)
                }
                control.stopTimers()
                guard let answer else { return }
                // A busy refusal spends at most a second or two: the refusal slots are few.
                let busy = admission == .refuse
                let timeout = busy ? min(limits.writeTimeout, .seconds(1)) : limits.writeTimeout
                guard await send(answer.response, through: outbound, channel: connection.channel, timeout: timeout), answer.drain else { return }
                if busy {
                    await control.drainAfterBusy(limits)
                } else {
                    await control.drainAfterReply(limits)
                }
            }
        } catch {
            logger.trace("web connection closed with an error", metadata: ["error.type": "\(type(of: error))"])
        }
    }

    /// The answer to the request, and whether to drain what the client still sends; nil when
    /// the client went away before a request.
    private func respond(_ parts: inout Parts, connection: WebConnection,
                         outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>) async -> (response: WebResponse, drain: Bool)? {
        do {
            guard case .head(let head)? = try await parts.next() else { return nil }
            let path = head.path.map { String($0.prefix { $0 != "?" }) } ?? ""
            switch (head.method, path) {
            case (.get, "/"):
                return (pages.form(), true)
            case (.get, "/style.css"):
                return (WebPages.styleResponse(), true)
            case (.get, "/keys"):
                let document = ByteBuffer(bytes: pipeline.recipients.currentSet.document)
                return (WebResponse(status: .ok, contentType: "text/plain; charset=utf-8", body: document), true)
            case (.get, let path) where path.hasPrefix("/receipt/"):
                guard let id = SubmissionID(String(path.dropFirst("/receipt/".count))) else { throw WebRefusal.notFound }
                return (pages.receipt(id.text), true)
            case (.post, "/upload"):
                let receipt = try await upload(head, &parts, connection: connection, outbound: outbound)
                let location = "/receipt/\(receipt.text)"
                return (WebResponse(status: .seeOther, body: ByteBuffer(string: "<!doctype html><a href=\"\(location)\">\(location)</a>\n"),
                                    location: location), true)
            case (_, "/"), (_, "/upload"), (_, "/style.css"), (_, "/keys"):
                throw WebRefusal.methodNotAllowed
            default:
                throw WebRefusal.notFound
            }
        } catch {
            guard let (refusal, drain) = refusal(for: error) else { return nil }
            logger.debug("web request refused", metadata: ["http.status": "\(refusal.status.code)"])
            return (pages.refusal(refusal), drain)
        }
    }

    /// Streams the form into a new upload and commits it; returns the receipt.
    private func upload(_ head: HTTPRequest, _ parts: inout Parts, connection: WebConnection,
                        outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>) async throws -> SubmissionID {
        // A declared length over the limit is refused before a byte of the body is read.
        if let declared = head.headerFields[.contentLength].flatMap(UInt64.init), declared > limits.maxBodyBytes + Self.formAllowance {
            throw WebRefusal.tooLarge
        }
        var form = try UploadForm(contentType: head.headerFields[.contentType], maxHeadBytes: limits.maxHeaderLineBytes,
                                  maxHeadLines: limits.maxHeaderLines)
        // A client that asked first (curl does, for bodies over 1 MiB) is told to go on.
        if head.headerFields[.expect]?.lowercased() == "100-continue" {
            try await outbound.write(.head(HTTPResponse(status: .continue)))
        }
        var upload: Upload?
        do {
            var fastReads = false
            receiving: while true {
                switch try await parts.next() {
                case .body(let buffer)?:
                    for step in try form.feed(buffer) {
                        switch step {
                        case .beginFile(let name, let mediaType, let message):
                            upload = try await pipeline.begin(.plaintext(name: name, mediaType: mediaType, message: message), length: nil,
                                                              door: ProvenanceRecord.Door.web, eventLoop: connection.control.eventLoop)
                        case .fileBytes(let bytes):
                            try await upload?.append(bytes)
                        }
                    }
                    if let upload, upload.inFastLane, !fastReads {
                        fastReads = true
                        try? await connection.channel.setOption(.recvAllocator, value: FastLanes.fastReads).get()
                    }
                case .end?:
                    break receiving
                case .head?, nil:
                    throw ConnectionLost()
                }
            }
            try form.finish()
            guard let upload else { throw UploadForm.Failure.noFile }
            return try await upload.commit()
        } catch {
            await upload?.abort()
            throw error
        }
    }

    private struct ConnectionLost: Error {}

    /// The refusal that answers `error`, and whether to drain; nil when no answer can arrive.
    private func refusal(for error: any Error) -> (WebRefusal, drain: Bool)? {
        switch error {
        case let refusal as WebRefusal:
            return (refusal, true)
        case let failure as UploadForm.Failure:
            return (failure == .messageTooLong ? .messageTooLong : .malformed(failure), true)
        case is HTTPParserError:
            return (.malformed(nil), true)
        case let error as ProtocolError where error.code == .headerTimeout || error.code == .idleTimeout:
            return (.slow, false)
        case let refusal as UploadRefusal:
            switch refusal {
            case .tooLarge: return (.tooLarge, true)
            case .metadataTooLarge: return (.messageTooLong, true)
            case .quota, .diskFull: return (.full, true)
            case .shuttingDown: return (.shuttingDown, false)
            default: return (.serverError, true)
            }
        case is CancellationError:
            return (.shuttingDown, false)
        default:
            // The connection failed (reset, closed): no answer can arrive.
            logger.debug("web connection lost", metadata: ["error.type": "\(type(of: error))"])
            return nil
        }
    }

    /// Writes `response` and half-closes; gives up (and closes) if it cannot be handed to the
    /// socket within `timeout`. Returns whether it was sent. It is written even when the
    /// connection's task was cancelled (the shutdown grace period ran out): the client is told why.
    private func send(_ response: WebResponse, through outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>,
                      channel: any Channel, timeout: Duration) async -> Bool {
        var fields = Self.securityHeaders
        fields[.contentType] = response.contentType
        fields[.contentLength] = "\(response.body.readableBytes)"
        if let location = response.location { fields[.location] = location }
        let head = HTTPResponse(status: response.status, headerFields: fields)
        return await sendWithin(timeout, closing: channel) {
            try await outbound.write(contentsOf: [.head(head), .body(response.body), .end(nil)])
            outbound.finish()
        }
    }
}
