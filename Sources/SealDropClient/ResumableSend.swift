import Foundation
public import SealDropCLISupport
public import SealDropFormat
import NIOCore
import SealDropWire

/// A resumable upload the drop created: its ID (the receipt once complete) and its secret token.
public struct ResumableUpload: Sendable, Equatable {
    /// The upload's ID.
    public let id: String
    /// The token that lets this client, and only it, resume the upload.
    public let token: String

    /// An upload as the drop named it.
    public init(id: String, token: String) {
        self.id = id
        self.token = token
    }
}

/// How a resumable send retries: after each failure that may pass (a lost connection, a busy
/// or full drop), it waits, doubling the wait from `firstDelay` up to `maxDelay`, at most
/// `attempts` times in a row; any durable progress starts the count again.
public struct ResumePolicy: Sendable {
    /// Retries in a row without progress before giving up.
    public var attempts: Int
    /// The first wait.
    public var firstDelay: Duration
    /// The longest wait.
    public var maxDelay: Duration

    /// The default: 8 retries, waiting 1 s, 2 s, 4 s … up to a minute.
    public init(attempts: Int = 8, firstDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(60)) {
        self.attempts = attempts
        self.firstDelay = firstDelay
        self.maxDelay = maxDelay
    }

    func delay(beforeAttempt attempt: Int) -> Duration {
        var delay = firstDelay
        for _ in 1..<max(attempt, 1) where delay < maxDelay { delay *= 2 }
        return min(delay, maxDelay)
    }
}

/// What a resumable send tells its user while it works.
public enum ResumeEvent: Sendable {
    /// The drop created the upload (a caller with a state file records it).
    case created(ResumableUpload)
    /// A failure that may pass: retrying after `delay`, attempt `attempt` of `attempts`.
    case retrying(reason: String, attempt: Int, attempts: Int, delay: Duration)
    /// The drop holds `offset` of `total` bytes durably; sending resumes there.
    case resuming(offset: UInt64, total: UInt64)
    /// The drop no longer has the upload (it expired): it starts over as a new one.
    case startingOver(reason: String)
}

extension DropClient {
    /// Sends the envelope `checkpoints` describe as a resumable upload, sealing `input` again
    /// from the last checkpoint before wherever the drop's durable offset stands after each
    /// failure; returns the receipt. With `upload`, it resumes that upload (from a state file);
    /// without, it creates one. `events` reports retries and resumption; `progress` the content
    /// bytes read.
    public func sendResumable(_ input: FileReader, checkpoints: SealingCheckpoints, upload known: ResumableUpload?,
                              policy: ResumePolicy = ResumePolicy(), events: (ResumeEvent) throws(SendFailure) -> Void,
                              progress: (UInt64) -> Void = { _ in }) throws(SendFailure) -> String {
        var upload = known
        var offset: UInt64?
        // The most the drop has held of this upload: growing past it counts as progress.
        var best: UInt64 = 0
        // Failures in a row without progress.
        var attempt = 0
        let total = checkpoints.sealedLength
        while true {
            do throws(SendFailure) {
                if upload == nil {
                    let created = try create(length: total)
                    try events(.created(created))
                    upload = created
                    offset = 0
                }
                if offset == nil {
                    let durable = try durableOffset(of: upload!)
                    if durable > best { best = durable; attempt = 0 }
                    if durable > 0 { try events(.resuming(offset: durable, total: total)) }
                    offset = durable
                }
                return try append(upload!, from: offset!, input: input, checkpoints: checkpoints, progress: progress)
            } catch {
                switch error.resumption {
                case .finished:
                    return upload!.id
                case .startOver(let reason):
                    try events(.startingOver(reason: reason))
                    upload = nil
                    offset = nil
                    best = 0
                    attempt += 1
                    if attempt > policy.attempts { throw error }
                case .retry(let reason):
                    attempt += 1
                    if attempt > policy.attempts { throw error }
                    let delay = policy.delay(beforeAttempt: attempt)
                    try events(.retrying(reason: reason, attempt: attempt, attempts: policy.attempts, delay: delay))
                    Thread.sleep(forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18)
                    offset = nil
                case .stop, .pause, .unsupported:
                    throw error
                }
            }
        }
    }

    /// `CREATE <length>` → `OK <id> <token>`.
    func create(length: UInt64) throws(SendFailure) -> ResumableUpload {
        let words = try exchange("SEALDROP/1 CREATE \(length)\n\n").split(separator: " ")
        guard words.count == 3, words[0] == "OK", Reply.isValidReceipt(String(words[1])), Reply.isValidReceipt(String(words[2])) else {
            throw .refused(words.joined(separator: " "))
        }
        return ResumableUpload(id: String(words[1]), token: String(words[2]))
    }

    /// `OFFSET` → `OK <offset>`: how much of the upload the drop holds durably.
    func durableOffset(of upload: ResumableUpload) throws(SendFailure) -> UInt64 {
        let line = try exchange("SEALDROP/1 OFFSET\nUpload: \(upload.id)\nToken: \(upload.token)\n\n")
        guard line.hasPrefix("OK "), let offset = UInt64(line.dropFirst(3)) else { throw .refused(line) }
        return offset
    }

    /// One request without a body; returns the reply line.
    private func exchange(_ request: String) throws(SendFailure) -> String {
        try connection(sending: request).finishAndReadLine()
    }

    /// `APPEND` of the envelope from `offset` to its end, sealed again from the checkpoint
    /// before `offset`: the plaintext is read from there, and the bytes before `offset` are
    /// sealed but not sent.
    func append(_ upload: ResumableUpload, from offset: UInt64, input: FileReader, checkpoints: SealingCheckpoints,
                progress: (UInt64) -> Void) throws(SendFailure) -> String {
        let total = checkpoints.sealedLength
        let point = checkpoints.resumePoint(at: offset)
        let writer = checkpoints.writer(at: point)
        do { try input.seek(to: point.contentOffset) } catch { throw .unreadable(error.message) }
        let connection = try DropConnection.open(to: address, via: route)
        var first = connection.buffer(capacity: 256 + checkpoints.prefix.count)
        first.writeString("SEALDROP/1 APPEND \(total - offset)\nUpload: \(upload.id)\nToken: \(upload.token)\nOffset: \(offset)\n\n")
        var skip = point.skip
        // Envelope bytes sent: never more than the rest of the envelope.
        var sent: UInt64 = 0
        if point.includesPrefix {
            let dropped = Int(min(skip, UInt64(checkpoints.prefix.count)))
            first.writeBytes(checkpoints.prefix[dropped...])
            skip -= UInt64(dropped)
            sent = UInt64(checkpoints.prefix.count - dropped)
        }
        try connection.send(first)
        guard try streamSealed(input, with: writer, over: connection, skip: skip, sent: sent, limit: total - offset, progress: progress)
            == total - offset else {
            connection.abort()
            throw .fileChanged
        }
        return try Self.receipt(in: connection.finishAndReadLine())
    }
}

/// What a resumable send does after a failure.
public enum Resumption: Sendable, Equatable {
    /// The drop already stored the upload: its ID is the receipt.
    case finished
    /// The drop no longer has it: create a new one.
    case startOver(String)
    /// It may pass: wait and ask the drop where it stands.
    case retry(String)
    /// It will not pass soon (the drop is full): stop, but the drop keeps the upload for a
    /// later run.
    case pause(String)
    /// The drop takes no resumable uploads (it answered `CREATE` with `unknown-verb`): send in
    /// one connection instead.
    case unsupported
    /// It will not pass by retrying.
    case stop

    /// Whether a later run may still resume the upload (with its state file).
    public var mayResumeLater: Bool {
        switch self {
        case .retry, .finished, .pause: true
        case .startOver, .unsupported, .stop: false
        }
    }
}

extension SendFailure {
    /// What a resumable send should do after this failure.
    public var resumption: Resumption {
        switch self {
        case .connectionLost, .timedOut, .dropUnreachable, .proxyFailed:
            return .retry("connection lost")
        case .proxyCouldNotReach(let reply) where reply != 0xF6:
            return .retry("Tor could not reach the drop")
        case .replyBeforeEnd(let line), .refused(let line):
            switch Self.code(of: line) {
            case .uploadFinished?: return .finished
            case .uploadExpired?, .unknownUpload?: return .startOver("the drop no longer has the upload (it expired, or made no progress for too long)")
            case .busy?: return .retry("the drop is busy")
            case .quota?, .diskFull?: return .pause("the drop is full")
            case .idleTimeout?, .headerTimeout?, .truncated?: return .retry("the drop gave up waiting for data")
            case .takenOver?, .offsetMismatch?: return .retry("another connection was still writing")
            case .serverError?: return .retry("the drop could not store data just now")
            case .unknownVerb?: return .unsupported
            default: return .stop
            }
        default:
            return .stop
        }
    }
}
