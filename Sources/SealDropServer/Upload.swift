import Foundation
public import NIOCore
import SealDropCrypto
import SealDropFormat
import SealDropKeys
public import SealDropStore

/// One upload in progress, begun by ``UploadPipeline/begin(_:length:door:eventLoop:)`` (or, for
/// a resumable upload, reopened by ``UploadPipeline/reopen(_:eventLoop:)``) and used by one
/// front-door task at a time. Append the body's bytes as they arrive, then ``commit()`` (the
/// receipt, once durable) or ``abort()``; a resumable upload is instead kept with ``keep()``
/// when its connection ends. Every method throws ``UploadRefusal`` (untyped, see
/// ``SpaceAccount``); after a refusal, call ``abort()`` or ``keep()``.
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
    /// A resumable upload's record as it stood when reopened (each new record is this one with
    /// a new offset); nil for any other upload.
    private let resumable: PartialState?
    /// A resumable upload records its durable offset again once it has produced this many bytes.
    private var nextSync: UInt64 = 0

    /// Body bytes received so far (for a resumed upload, counting those kept before).
    public private(set) var receivedBytes: UInt64

    init(pipeline: UploadPipeline, sink: SubmissionSink, reservation: Reservation, writer: EnvelopeWriter?,
         keys: [PublicKey], length: UInt64?, door: String, resumable: PartialState? = nil) {
        self.door = door
        self.resumable = resumable
        let offset = resumable?.offset ?? 0
        nextSync = offset + ServerLimits.partialSyncInterval
        id = sink.id
        self.pipeline = pipeline
        self.sink = sink
        self.reservation = reservation
        self.writer = writer
        self.keys = keys
        self.length = length
        receivedBytes = offset
        // An upload records a durable offset only once its header was checked (see ``durableBytes``).
        headerChecked = writer != nil || offset > 0
    }

    deinit {
        if lane { pipeline.fastLanes.leave() }
    }

    /// Whether the upload is in a fast lane: its front door may read more at a time.
    public var inFastLane: Bool { lane }

    /// The bytes a resumable upload resumes from: everything received, once its envelope header
    /// was checked; none before (it then starts again from its first byte).
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
        do {
            try await sink.writeIfFull()
            if resumable != nil, headerChecked, sink.producedBytes >= nextSync {
                nextSync = sink.producedBytes + ServerLimits.partialSyncInterval
                try await recordDurableOffset()
            }
        } catch {
            throw pipeline.refusal(for: error)
        }
    }

    /// Schedules a resumable upload's checkpoint: once the bytes written so far are synced, its
    /// record says so (see ``SubmissionSink/checkpoint(_:)``).
    private func recordDurableOffset() async throws {
        guard let resumable else { return }
        let spool = pipeline.spool, resumables = pipeline.resumables, id = self.id
        try await sink.checkpoint { offset in
            var state = resumable
            state.offset = offset
            try spool.writeState(state, of: id)
            resumables.noteProgress(id)
        }
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
        // The upload's file exists already: only the free-space reserve applies.
        try pipeline.space.requireReserves(free, bytes: pipeline.limits.freeDiskReserveBytes, inodes: nil)
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
            let finished = resumable.map { state in
                PartialState(status: .finished, length: state.length, offset: state.length, tokenHash: state.tokenHash,
                             until: PartialState.coarse(Date(), plus: pipeline.limits.partialExpiry.seconds))
            }
            try await pipeline.threadPool.runIfActive(eventLoop: sink.eventLoop) {
                try spool.commit(file, record: try dropKey.seal(record, to: keys), dayOf: Date())
                // The record now says it is stored, for a client that lost the receipt. (A crash
                // before this is caught at start: the inbox has it.)
                if let finished { try? spool.writeState(finished, of: file.id) }
            }.get()
        } catch {
            if resumable != nil {
                await stayAtLastRecord()
            } else {
                await sink.abandon()
                reservation.release()
            }
            throw pipeline.refusal(for: error)
        }
        if resumable != nil { pipeline.resumables.closeOpenSlot() }
        reservation.store()
        pipeline.logger.debug("submission stored", metadata: [
            "submission.id": "\(id)", "submission.bytes": "\(stored.size)", "submission.kind": "\(writer == nil ? "sealed" : "plaintext")",
        ])
        return id
    }

    /// Keeps a resumable upload when its connection ends: everything received is written and
    /// synced, and its record says so (its ``durableBytes``). Returns them. After the upload
    /// ended (it was committed, or its commit failed and left it at its last recorded offset)
    /// it does nothing.
    public func keep() async throws -> UInt64 {
        guard let resumable else { throw UploadRefusal.notResumable }
        guard !ended else { return durableBytes }
        ended = true
        defer { leaveLane() }
        let durable = durableBytes
        let spool = pipeline.spool
        do {
            try await pipeline.space.settle(reservation, fileBytes: durable, evenOverQuota: true, spool: spool, threadPool: pipeline.threadPool)
            try await sink.keep { file, written in
                var state = resumable
                state.offset = min(durable, written)
                _ = try spool.keep(file, state: state, dayOf: Date())
            }
        } catch {
            await stayAtLastRecord()
            throw pipeline.refusal(for: error)
        }
        reservation.store()
        if durable > resumable.offset { pipeline.resumables.noteProgress(id) }
        return durable
    }

    /// A resumable upload whose commit or keep failed stays as its last record says (a record
    /// never claims more than is on disk), to be completed later, and keeps its place in the quota.
    private func stayAtLastRecord() async {
        await sink.closeKeepingFile()
        reservation.store()
    }

    /// Gives the upload up: its file is removed (a resumable upload's with its record) and its
    /// reservation released. Safe to call after a refusal, and more than once.
    public func abort() async {
        guard !ended else { return }
        ended = true
        leaveLane()
        await sink.abandon()
        reservation.release()
        if resumable != nil { pipeline.resumables.closeOpenSlot() }
    }
}
