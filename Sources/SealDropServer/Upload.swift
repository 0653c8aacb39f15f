import Foundation
public import NIOCore
import SealDropCrypto
import SealDropFormat
import SealDropKeys
public import SealDropStore

/// One upload in progress, begun by ``UploadPipeline/begin(_:length:eventLoop:)`` (or reopened
/// by ``UploadPipeline/reopen(_:length:eventLoop:)``) and used by one front-door task at a time.
/// Append the body's bytes as they arrive, then ``commit()`` (the receipt, once durable),
/// ``abort()``, or for a sealed upload ``keep()``. Every method throws ``UploadRefusal``
/// (untyped, see ``SpaceAccount``); after a refusal, call ``abort()``.
public final class Upload {
    /// The submission's ID: its receipt once committed.
    public let id: SubmissionID
    private let pipeline: UploadPipeline
    private let sink: SubmissionSink
    private let reservation: Reservation
    /// The sealing state of a plaintext upload; nil for a sealed one.
    private let writer: EnvelopeWriter?
    /// The keys in force when the upload began: a sealed upload must be addressed to one.
    private let keys: [PublicKey]
    private let length: UInt64?
    /// The front door it came through, for its provenance record.
    private let door: String
    /// A sealed upload's first bytes, held until its envelope header is complete and checked.
    private var heldHeader: [UInt8] = []
    private var headerChecked: Bool
    private var lane = false
    private var ended = false

    /// Body bytes received so far (for a resumed upload, counting those kept before).
    public private(set) var receivedBytes: UInt64

    init(pipeline: UploadPipeline, sink: SubmissionSink, reservation: Reservation, writer: EnvelopeWriter?,
         keys: [PublicKey], length: UInt64?, door: String, resumedAt offset: UInt64 = 0) {
        self.door = door
        id = sink.id
        self.pipeline = pipeline
        self.sink = sink
        self.reservation = reservation
        self.writer = writer
        self.keys = keys
        self.length = length
        receivedBytes = offset
        // A kept upload is kept only once its header was checked (see ``keep()``).
        headerChecked = writer != nil || offset > 0
    }

    deinit {
        if lane { pipeline.fastLanes.leave() }
    }

    /// Whether the upload is in a fast lane: its front door may read more at a time.
    public var inFastLane: Bool { lane }

    /// The bytes a kept upload resumes from: everything received, once a sealed upload's header
    /// was checked; none before (a resumed upload then starts again from its first byte).
    public var durableBytes: UInt64 { headerChecked ? receivedBytes : 0 }

    /// Adds body bytes: sealed as they arrive for a plaintext upload, stored as they are for a
    /// sealed one (whose envelope header is checked once complete). Refuses more than the
    /// maximum body size or the declared length, and charges the quota and checks the free-space
    /// reserve as the upload grows.
    public func append(_ buffer: ByteBuffer) async throws {
        precondition(!ended, "append after the upload ended")
        let (total, overflow) = receivedBytes.addingReportingOverflow(UInt64(buffer.readableBytes))
        guard !overflow, total <= pipeline.limits.maxBodyBytes, length.map({ total <= $0 }) ?? true else { throw UploadRefusal.tooLarge }
        receivedBytes = total
        if let writer {
            buffer.withUnsafeReadableBytes { content in writer.append(content, sealingInto: sink.sealInto) }
        } else {
            sink.append(buffer)
            if !headerChecked { try checkHeader(adding: buffer) }
        }
        try await cover()
        joinFastLaneIfLarge()
        do { try await sink.writeIfFull() } catch { throw pipeline.refusal(for: error) }
    }

    /// Holds a sealed upload's first bytes until the header is whole, then checks it: a
    /// well-formed v1 header, addressed to a key in force, whose declared length fits.
    private func checkHeader(adding buffer: ByteBuffer) throws {
        heldHeader += buffer.readableBytesView.prefix(Layout.maxHeaderByteCount - heldHeader.count)
        let header: EnvelopeHeader
        do {
            guard let parsed = try EnvelopeHeader.parse(prefix: heldHeader) else { return }
            header = parsed
        } catch {
            throw UploadRefusal.badEnvelope("the envelope header is malformed")
        }
        heldHeader = []
        headerChecked = true
        sink.setHeader(header.bytes)
        let current = Set(keys.map(\.keyID))
        guard header.keyIDs.contains(where: current.contains) else { throw UploadRefusal.notAddressed }
        if let length, !Layout.isPossibleTotalLength(length, recipients: header.recipients.count, metadataLength: header.metadataLength) {
            throw UploadRefusal.badEnvelope("the length does not fit the envelope's layout")
        }
        expectedLayout = (header.recipients.count, header.metadataLength)
    }

    /// The header's recipient count and metadata length, once checked (for a length not
    /// declared in advance, checked at the end).
    private var expectedLayout: (recipients: Int, metadataLength: Int)?

    /// Keeps the reservation a step ahead of the bytes produced, and the free-space reserve
    /// intact each time it grows.
    private func cover() async throws {
        let step = lane ? FastLanes.reservationStep : SpaceAccount.step
        let grew = try await pipeline.space.cover(sink.producedBytes, in: reservation, step: step, spool: pipeline.spool,
                                                  threadPool: pipeline.threadPool)
        if grew { try await checkFreeSpace() }
    }

    private func checkFreeSpace() async throws {
        let free: (bytes: UInt64, inodes: UInt64)
        do { free = try await sink.available() } catch { throw pipeline.refusal(for: error) }
        guard free.bytes >= pipeline.limits.freeDiskReserveBytes else { throw UploadRefusal.diskFull }
    }

    /// Moves an upload that has grown past ``FastLanes/threshold`` into a fast lane, if one is
    /// free; the lane is given back when the upload ends.
    private func joinFastLaneIfLarge() {
        guard !lane, sink.producedBytes >= FastLanes.threshold, pipeline.fastLanes.enter() else { return }
        lane = true
        sink.useLargeBatches()
    }

    private func leaveLane() {
        if lane { pipeline.fastLanes.leave() }
        lane = false
    }

    /// Finishes the upload: checks it is complete (the declared length, a whole envelope),
    /// writes the last chunks, sets the file's times to the day, `fsync`s it, writes its
    /// provenance record (signed by the drop key, sealed to the upload's recipients), renames
    /// both into the inbox and `fsync`s the inbox. Returns the receipt only then.
    public func commit() async throws -> SubmissionID {
        precondition(!ended, "commit after the upload ended")
        if let length, receivedBytes != length { throw UploadRefusal.truncated }
        if writer == nil {
            guard headerChecked else { throw UploadRefusal.badEnvelope("the body is too short for an envelope") }
            // A declared length was checked against the header; an undeclared one is checked now.
            if length == nil, let layout = expectedLayout,
               !Layout.isPossibleTotalLength(receivedBytes, recipients: layout.recipients, metadataLength: layout.metadataLength) {
                throw UploadRefusal.badEnvelope("the length does not fit the envelope's layout")
            }
        }
        let finalBytes = writer.map { Layout.sealedByteCount(contentLength: receivedBytes, recipients: keys.count, metadataLength: $0.header.metadataLength) }
            ?? receivedBytes
        // The last chunks (padding) are written on the pool: charge the final size first.
        try await pipeline.space.settle(reservation, fileBytes: finalBytes, withRecord: true, spool: pipeline.spool, threadPool: pipeline.threadPool)
        try await checkFreeSpace()
        ended = true
        defer { leaveLane() }
        let stored: (file: SpoolFile, size: UInt64, hashes: StoredHashes.Result)
        do {
            let sealing = writer.map(SerializedAccess.init)
            stored = try await sink.finish(dayOf: Date()) { write in
                try sealing?.value.finish(emit: write)
            }
            let spool = pipeline.spool, file = stored.file, dropKey = pipeline.dropKey, keys = self.keys
            let record = ProvenanceRecord(submission: id.text, door: door, received: Date(), bytes: stored.size, headerHash: stored.hashes.header,
                                          payloadBytes: stored.hashes.payloadBytes, payloadHash: stored.hashes.payload, dropKey: dropKey.publicKey)
            try await pipeline.threadPool.runIfActive(eventLoop: sink.eventLoop) {
                try spool.commit(file, record: try dropKey.seal(record, to: keys), dayOf: Date())
            }.get()
        } catch {
            await sink.abandon()
            reservation.release()
            throw pipeline.refusal(for: error)
        }
        reservation.store()
        pipeline.logger.debug("submission stored", metadata: [
            "submission.id": "\(id)", "submission.bytes": "\(stored.size)", "submission.kind": "\(writer == nil ? "sealed" : "plaintext")",
        ])
        return id
    }

    /// Keeps a sealed upload to be resumed by ``UploadPipeline/reopen(_:length:eventLoop:)``:
    /// its ``durableBytes`` are synced and recorded; the rest is given up. Returns them.
    public func keep() async throws -> UInt64 {
        precondition(!ended, "keep after the upload ended")
        guard writer == nil else { throw UploadRefusal.notResumable }
        ended = true
        defer { leaveLane() }
        let durable = durableBytes
        do {
            try await pipeline.space.settle(reservation, fileBytes: durable, spool: pipeline.spool, threadPool: pipeline.threadPool)
            try await sink.keep(durableBytes: durable, dayOf: Date())
        } catch {
            await sink.abandon()
            reservation.release()
            throw pipeline.refusal(for: error)
        }
        reservation.store()
        return durable
    }

    /// Gives the upload up: its file is removed (a kept upload's too) and its reservation
    /// released. Safe to call after a refusal, and more than once.
    public func abort() async {
        guard !ended else { return }
        ended = true
        leaveLane()
        await sink.abandon()
        reservation.release()
    }
}
