import Foundation
import Logging
import NIOCore
import NIOPosix
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropStore
import SealDropWire

/// Serves one connection: one request, one reply. Shared by every connection task.
///
/// Nothing here knows, logs or stores where a connection comes from.
struct RequestHandler: Sendable {
    let spool: Spool
    let space: SpaceAccount
    let recipients: RecipientStore
    let limits: ServerLimits
    let threadPool: NIOThreadPool
    let logger: Logger
    let makeSubmissionID: @Sendable () -> SubmissionID
    let fastLanes = FastLanes()

    typealias Parts = NIOAsyncChannelInboundStream<RequestPart>.AsyncIterator

    /// What to send back and whether to drain the input afterwards.
    private struct Outcome {
        var reply: Reply
        var drain = true
    }

    /// Serves the request on `connection`, replies, and closes it. Never throws: whatever goes
    /// wrong ends this connection only.
    func serve(_ connection: Connection) async {
        let channel = connection.channel.channel
        do {
            try await connection.channel.executeThenClose { inbound in
                var parts = inbound.makeAsyncIterator()
                let outcome = await respond(&parts, connection: connection)
                connection.control.stopTimers()
                await connection.control.send(outcome.reply, on: channel, timeout: TimeAmount(limits.writeTimeout))
                if outcome.drain {
                    await connection.control.drainInput(timeout: TimeAmount(limits.drainTimeout), maxBytes: limits.drainMaxBytes)
                }
            }
        } catch {
            logger.trace("connection closed with an error", metadata: ["error.type": "\(type(of: error))"])
        }
    }

    /// Refuses a connection over the limit with `ERR busy`, spending at most a second or two
    /// on it (the refusal slots are few, see `ConnectionTracker`).
    func refuseBusy(_ connection: Connection) async {
        let channel = connection.channel.channel
        connection.control.stopTimers()
        do {
            try await connection.channel.executeThenClose { _ in
                await connection.control.send(Reply(ProtocolError(.busy)), on: channel, timeout: TimeAmount(min(limits.writeTimeout, .seconds(1))))
                await connection.control.drainInput(timeout: TimeAmount(min(limits.drainTimeout, .seconds(1))), maxBytes: 64 * 1024)
            }
        } catch {
            logger.trace("busy connection closed with an error", metadata: ["error.type": "\(type(of: error))"])
        }
    }

    private func respond(_ parts: inout Parts, connection: Connection) async -> Outcome {
        do {
            guard case .head(let head)? = try await next(&parts) else { throw ProtocolError(.truncated) }
            switch head.verb {
            case .keys:
                return Outcome(reply: try await keys(&parts))
            case .put:
                return Outcome(reply: try await put(head, &parts, connection: connection))
            case .sealed:
                return Outcome(reply: try await sealed(head, &parts, connection: connection))
            }
        } catch {
            return refusal(for: error)
        }
    }

    /// The next part; throws `CancellationError` if the server is shutting down.
    private func next(_ parts: inout Parts) async throws -> RequestPart? {
        let part = try await parts.next()
        if part == nil, Task.isCancelled { throw CancellationError() }
        return part
    }

    private func refusal(for error: any Error) -> Outcome {
        let refusal: ProtocolError
        var drain = true
        switch error {
        case let error as ProtocolError:
            refusal = error
        case is DiskReserveExceeded:
            refusal = ProtocolError(.diskFull)
        case let error as SpoolError where error.isOutOfSpace:
            logger.error("the spool's disk is full", metadata: ["error": "\(error)"])
            refusal = ProtocolError(.diskFull)
        case let error as SpoolError:
            logger.error("storing an upload failed", metadata: ["error": "\(error)"])
            refusal = ProtocolError(.serverError)
        case is CancellationError:
            refusal = ProtocolError(.busy, "the server is shutting down; the upload was discarded, try again later")
            drain = false
        case let error as SealingError:
            logger.error("sealing an upload failed", metadata: ["error": "\(error)"])
            refusal = ProtocolError(.serverError)
        case is NIOThreadPoolError.ThreadPoolInactive:
            refusal = ProtocolError(.serverError)
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
        let document = recipients.currentSet.document
        logger.debug("recipients sent")
        return .document(ByteBuffer(bytes: document))
    }

    // MARK: PUT

    private func put(_ head: RequestHead, _ parts: inout Parts, connection: Connection) async throws -> Reply {
        // The configuration caps the body size below this; a limit set in code might not.
        guard head.contentLength <= Layout.maxContentLength else { throw ProtocolError(.tooLarge) }
        let keys = recipients.current
        let metadata = Metadata(name: head.name, mediaType: head.mediaType, size: head.contentLength, time: Date(),
                                message: head.message, sealedBy: .server)
        let writer = try makeWriter(recipients: keys, metadata: metadata)
        let expected = Layout.sealedByteCount(contentLength: head.contentLength, recipients: keys.count,
                                              metadataLength: writer.header.metadataLength)
        let reservation = try await space.reserve(finalBytes: expected, spool: spool, threadPool: threadPool)
        let sink = try await createSink(expectedBytes: expected, connection: connection)
        defer { if sink.inFastLane { fastLanes.leave() } }
        do {
            writer.prefix.withUnsafeBytes { sink.append($0) }
            receiving: while true {
                switch try await next(&parts) {
                case .body(let buffer)?:
                    buffer.withUnsafeReadableBytes { content in writer.append(content, sealingInto: sink.sealInto) }
                    try await cover(sink, reservation)
                    await joinFastLaneIfLarge(sink, connection: connection)
                    try await sink.writeIfFull()
                case .end?:
                    break receiving
                case .head?, nil:
                    throw ProtocolError(.truncated)
                }
            }
            // The last chunks (padding) are written on the pool: cover the final size first.
            try await cover(sink, reservation, upTo: expected)
            let sealing = SerializedAccess(writer)
            let (file, size) = try await sink.finish(dayOf: Date()) { write in
                try sealing.value.finish(emit: write)
            }
            return try await commit(file, size: size, kind: "put", reservation: reservation, connection: connection)
        } catch {
            await sink.abandon()
            throw error
        }
    }

    private func makeWriter(recipients: [PublicKey], metadata: Metadata) throws -> EnvelopeWriter {
        do {
            return try EnvelopeWriter(recipients: recipients, metadata: metadata)
        } catch .metadataTooLarge {
            throw ProtocolError(.badHeader, "Name, Type and Message together are too large")
        }
    }

    // MARK: SEALED

    private func sealed(_ head: RequestHead, _ parts: inout Parts, connection: Connection) async throws -> Reply {
        let keys = recipients.current
        // Hold the first bytes until the envelope header is complete: at most the largest header
        // and one received part (copied, so tiny parts cannot pin receive buffers).
        var held: [UInt8] = []
        var header: EnvelopeHeader?
        var ended = false
        while header == nil {
            switch try await next(&parts) {
            case .body(let buffer)?:
                held += buffer.readableBytesView
                do { header = try EnvelopeHeader.parse(prefix: held) } catch {
                    throw ProtocolError(.badEnvelope, "the envelope header is malformed")
                }
            case .end?:
                if header == nil { throw ProtocolError(.badEnvelope, "the body is too short for an envelope") }
                ended = true
            case .head?, nil:
                throw ProtocolError(.truncated)
            }
        }
        guard let header else { throw ProtocolError(.badEnvelope) }
        let current = Set(keys.map(\.keyID))
        guard header.keyIDs.contains(where: current.contains) else { throw ProtocolError(.notAddressed) }
        guard Layout.isPossibleTotalLength(head.contentLength, recipients: header.recipients.count,
                                           metadataLength: header.metadataLength) else {
            throw ProtocolError(.badEnvelope, "the length does not fit the envelope's layout")
        }
        let reservation = try await space.reserve(finalBytes: head.contentLength, spool: spool, threadPool: threadPool)
        let sink = try await createSink(expectedBytes: head.contentLength, connection: connection)
        defer { if sink.inFastLane { fastLanes.leave() } }
        do {
            held.withUnsafeBytes { sink.append($0) }
            held = []
            while !ended {
                switch try await next(&parts) {
                case .body(let buffer)?:
                    sink.append(buffer)
                    try await cover(sink, reservation)
                    await joinFastLaneIfLarge(sink, connection: connection)
                    try await sink.writeIfFull()
                case .end?:
                    ended = true
                case .head?, nil:
                    throw ProtocolError(.truncated)
                }
            }
            let (file, size) = try await sink.finish(dayOf: Date()) { _ in }
            return try await commit(file, size: size, kind: "sealed", reservation: reservation, connection: connection)
        } catch {
            await sink.abandon()
            throw error
        }
    }

    // MARK: Storage

    private func createSink(expectedBytes: UInt64, connection: Connection) async throws -> SubmissionSink {
        try await SubmissionSink.create(
            id: makeSubmissionID(), expectedBytes: expectedBytes, reserve: limits.freeDiskReserveBytes,
            spool: spool, threadPool: threadPool, eventLoop: connection.control.eventLoop
        )
    }

    /// Keeps the upload's quota reservation a step ahead of what it has produced (or at
    /// `upTo` bytes, when given), and the free-disk reserve intact each time it grows: `ERR quota`
    /// or `ERR disk-full` when the spool really fills, not when someone merely declares a size.
    private func cover(_ sink: SubmissionSink, _ reservation: Reservation, upTo bytes: UInt64? = nil) async throws {
        let before = reservation.bytes
        let step = sink.inFastLane ? FastLanes.reservationStep : SpaceAccount.step
        try await space.cover(bytes ?? sink.producedBytes, in: reservation, step: step, spool: spool, threadPool: threadPool)
        if reservation.bytes != before { try await sink.checkFreeSpace(reserve: limits.freeDiskReserveBytes) }
    }

    /// Moves an upload that has grown past `FastLanes.threshold` into a fast lane, if one is
    /// free: larger reads, write batches and quota steps from then on. The lane is given back
    /// when the request ends.
    private func joinFastLaneIfLarge(_ sink: SubmissionSink, connection: Connection) async {
        guard !sink.inFastLane, sink.producedBytes >= FastLanes.threshold, fastLanes.enter() else { return }
        sink.useLargeBatches()
        // If the option cannot be set (the connection is closing), reads simply stay small.
        try? await connection.channel.channel.setOption(.recvAllocator, value: FastLanes.fastReads).get()
    }

    /// Moves the finished file into the inbox, unless bytes followed the declared end.
    private func commit(_ file: SpoolFile, size: UInt64, kind: String, reservation: Reservation,
                        connection: Connection) async throws -> Reply {
        if await connection.control.trailingDataSeen() { throw ProtocolError(.trailingData) }
        let spool = self.spool
        try await threadPool.runIfActive(eventLoop: connection.control.eventLoop) {
            try spool.commit(file, dayOf: Date())
        }.get()
        reservation.commit()
        logger.debug("submission stored", metadata: [
            "submission.id": "\(file.id)", "submission.bytes": "\(size)", "submission.kind": "\(kind)",
        ])
        return .ok(receipt: file.id.text)
    }
}
