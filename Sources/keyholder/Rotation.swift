import ArgumentParser
import Foundation
import SealDropCLISupport
import SealDropCrypto
import SealDropFormat
import SealDropKeys

/// The keyring's files: `<key ID>.key` for a current key, `<key ID>.retired.key` for a retired
/// one, kept to read old submissions. Both kinds are loaded to decrypt; only current keys
/// belong in the recipients list.
enum KeyringFolder {
    static let retiredSuffix = ".retired.key"

    /// Creates the keyring folder (0700) if it is missing.
    static func ensure(_ folder: String) throws(CLIError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw CLIError("\(escapeForDisplay(folder)) is not a folder", hint: "--keyring takes a folder") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw CLIError("cannot create the keyring folder \(escapeForDisplay(folder))", hint: "check its parent folder")
        }
    }

    /// The keyring's key files with their public parts: (path, key file, retired?).
    static func keys(in folder: String) throws(CLIError) -> [(path: String, file: KeyFile, retired: Bool)] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { !$0.hasPrefix(".") && $0.hasSuffix(".key") }.sorted()
        var keys: [(path: String, file: KeyFile, retired: Bool)] = []
        for name in names {
            let path = (folder as NSString).appendingPathComponent(name)
            let text = try? String(contentsOfFile: path, encoding: .utf8)
            if text?.contains(SigningKeyFile.magic) == true { continue }
            keys.append((path, try SecretKeyFiles.read(path), name.hasSuffix(retiredSuffix)))
        }
        return keys
    }
}

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the keyring's keys: key ID, status (current or retired) and fingerprint."
    )

    @Option(help: ArgumentHelp("The keyring folder (default ~/.sealdrop/keys).", valueName: "dir"))
    var keyring: String?

    func run() throws {
        try reportingErrors { () throws(CLIError) in
            let folder = keyring ?? KeyRing.defaultFolder
            let keys = try KeyringFolder.keys(in: folder)
            guard !keys.isEmpty else { throw CLIError("no keys in \(escapeForDisplay(folder))", hint: "keyholder rotate --keyring DIR makes the first one") }
            for key in keys {
                print("\(key.file.publicKey.keyID)  \(key.retired ? "retired" : "current")  \(key.file.publicKey.fingerprint)  \(escapeForDisplay(key.path))")
            }
        }
    }
}

struct Rotate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a new current key in the keyring and retire the previous ones (kept to read old submissions).",
        discussion: """
        Prints the new public key and the exact line for the daemon's recipients file. Retired \
        keys stay in the keyring as <key ID>.retired.key; re-wrap old submissions for the new key \
        with keyholder rekey, then remove a retired key with keyholder retire --destroy.
        """
    )

    @Option(help: ArgumentHelp("The keyring folder (default ~/.sealdrop/keys); created if missing.", valueName: "dir"))
    var keyring: String?

    @Option(help: ArgumentHelp("Read the new key's passphrase from the first line of this file instead of asking twice.", valueName: "file"))
    var passphraseFile: String?

    func run() throws {
        try reportingErrors { () throws(CLIError) in
            let folder = keyring ?? KeyRing.defaultFolder
            try KeyringFolder.ensure(folder)
            let previous = try KeyringFolder.keys(in: folder).filter { !$0.retired }
            let passphrase = if let passphraseFile {
                try PassphraseInput.fromFile(passphraseFile)
            } else {
                try PassphraseInput.fromTerminal(prompt: "Passphrase for the new key: ", confirm: true)
            }
            let key = SecretKey.generate()
            let file: KeyFile
            do { file = try KeyFile.protect(key, passphrase: passphrase) } catch {
                throw CLIError("could not derive a key from the passphrase (Argon2id needs 256 MiB of memory)", hint: "free some memory and try again")
            }
            let path = (folder as NSString).appendingPathComponent("\(key.publicKey.keyID).key")
            try SecretKeyFiles.create(path, contents: file.text)
            for old in previous {
                let retired = (folder as NSString).appendingPathComponent("\(old.file.publicKey.keyID)\(KeyringFolder.retiredSuffix)")
                guard rename(old.path, retired) == 0 else {
                    throw CLIError("cannot mark \(escapeForDisplay(old.path)) retired: \(errnoText())", hint: "rename it to \(escapeForDisplay(retired)) by hand")
                }
                diagnostics.note("retired key ID \(old.file.publicKey.keyID) (kept as \(escapeForDisplay(retired)) to read old submissions)")
            }
            syncParentFolder(of: path)
            print("# new key ID: \(key.publicKey.keyID)")
            print("# fingerprint: \(key.publicKey.fingerprint)")
            print("# secret key: \(escapeForDisplay(path))")
            if !previous.isEmpty {
                print("# in the daemon's recipients file, replace the line of key ID \(previous.map { $0.file.publicKey.keyID.description }.joined(separator: ", ")) with:")
            } else {
                print("# add this line to the daemon's recipients file:")
            }
            print(key.publicKey.text)
        }
    }
}

struct Rekey: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-wrap old submissions' file keys for new recipients, in place.",
        discussion: """
        Only the header changes: the file key is opened with your key and sealed to every --to \
        key; the payload is copied untouched. Each submission is first authenticated in full; the \
        new file is written beside it, its header verified, and it replaces the original \
        atomically (rename), so a failure leaves the original as it was. --full re-encrypts the \
        payload under a fresh file key instead, for a file key that may have leaked.
        """
    )

    @OptionGroup var keys: KeyOptions
    @OptionGroup var inboxes: InboxOptions

    @Option(name: .customLong("to"), help: ArgumentHelp("A new recipient's public key (sealdrop1…); repeat for several.", valueName: "pubkey"))
    var recipients: [String] = []

    @Flag(help: "Re-encrypt the payload under a fresh file key instead of re-wrapping the old one.")
    var full = false

    @Argument(help: ArgumentHelp("Submission files, inbox folders, spool roots or submission IDs.", valueName: "path"))
    var paths: [String] = []

    func validate() throws {
        guard !recipients.isEmpty else { throw ValidationError("give at least one --to PUBKEY") }
        guard !paths.isEmpty else { throw ValidationError("name the submissions to re-key") }
    }

    func run() throws {
        var failures = 0
        try reportingErrors { () throws(CLIError) in
            var newRecipients: [PublicKey] = []
            for text in recipients {
                do { newRecipients.append(try PublicKey(text: text)) } catch {
                    throw CLIError("--to \(escapeForDisplay(String(text.prefix(80)))): \(error)", hint: "copy the new public key again, exactly")
                }
            }
            let ring = try keys.makeKeyRing()
            for file in try Locator.resolve(paths, inboxes: inboxes) {
                do throws(CLIError) {
                    try rekey(file.path, to: newRecipients, ring: ring)
                    print("\(escapeForDisplay(file.path)): re-keyed to key ID \(newRecipients.map { $0.keyID.description }.joined(separator: ", "))\(full ? " (payload re-encrypted)" : "")")
                } catch {
                    failures += 1
                    diagnostics.report(CLIError("\(escapeForDisplay(file.path)): \(error.message); the original is unchanged", hint: error.hint))
                }
            }
        }
        if failures > 0 { throw ExitStatus.submissionFailed }
    }

    /// Re-keys one submission through a temporary file in its folder.
    private func rekey(_ path: String, to recipients: [PublicKey], ring: KeyRing) throws(CLIError) {
        let folder = try OutputFolder(path: parentFolder(of: path))
        let original = try FileReader(path: path)
        var source = original
        let header = try envelopeCall { try EnvelopeReader<FileReader>.readHeader(from: &source) }
        let keys = try ring.secretKeys(for: header.keyIDs)
        guard !keys.isEmpty else {
            throw CLIError(EnvelopeError.noMatchingKey(header.keyIDs).description, hint: "re-key with a key the submission is sealed to")
        }
        // Authenticate every byte before anything is written.
        let reader = try envelopeCall { try EnvelopeReader(header: header, remaining: source, keys: keys) }
        let (temporary, fd) = try PartialFileGuard.createGuarded(in: folder)
        defer { PartialFileGuard.disarm() }
        do throws(CLIError) {
            if full {
                try reencrypt(reader, to: recipients, into: fd)
            } else {
                try envelopeCall { try reader.readAll { _ in } }
                try rewrap(path, header: header, keys: keys, to: recipients, into: fd)
            }
            guard fsync(fd) == 0 else { throw CLIError("cannot sync the re-keyed file: \(errnoText())") }
            close(fd)
            try verifyHeader(folder: folder, temporary: temporary, recipients: recipients)
            guard renameat(folder.fd, temporary, folder.fd, (path as NSString).lastPathComponent) == 0 else {
                throw CLIError("cannot replace the original: \(errnoText())")
            }
            fsync(folder.fd)
        } catch {
            close(fd)
            folder.remove(temporary)
            throw error
        }
    }

    /// Writes a new header and copies the original's payload (from its stream header on) byte for byte.
    private func rewrap(_ path: String, header: EnvelopeHeader, keys: [SecretKey], to recipients: [PublicKey], into fd: Int32) throws(CLIError) {
        var copy = try FileReader(path: path)
        var skip = [UInt8](repeating: 0, count: header.bytes.count)
        var streamHeader = [UInt8](repeating: 0, count: Layout.streamHeaderByteCount)
        try envelopeCall {
            guard try skip.withUnsafeMutableBytes({ try copy.readFully(into: $0) }) == skip.count,
                  try streamHeader.withUnsafeMutableBytes({ try copy.readFully(into: $0) }) == streamHeader.count else {
                throw EnvelopeError.truncated
            }
        }
        let newHeader = try envelopeCall { try header.rewrapped(streamHeader: streamHeader, keys: keys, to: recipients) }
        try writeAll(fd, newHeader.bytes + streamHeader)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = try envelopeCall { try buffer.withUnsafeMutableBytes { try copy.read(into: $0) } }
            if n == 0 { break }
            try writeAll(fd, Array(buffer[0..<n]))
        }
    }

    /// Decrypts and seals again under a fresh file key, keeping the metadata.
    private func reencrypt(_ reader: EnvelopeReader<FileReader>, to recipients: [PublicKey], into fd: Int32) throws(CLIError) {
        let writer = try envelopeCall { try EnvelopeWriter(recipients: recipients, metadata: reader.metadata) }
        try writeAll(fd, writer.prefix)
        try envelopeCall {
            try reader.readAll { content in try writer.append(content) { sealed in try writeAll(fd, sealed) } }
            try writer.finish { sealed in try writeAll(fd, sealed) }
        }
    }

    /// Re-reads the new file's header: well formed and sealed to exactly the new recipients.
    private func verifyHeader(folder: OutputFolder, temporary: String, recipients: [PublicKey]) throws(CLIError) {
        var written = try FileReader(path: (folder.path as NSString).appendingPathComponent(temporary))
        let header = try envelopeCall { try EnvelopeReader<FileReader>.readHeader(from: &written) }
        guard header.keyIDs == recipients.map(\.keyID) else { throw CLIError("the re-keyed header does not name the new recipients") }
        if let size = written.regularFileSize() {
            guard Layout.isPossibleTotalLength(size, recipients: recipients.count, metadataLength: header.metadataLength) else {
                throw CLIError("the re-keyed file has an impossible length")
            }
        }
    }
}

struct Retire: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove a retired key from the keyring, once no submission needs it.",
        discussion: """
        Refuses while any submission in the given folders is still sealed to the key (re-key them \
        first with keyholder rekey), and refuses a current key (rotate first). The key file is \
        overwritten with zeros, synced and removed. On SSDs and copy-on-write file systems the old \
        blocks may survive: keep keyrings on encrypted storage.
        """
    )

    @Option(help: ArgumentHelp("The key ID to remove (16 hex digits).", valueName: "keyid"))
    var destroy: String

    @Option(help: ArgumentHelp("The keyring folder (default ~/.sealdrop/keys).", valueName: "dir"))
    var keyring: String?

    @OptionGroup var inboxes: InboxOptions

    @Argument(help: ArgumentHelp("Inbox folders (or files) whose submissions must no longer need the key.", valueName: "path"))
    var paths: [String] = []

    func validate() throws {
        guard KeyID(hex: destroy) != nil else { throw ValidationError("--destroy takes a key ID: 16 hex digits") }
        guard !paths.isEmpty else { throw ValidationError("name the inbox folders to check; a key is removed only when none of their submissions needs it") }
    }

    func run() throws {
        try reportingErrors { () throws(CLIError) in
            let keyID = KeyID(hex: destroy)!
            let folder = keyring ?? KeyRing.defaultFolder
            guard let key = try KeyringFolder.keys(in: folder).first(where: { $0.file.publicKey.keyID == keyID }) else {
                throw CLIError("no key with ID \(keyID) in \(escapeForDisplay(folder))", hint: "keyholder keys lists the keyring")
            }
            guard key.retired else {
                throw CLIError("key ID \(keyID) is current, not retired", hint: "run keyholder rotate first, then re-key old submissions")
            }
            var needing: [String] = []
            for file in try Locator.resolve(paths, inboxes: inboxes) {
                var source = try FileReader(path: file.path)
                let header = try envelopeCall { try EnvelopeReader<FileReader>.readHeader(from: &source) }
                if header.keyIDs.contains(keyID) { needing.append(file.path) }
            }
            guard needing.isEmpty else {
                throw CLIError("\(needing.count) submission(s) still need key ID \(keyID), e.g. \(escapeForDisplay(needing[0]))",
                               hint: "re-key them first: keyholder rekey --to NEWKEY \(escapeForDisplay(needing[0]))")
            }
            try overwriteAndRemove(key.path)
            print("destroyed key ID \(keyID) (\(escapeForDisplay(key.path)))")
        }
    }

    private func overwriteAndRemove(_ path: String) throws(CLIError) {
        let fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError("cannot open \(escapeForDisplay(path)): \(errnoText())") }
        var info = stat()
        fstat(fd, &info)
        try writeAll(fd, [UInt8](repeating: 0, count: Int(info.st_size)))
        fsync(fd)
        close(fd)
        guard unlink(path) == 0 else { throw CLIError("cannot remove \(escapeForDisplay(path)): \(errnoText())") }
        syncParentFolder(of: path)
    }
}

struct SignRecipients: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign-recipients",
        abstract: "Sign the recipients list with the newsroom's offline signing key.",
        discussion: """
        Writes a signed list (recipients, a serial number and the date) for the daemon's \
        --signed-recipients. The daemon serves it unchanged to clients, which check it against \
        the signing key they pinned, and refuses a list whose serial goes backwards. --serial \
        must grow with every list; --previous LIST takes the previous list's serial plus one.
        """
    )

    @Option(help: ArgumentHelp("The signing key file (keyholder keygen --signing).", valueName: "file"))
    var signingKey: String

    @Option(help: ArgumentHelp("Read the signing key's passphrase from the first line of this file.", valueName: "file"))
    var passphraseFile: String?

    @Option(help: ArgumentHelp("The list's serial number.", valueName: "n"))
    var serial: UInt64?

    @Option(help: ArgumentHelp("The list now in force; the new serial is its serial plus one.", valueName: "list"))
    var previous: String?

    @Option(help: ArgumentHelp("A recipients file (one public key per line) instead of keys as arguments.", valueName: "file"))
    var recipientsFile: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the signed list (never overwritten).", valueName: "file"))
    var output: String

    @Argument(help: ArgumentHelp("The recipients' public keys (sealdrop1…).", valueName: "pubkey"))
    var recipients: [String] = []

    func validate() throws {
        guard (serial == nil) != (previous == nil) else { throw ValidationError("give exactly one of --serial N and --previous LIST") }
        guard !recipients.isEmpty || recipientsFile != nil else { throw ValidationError("give the recipients' public keys, or --recipients-file") }
    }

    func run() throws {
        try reportingErrors { () throws(CLIError) in
            var keys: [PublicKey] = []
            for text in recipients {
                do { keys.append(try PublicKey(text: text)) } catch { throw CLIError("\(escapeForDisplay(String(text.prefix(80)))): \(error)", hint: "copy the public key again, exactly") }
            }
            if let recipientsFile {
                do { keys += try Recipients.parse(String(decoding: try readSmallFile(recipientsFile), as: UTF8.self)) } catch let error as CLIError {
                    throw error
                } catch {
                    throw CLIError("\(escapeForDisplay(recipientsFile)): \(error)", hint: "one public key (sealdrop1…) per line")
                }
            }
            let file = try SecretKeyFiles.readSigning(signingKey)
            var number = serial ?? 0
            if let previous {
                let text = String(decoding: try readSmallFile(previous), as: UTF8.self)
                do { number = try SignedRecipients.parse(text, pinnedKey: file.publicKey).serial + 1 } catch {
                    throw CLIError("\(escapeForDisplay(previous)): \(error)", hint: "give the list now in force, signed by this signing key")
                }
            }
            let passphrase = if let passphraseFile {
                try PassphraseInput.fromFile(passphraseFile)
            } else {
                try PassphraseInput.fromTerminal(prompt: "Passphrase for the signing key: ")
            }
            let key = try SecretKeyFiles.unlockSigning(file, path: signingKey, passphrase: passphrase)
            var unique: [PublicKey] = []
            for key in keys where !unique.contains(key) { unique.append(key) }
            let list: SignedRecipients
            do { list = try SignedRecipients.sign(recipients: unique, serial: number, with: key) } catch {
                throw CLIError("cannot sign: \(error)", hint: "give 1 to 32 recipients")
            }
            let fd = open(output, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw CLIError("cannot create \(escapeForDisplay(output)): \(errnoText())", hint: "the signed list is never written over an existing file; choose a new name")
            }
            defer { close(fd) }
            try writeAll(fd, Array(list.text.utf8))
            fsync(fd)
            print("# signed recipients list, serial \(number), \(unique.count) recipient(s): key ID \(unique.map { $0.keyID.description }.joined(separator: ", "))")
            print("# signing key fingerprint: \(key.publicKey.fingerprint)")
            print(escapeForDisplay(output))
        }
    }
}

/// Runs format and I/O work for the rotation commands, turning any failure into a message with
/// a hint (the same wording `decrypt` and `verify` use).
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
