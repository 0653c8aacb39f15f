import Foundation
public import Logging
public import NIOCore
public import NIOPosix
import SealDropFormat
import SealDropKeys
public import SealDropStore

/// What an upload carries.
public enum UploadContent: Sendable, Equatable {
    /// Plaintext the daemon seals as it arrives, with what the source said about it.
    case plaintext(name: String?, mediaType: String?, message: String?)
    /// An envelope the source sealed on their own machine, stored as it arrives.
    case sealed
}

/// The one way into the spool, for every front door (the TCP protocol's verbs, resumable
/// uploads, and the upload page of SealDropWeb). A front door begins an upload, appends the bytes as they
/// arrive, and commits it (the receipt only once it is durable) or aborts it; a resumable upload
/// (``createResumable(length:eventLoop:)``) is kept when its connection ends and reopened at its
/// durable offset. Everything that protects the drop lives here, so
/// no front door can forget it:
///
/// - **Limits.** Only the fixed maximum body size is checked against a declared length; the
///   quota and the free-space reserve are charged as bytes arrive (``SpaceAccount``), so no reply
///   tells a client how much room is left to within a size it merely declared.
/// - **Inodes.** A new upload needs the free-inode reserve intact, and every stored file costs
///   at least the blocks of an empty submission plus one for its inode.
/// - **Speed.** Large uploads move to a ``FastLanes`` lane (bigger batches and reservation steps);
///   the ``Upload`` owns its lane and tells its front door to read more at a time.
/// - **Durability.** ``Upload/commit()`` writes, syncs, renames into the inbox and syncs the
///   inbox before it returns the receipt.
/// - **Provenance.** At commit the drop signs a ``SealDropFormat/ProvenanceRecord`` (front door,
///   the server's time, the receipt, the stored bytes' size and hash) with its drop key, seals
///   it to the upload's recipients and stores it beside the submission, in the same commit.
public final class UploadPipeline: Sendable {
    let spool: Spool
    let space: SpaceAccount
    package let recipients: RecipientStore
    package let limits: ServerLimits
    let threadPool: NIOThreadPool
    let logger: Logger
    let makeSubmissionID: @Sendable () -> SubmissionID
    let fastLanes = FastLanes()
    /// Who holds each resumable upload, and when each last made progress.
    let resumables: ResumableUploads
    /// Signs each submission's provenance record.
    let dropKey: DropSigner

    /// A pipeline into `spool`, counting what the spool already holds against the quota; each
    /// submission's provenance record is signed with `dropKey`.
    public static func open(spool: Spool, recipients: RecipientStore, limits: ServerLimits, dropKey: DropSigner, logger: Logger,
                            threadPool: NIOThreadPool = .singleton,
                            makeSubmissionID: @escaping @Sendable () -> SubmissionID = { SubmissionID.random() }) async throws -> UploadPipeline {
        let (stored, open) = try await threadPool.runIfActive {
            (try spool.storedCharge(SpaceAccount.charge(forFileBytes:)), try spool.partialStates().count { $0.state?.status == .open })
        }
        return UploadPipeline(spool: spool, space: SpaceAccount(quota: limits.spoolQuotaBytes, storedBytes: stored, warnings: SpaceWarnings(logger: logger)),
                              recipients: recipients, limits: limits, dropKey: dropKey, threadPool: threadPool, logger: logger,
                              resumables: ResumableUploads(open: open), makeSubmissionID: makeSubmissionID)
    }

    private init(spool: Spool, space: SpaceAccount, recipients: RecipientStore, limits: ServerLimits, dropKey: DropSigner,
                 threadPool: NIOThreadPool, logger: Logger, resumables: ResumableUploads,
                 makeSubmissionID: @escaping @Sendable () -> SubmissionID) {
        self.resumables = resumables
        self.dropKey = dropKey
        self.spool = spool
        self.space = space
        self.recipients = recipients
        self.limits = limits
        self.threadPool = threadPool
        self.logger = logger
        self.makeSubmissionID = makeSubmissionID
    }

    /// Bytes the quota counts as used now (stored and reserved).
    public var quotaUsedBytes: UInt64 { space.usedBytes }

    /// Begins an upload of `content`, of exactly `length` bytes, or of a length not known in
    /// advance (nil: a multipart form cannot know it), arriving through the front door `door`
    /// (named in its provenance record; by default `PUT` for plaintext, `SEALED` for an
    /// envelope: the TCP protocol's verbs). Throws ``UploadRefusal`` (untyped, see
    /// ``SpaceAccount``): `tooLarge` for a length over the maximum body size, `metadataTooLarge`,
    /// `quota` when the spool cannot take even an empty file, `diskFull` when the free-space or
    /// free-inode reserve is already used up.
    public func begin(_ content: UploadContent, length: UInt64?, door: String? = nil, eventLoop: any EventLoop) async throws -> Upload {
        if let length, length > limits.maxBodyBytes { throw UploadRefusal.tooLarge }
        var writer: EnvelopeWriter?
        if case .plaintext(let name, let mediaType, let message) = content {
            if let length, length > Layout.maxContentLength { throw UploadRefusal.tooLarge }
            let metadata = Metadata(name: name, mediaType: mediaType, size: length, time: Date(), message: message, sealedBy: .server)
            do { writer = try EnvelopeWriter(recipients: recipients.current, metadata: metadata) } catch .metadataTooLarge {
                throw UploadRefusal.metadataTooLarge
            } catch {
                logger.error("sealing an upload failed", metadata: ["error": "\(error)"])
                throw UploadRefusal.serverError
            }
        }
        let reservation = try await space.open(spool: spool, threadPool: threadPool)
        let sink: SubmissionSink
        do {
            let spool = self.spool
            let free = try await threadPool.runIfActive(eventLoop: eventLoop) { try spool.available() }.get()
            try space.requireReserves(free, bytes: limits.freeDiskReserveBytes, inodes: limits.freeInodeReserve)
            sink = try await SubmissionSink.create(id: makeSubmissionID(), spool: spool, threadPool: threadPool, eventLoop: eventLoop)
        } catch {
            throw refusal(for: error)
        }
        let door = door ?? (writer == nil ? ProvenanceRecord.Door.sealed : ProvenanceRecord.Door.put)
        let upload = Upload(pipeline: self, sink: sink, reservation: reservation, writer: writer, keys: recipients.current, length: length, door: door)
        if let writer {
            sink.setHeader(writer.header.bytes)
            writer.prefix.withUnsafeBytes { sink.append($0) }
        }
        return upload
    }

    /// The refusal that stands for an error met while storing: a full disk, a pool that has
    /// stopped (the daemon is stopping), or a failure the client cannot act on (logged).
    func refusal(for error: any Error) -> UploadRefusal {
        switch error {
        case let refusal as UploadRefusal:
            return refusal
        case let error as SpoolError where error.isOutOfSpace:
            space.warnings.refused(.disk)
            return .diskFull
        case let error as SpoolError:
            logger.error("storing an upload failed", metadata: ["error": "\(error)"])
            return .serverError
        case is CancellationError, is NIOThreadPoolError.ThreadPoolInactive:
            return .shuttingDown
        default:
            logger.error("storing an upload failed", metadata: ["error.type": "\(type(of: error))"])
            return .serverError
        }
    }
}
