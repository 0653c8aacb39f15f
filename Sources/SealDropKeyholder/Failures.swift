public import SealDropCLISupport
public import SealDropFormat
public import SealDropKeys

/// Why one submission failed. The run goes on with the others and exits 1.
public struct SubmissionFailure: Error, Sendable {
    /// The outcome class (never `success`).
    public let outcome: Outcome
    /// What failed, starting with the outcome's words (`payload failure: …`).
    public let message: String
    /// What to do about it.
    public let hint: String?

    /// A failure of class `outcome`; `message` starts with the outcome's words.
    public init(outcome: Outcome, message: String, hint: String?) {
        self.outcome = outcome
        self.message = message
        self.hint = hint
    }

    /// The failure as an error message about `file`.
    public func report(for file: SubmissionFile) -> CLIError {
        CLIError("\(file.path): \(message)", hint: hint)
    }
}

/// A failure of one submission, or of the whole run.
public enum KeyholderError: Error {
    /// This submission failed; go on with the next.
    case submission(SubmissionFailure)
    /// The run cannot go on (keys, output folder, writing): exit 2.
    case fatal(CLIError)
}

/// Wraps an error from writing output, so it is not mistaken for a damaged submission.
public struct OutputWriteError: Error {
    /// What went wrong.
    public let error: CLIError
    /// Wraps `error`.
    public init(_ error: CLIError) { self.error = error }
}

/// The one mapping from what can go wrong while a submission is read to what the keyholder
/// does about it: ``EnvelopeError`` by its ``Outcome``; an error reading the file (a
/// ``CLIError`` from the byte source) as a read error; an output failure, an unlock failure or
/// a refused recipient as fatal to the run.
public func classify(_ error: any Error) -> KeyholderError {
    switch error {
    case let error as OutputWriteError:
        return .fatal(error.error)
    case let error as EnvelopeError:
        return .submission(SubmissionFailure(outcome: error.outcome, message: error.description, hint: hint(for: error.outcome)))
    case let error as SealingError:
        return .fatal(CLIError(error.description, hint: "check the public keys given with --to"))
    case let error as KeyholderError:
        return error
    case let error as CLIError:
        return .submission(SubmissionFailure(outcome: .readError, message: "\(Outcome.readError.messagePrefix): \(error.message)",
                                             hint: error.hint ?? "check that the file can be read"))
    default:
        return .submission(SubmissionFailure(outcome: .readError, message: "\(Outcome.readError.messagePrefix): \(error)",
                                             hint: "check that the file can be read"))
    }
}

/// What a keyholder can do about a submission with this outcome.
private func hint(for outcome: Outcome) -> String? {
    switch outcome {
    case .payloadFailure: "the copy may be damaged: import it again from the server's inbox; if it stays broken, it was tampered with"
    case .headerFailure: "the file is not an intact SealDrop submission"
    case .badMetadata: "nothing was released: the software that sealed it does not follow the SealDrop format, or whoever sealed it crafted it so; keep the file and ask the sender how it was made"
    case .readError: "check that the file can be read"
    case .noMatch, .success: nil
    }
}

/// The distinct "no matching key" failure, naming the key IDs in the file and in the ring.
public func noMatch(_ fileKeyIDs: [KeyID], ring: Keyring) -> SubmissionFailure {
    let theirs = fileKeyIDs.map(\.description).joined(separator: ", ")
    let ours = ring.keyIDs.map(\.description).joined(separator: ", ")
    return SubmissionFailure(
        outcome: .noMatch,
        message: "no matching key: it is sealed to key ID \(theirs); none of your keys (key ID \(ours)) is among them",
        hint: "open it with the secret key of one of those key IDs (--key KEYFILE); a key rotated out of the keyring cannot open it"
    )
}

/// Runs format and I/O work that stands for one whole command (re-keying, importing one file),
/// turning any failure into a message with a hint, in the words ``classify(_:)`` gives it.
@discardableResult
func envelopeCall<T>(_ body: () throws -> T) throws(CLIError) -> T {
    do {
        return try body()
    } catch {
        switch classify(error) {
        case .submission(let failure): throw CLIError(failure.message, hint: failure.hint)
        case .fatal(let error): throw error
        }
    }
}
