import Foundation
import SealDropCLISupport
import SealDropClient
import SealDropCrypto
import SealDropFormat
import SealDropKeys

/// `--state FILE`: the file that lets a later run resume an upload (see ``SendState``). It is
/// written 0600 under a new name and renamed into place, and deleted once the upload has its
/// receipt.
struct StateFile {
    let path: String

    /// The state saved there, or nil if there is no file.
    func load() throws(CLIError) -> SendState? {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw CLIError("cannot read the state file \(path): \(errnoText())")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw CLIError("the state file \(path) is not a regular file", hint: "give --state the path of a file sealdrop wrote, or a new one")
        }
        var bytes = try readSmallFile(path, limit: 1 << 20)
        if info.st_mode & 0o077 != 0 {
            diagnostics.warn("the state file \(path) can be read by other users of this computer (mode \(String(info.st_mode & 0o777, radix: 8)))")
        }
        return try SendState.parse(&bytes)
    }

    /// Writes `state`, replacing what was there.
    func save(_ state: SendState) throws(CLIError) {
        let scratch = "\(parentFolder(of: path))/.\((path as NSString).lastPathComponent).\(Hex.encode(randomBytes(count: 6)))"
        let fd = open(scratch, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw CLIError("cannot write the state file \(path): \(errnoText())", hint: "give --state a path in a folder you can write to (on Tails, one in memory such as /tmp)")
        }
        do throws(CLIError) {
            try state.write(to: fd)
            guard fsync(fd) == 0 else { throw CLIError("cannot write the state file \(path): \(errnoText())") }
        } catch {
            close(fd)
            unlink(scratch)
            throw error
        }
        close(fd)
        guard rename(scratch, path) == 0 else {
            let text = errnoText()
            unlink(scratch)
            throw CLIError("cannot write the state file \(path): \(text)")
        }
    }

    /// Deletes it (the upload has its receipt: the file is only evidence now).
    func remove() {
        unlink(path)
    }
}

extension Send {
    /// Sends one file as a resumable upload: sealed here with checkpoints kept, resumed after
    /// each failure that may pass; with a state file, resumed across runs. Returns the receipt.
    func sendResumably(_ input: SendInput, metadata: Metadata, recipients: [PublicKey], client: DropClient,
                       stateFile: StateFile?, bar: ProgressBar) throws(SendFailure) -> String {
        let checkpoints: SealingCheckpoints
        var state: SendState?
        if let stateFile, let saved = try local({ () throws(CLIError) in try stateFile.load() }) {
            try local { () throws(CLIError) in try checkSaved(saved, against: input, stateFile: stateFile) }
            diagnostics.note("resuming the upload recorded in \(stateFile.path) (its name, time and message are those of the first run)")
            checkpoints = saved.checkpoints
            state = saved
        } else {
            let fileKey = FileKey()
            let writer: EnvelopeWriter
            do { writer = try EnvelopeWriter(recipients: recipients, metadata: metadata, fileKey: fileKey, keepingCheckpoints: true) } catch {
                throw .unreadable("cannot seal \(input.displayName): \(error.description)")
            }
            checkpoints = writer.checkpoints!
            if let stateFile {
                let fresh = try local { () throws(CLIError) in
                    let check = try SendState.contentCheck(of: input.reader, fileKey: fileKey)
                    let fresh = SendState(drop: address, fileSize: input.size, contentCheck: check, fileKey: fileKey, checkpoints: checkpoints)
                    try stateFile.save(fresh)
                    return fresh
                }
                state = fresh
            }
        }
        do throws(SendFailure) {
            let receipt = try client.sendResumable(input.reader, checkpoints: checkpoints, upload: state?.upload, events: { event throws(SendFailure) in
                bar.finish()
                switch event {
                case .created(let upload):
                    guard let stateFile, let state else { return }
                    state.upload = upload
                    try local { () throws(CLIError) in try stateFile.save(state) }
                case .retrying(let reason, let attempt, let attempts, let delay):
                    diagnostics.note("\(reason); resuming in \(delay.components.seconds) s (attempt \(attempt) of \(attempts))")
                case .resuming(let offset, let total):
                    diagnostics.note("resuming from \(formatByteCount(offset)) of \(formatByteCount(total)) (\(offset) bytes), which the drop holds")
                case .startingOver(let reason):
                    diagnostics.note("\(reason): starting the upload over")
                }
            }, progress: { bar.update($0) })
            if let stateFile {
                stateFile.remove()
                diagnostics.note("the upload is complete: deleted the state file \(stateFile.path)")
            }
            return receipt
        } catch {
            guard let stateFile, error.resumption.mayResumeLater else { throw error }
            let explained = error.explained
            throw .local(CLIError(explained.message, hint: "run the same command again, with --state \(stateFile.path), to resume where the drop stopped"))
        }
    }

    /// Refuses a state file for another drop, or a file that is no longer the one it began.
    private func checkSaved(_ saved: SendState, against input: SendInput, stateFile: StateFile) throws(CLIError) {
        guard saved.drop == address else {
            throw CLIError("the state file \(stateFile.path) is for another drop address",
                           hint: "use the same drop address as the first run, or another --state file")
        }
        let fresh = "delete the state file (it shows that this computer sent something) to send the file as a new upload"
        guard saved.fileSize == input.size, constantTimeEqual(try SendState.contentCheck(of: input.reader, fileKey: saved.fileKey), saved.contentCheck) else {
            throw CLIError("\(input.displayName) is not the file this upload began with: it changed since (or is another file)", hint: fresh)
        }
    }
}

/// Runs `body`, a step on this computer whose failure is already in plain words.
private func local<T>(_ body: () throws(CLIError) -> T) throws(SendFailure) -> T {
    do { return try body() } catch { throw .local(error) }
}
