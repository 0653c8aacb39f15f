public import Foundation
public import NIOCore
import NIOPosix
import SealDropFormat
public import SealDropStore

/// A connection's hold on one resumable upload, from ``UploadPipeline/claimResumable(_:token:interrupt:eventLoop:)``
/// to ``UploadPipeline/release(_:)``: no other connection writes to the upload meanwhile.
public struct ResumableHold: Sendable {
    fileprivate let claim: ResumableUploads.Claim
    /// The upload's ID (its receipt once complete).
    public var id: SubmissionID { claim.id }
    /// Its record as it stood once the hold was taken: the declared length and durable offset.
    public let state: PartialState
}

/// Resumable sealed uploads (the protocol's `CREATE`, `OFFSET` and `APPEND`): created empty in
/// `partial/` with a record, appended to by one connection at a time, synced and recorded every
/// ``ServerLimits/partialSyncInterval`` and whenever a connection ends, committed to the inbox
/// like any upload once the last byte is durable.
extension UploadPipeline {
    /// Creates an empty resumable upload of `length` bytes (a sealed envelope's size) and
    /// returns its ID and secret token; the record keeps only the token's hash. Throws
    /// ``UploadRefusal``: `resumableUploadsOff`, `tooLarge`, `badEnvelope` for a length no
    /// envelope can have, `tooManyPartialUploads`, `quota`, `diskFull`.
    public func createResumable(length: UInt64, eventLoop: any EventLoop) async throws -> (id: SubmissionID, token: String) {
        guard limits.maxPartialUploads > 0 else { throw UploadRefusal.resumableUploadsOff }
        guard length <= limits.maxBodyBytes else { throw UploadRefusal.tooLarge }
        // The smallest envelope: one recipient, one metadata block, no content.
        guard length >= Layout.sealedByteCount(contentLength: 0, recipients: 1, metadataLength: Layout.metadataBlockByteCount) else {
            throw UploadRefusal.badEnvelope("the length is too short for an envelope")
        }
        guard resumables.reserveOpenSlot(limit: limits.maxPartialUploads) else { throw UploadRefusal.tooManyPartialUploads }
        // The data file and its record, each charged like any file.
        let reservation: Reservation
        do { reservation = try await space.open(spool: spool, threadPool: threadPool) } catch {
            resumables.closeOpenSlot()
            throw error
        }
        let id = makeSubmissionID(), token = ResumableUploads.makeToken()
        let now = Date()
        let state = PartialState(status: .open, length: length, offset: 0, tokenHash: token.hash,
                                 until: PartialState.coarse(now, plus: limits.partialExpiry.seconds))
        do {
            try await space.settle(reservation, fileBytes: 0, withRecord: true, spool: spool, threadPool: threadPool)
            let spool = self.spool, space = self.space, reserve = (limits.freeDiskReserveBytes, limits.freeInodeReserve)
            try await threadPool.runIfActive(eventLoop: eventLoop) {
                try space.requireReserves(try spool.available(), bytes: reserve.0, inodes: reserve.1)
                try spool.createPartial(id, state: state, dayOf: now)
            }.get()
        } catch {
            reservation.release()
            resumables.closeOpenSlot()
            throw refusal(for: error)
        }
        reservation.store()
        resumables.noteProgress(id)
        logger.debug("resumable upload created", metadata: ["submission.id": "\(id)"])
        return (id, token.text)
    }

    /// Takes hold of the resumable upload `idText` for the calling connection, if `token` is
    /// its token: a connection holding it is interrupted (`interrupt` is how a later one stops
    /// this one) and waited for. Throws ``UploadRefusal``: `unknownUpload`, `badToken`
    /// (checked before anything else happens), `uploadFinished`, `uploadExpired`.
    public func claimResumable(_ idText: String, token: String, interrupt: @escaping @Sendable () -> Void,
                               eventLoop: any EventLoop) async throws -> ResumableHold {
        guard let id = SubmissionID(idText) else { throw UploadRefusal.unknownUpload }
        let before = try await readState(id, eventLoop: eventLoop)
        guard ResumableUploads.tokenMatches(token, hash: before.tokenHash) else { throw UploadRefusal.badToken }
        let claim = await resumables.claim(id, interrupt: interrupt, eventLoop: eventLoop)
        do {
            let state = try await readState(id, eventLoop: eventLoop)
            switch state.status {
            case .open: return ResumableHold(claim: claim, state: state)
            case .finished: throw UploadRefusal.uploadFinished
            case .expired: throw UploadRefusal.uploadExpired
            }
        } catch {
            resumables.release(claim)
            throw error
        }
    }

    /// Lets go of a resumable upload.
    public func release(_ hold: ResumableHold) {
        resumables.release(hold.claim)
    }

    private func readState(_ id: SubmissionID, eventLoop: any EventLoop) async throws -> PartialState {
        let spool = self.spool
        return try await onPool(eventLoop) { try spool.readState(of: id) }
    }

    /// Runs `body` on the blocking pool: a missing upload is ``UploadRefusal/unknownUpload``,
    /// any other failure the refusal that stands for it.
    private func onPool<T: Sendable>(_ eventLoop: any EventLoop, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        do {
            return try await threadPool.runIfActive(eventLoop: eventLoop, body).get()
        } catch let error as SpoolError where error.errno == ENOENT {
            throw UploadRefusal.unknownUpload
        } catch {
            throw refusal(for: error)
        }
    }

    /// Opens the held upload at its durable offset, cut back to it, to append the rest. When
    /// its connection ends, ``Upload/keep()`` records what arrived; ``Upload/commit()`` stores it.
    public func reopen(_ hold: ResumableHold, eventLoop: any EventLoop) async throws -> Upload {
        let spool = self.spool, id = hold.id
        let reopened = try await onPool(eventLoop) { () throws -> (file: SpoolFile, state: PartialState, hashes: StoredHashes) in
            let (file, state) = try spool.reopen(id)
            do { return (file, state, try StoredHashes(ofFirst: state.offset, of: file)) } catch {
                file.close()
                throw error
            }
        }
        let sink = SubmissionSink.resume(file: reopened.file, durableBytes: reopened.state.offset, hashes: reopened.hashes,
                                         spool: spool, threadPool: threadPool, eventLoop: eventLoop)
        let reservation = space.resume(durableBytes: reopened.state.offset)
        return Upload(pipeline: self, sink: sink, reservation: reservation, writer: nil, keys: recipients.current,
                      length: reopened.state.length, door: ProvenanceRecord.Door.sealed, resumable: reopened.state)
    }

    /// Removes what has outlived its time in `partial/`: open uploads past their expiry or idle
    /// for longer than ``ServerLimits/partialIdleLimit`` (never one a connection holds), whose
    /// records then say `expired`; finished and expired records past their time; damaged
    /// records. Returns how many uploads it expired and how many records it removed (logged as
    /// counts only).
    @discardableResult
    public func sweepPartialUploads(now: Date = Date()) async -> (expired: Int, removed: Int) {
        let spool = self.spool, limits = self.limits, resumables = self.resumables
        let eventLoop = MultiThreadedEventLoopGroup.singleton.any()
        let result = try? await threadPool.runIfActive(eventLoop: eventLoop) { () -> (Int, Int) in
            var expired = 0, removed = 0
            for (id, state) in try spool.partialStates() {
                guard let claim = resumables.tryClaim(id, eventLoop: eventLoop) else { continue }
                defer { resumables.release(claim) }
                guard var state else {
                    spool.removePartial(id)
                    removed += 1
                    continue
                }
                switch state.status {
                case .open where state.until <= now || resumables.idleTime(id) >= limits.partialIdleLimit:
                    state.status = .expired
                    state.until = PartialState.coarse(now, plus: limits.partialExpiry.seconds)
                    if (try? spool.endPartial(id, state: state, dayOf: now)) == nil { spool.removePartial(id) }
                    resumables.closeOpenSlot()
                    expired += 1
                case .finished where state.until <= now, .expired where state.until <= now:
                    spool.removePartial(id)
                    resumables.forget(id)
                    removed += 1
                default:
                    break
                }
            }
            return (expired, removed)
        }.get()
        let (expired, removed) = result ?? (0, 0)
        if expired > 0 || removed > 0 {
            logger.info("resumable uploads swept", metadata: ["partial.expired": "\(expired)", "partial.records_removed": "\(removed)"])
        }
        return (expired, removed)
    }
}

extension Duration {
    /// The span in seconds.
    var seconds: TimeInterval {
        TimeInterval(components.seconds) + TimeInterval(components.attoseconds) / 1e18
    }
}
