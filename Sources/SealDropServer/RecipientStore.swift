import NIOConcurrencyHelpers
public import Foundation
public import Logging
public import SealDropCrypto
import SealDropFormat
import SealDropKeys
#if canImport(Glibc)
import Glibc
#endif

/// One set of recipients, fixed once loaded: the public keys uploads are sealed to and the
/// document the protocol's `KEYS` verb serves.
public struct RecipientSet: Sendable, Equatable {
    /// The keys uploads are sealed to, in order (1 to 32).
    public let keys: [PublicKey]
    /// What `KEYS` serves: the signed list's bytes exactly as in its file, or, without a signed
    /// list, `Recipients.format(keys)`.
    public let document: [UInt8]
    /// The signed list's serial; nil without a signed list.
    public let serial: UInt64?
    /// When the signed list expires; nil without a signed list.
    public var expires: Date? = nil

    /// What to tell the operator when the signed list expires within
    /// ``SealDropKeys/SignedRecipients/warningPeriod`` of `now` (or has expired): sources'
    /// clients refuse an expired list. Nil when it does not.
    public func expiryWarning(at now: Date = Date()) -> String? {
        expires.flatMap { SignedRecipients.expiryWarning(expires: $0, at: now) }
    }

    /// Logs ``expiryWarning(at:)``, if any: a warning before the expiry, an error after it.
    public func logExpiry(_ logger: Logger, at now: Date = Date()) {
        guard let warning = expiryWarning(at: now), let expires else { return }
        if expires <= now { logger.error("\(warning)") } else { logger.warning("\(warning)") }
    }

    /// Log metadata naming the keys by ID (never the keys themselves), and the serial.
    public var logMetadata: Logger.Metadata {
        var metadata = RecipientStore.metadata(keys)
        if let serial { metadata["recipients.serial"] = "\(serial)" }
        return metadata
    }
}

/// The public keys uploads are sealed to, and where they come from: either keys given directly
/// (flags or the configuration's `recipients` list) combined with an optional recipients file,
/// or a recipients list signed by the newsroom's offline signing key, which is then the only
/// source. ``reload(logger:)`` re-reads the file (on SIGHUP); a file that fails to load, or a
/// signed list that does not verify or whose serial goes backwards, leaves the current set in
/// place.
///
/// Each upload takes ``current`` once, when its head arrives, and keeps that set to the end.
public final class RecipientStore: Sendable {
    /// Where the recipients come from.
    public enum Source: Sendable, Equatable {
        /// Keys given directly (never change), combined with those of a recipients file.
        case keys([PublicKey], file: String?)
        /// A signed recipients list, which must be signed by the pinned signing key.
        case signedList(file: String, signingKey: SigningPublicKey)
    }

    /// Where the recipients come from.
    public let source: Source
    /// How to load the source again.
    private let loader: Loader
    private let state: NIOLockedValueBox<State>
    /// Held for a whole reload, so that SIGHUP and the file check never load at the same time.
    private let reloading = NIOLockedValueBox(())

    private enum Loader {
        case keys(fixed: [PublicKey], file: String?)
        /// `record` is where the highest serial accepted is kept.
        case signedList(file: String, signingKey: SigningPublicKey, record: AcceptedSerialFile)
    }

    private struct State {
        var set: RecipientSet
        /// The file as it was when last read (loaded or refused).
        var stamp: FileStamp?
        /// The signed list in force.
        var accepted: AcceptedList?
    }

    /// Parses the direct keys, loads the file and checks the combined set (1 to 32 keys).
    ///
    /// - Throws: ``StartupError`` naming the bad key or line, with a hint.
    public convenience init(keyTexts: [String], filePath: String?) throws(StartupError) {
        try self.init(keys: Self.parseKeys(keyTexts), file: filePath)
    }

    /// Loads keys given directly, combined with those of the recipients file `file`.
    ///
    /// - Throws: ``StartupError`` naming the bad key or line, with a hint.
    public init(keys fixed: [PublicKey], file: String?) throws(StartupError) {
        source = .keys(fixed, file: file)
        let fileKeys = try file.map { path throws(StartupError) in try Self.loadFile(path) } ?? []
        loader = .keys(fixed: fixed, file: file)
        state = NIOLockedValueBox(State(set: try Self.plainSet(fixed, fileKeys), stamp: file.map(FileStamp.init(path:)), accepted: nil))
    }

    /// Loads a signed recipients list, checking its serial against `serialRecord` (kept in the
    /// open, locked spool): the list is refused if it is not signed by `signingKey`, was changed
    /// after signing, or has a lower serial than the one recorded (or the same serial and other
    /// contents); if its serial is higher, it is recorded before the list is used.
    ///
    /// - Throws: ``StartupError`` saying what is wrong, with a hint.
    public init(signedList file: String, signingKey: SigningPublicKey, serialRecord: AcceptedSerialFile) throws(StartupError) {
        source = .signedList(file: file, signingKey: signingKey)
        let (set, accepted) = try Self.acceptSignedList(file, signingKey: signingKey, after: try serialRecord.read(), recordIn: serialRecord)
        loader = .signedList(file: file, signingKey: signingKey, record: serialRecord)
        state = NIOLockedValueBox(State(set: set, stamp: FileStamp(path: file), accepted: accepted))
    }

    /// Where the recipients of `configuration` come from. A signed list is the only source
    /// when it is configured: `recipients` and `recipients-file` must then be empty, and
    /// `signing-key` is required (and useless without a signed list).
    ///
    /// - Throws: ``StartupError`` for a bad key, a secret key, or settings that conflict.
    public static func source(for configuration: DaemonConfiguration) throws(StartupError) -> Source {
        guard let signedFile = configuration.signedRecipients else {
            if configuration.signingKey != nil {
                throw StartupError(
                    "a signing key is pinned (--signing-key) but no signed recipients list is given: clients that pinned it could not verify the keys served",
                    hint: "add --signed-recipients FILE (the list keyholder sign-recipients writes), or remove --signing-key"
                )
            }
            return .keys(try parseKeys(configuration.recipients), file: configuration.recipientsFile)
        }
        guard configuration.recipients.isEmpty, configuration.recipientsFile == nil else {
            throw StartupError(
                "a signed recipients list is the only source of recipients: --recipient and --recipients-file cannot be combined with --signed-recipients",
                hint: "remove --recipient and --recipients-file (and recipients, recipients-file from the configuration file): the signed list names every key"
            )
        }
        guard let keyText = configuration.signingKey else {
            throw StartupError(
                "a signed recipients list needs the signing key it must be signed by (--signing-key)",
                hint: "pin the newsroom's signing key: --signing-key sealdropsign1... as keyholder prints it; compare its fingerprint with the one the newsroom publishes"
            )
        }
        return .signedList(file: signedFile, signingKey: try parseSigningKey(keyText))
    }

    /// The recipients now in force.
    public var current: [PublicKey] { state.withLockedValue { $0.set.keys } }

    /// The recipients now in force, with the document `KEYS` serves.
    public var currentSet: RecipientSet { state.withLockedValue { $0.set } }

    /// The file that is re-read on reload (the recipients file or the signed list), if any.
    public var watchedFile: String? { source.file }

    /// Re-reads the recipients file or the signed list. On success the new set replaces the
    /// old one for uploads that start from now on; on failure the old set stays, the refusal is
    /// logged, and the error is returned.
    @discardableResult
    public func reload(logger: Logger) -> StartupError? {
        reloading.withLockedValue { _ in reloadNow(logger: logger) }
    }

    /// Reloads if the watched file's identity, size, modification or change time differs from
    /// when it was last read (loaded or refused). Cheap: one `stat`. Returns the refusal, if any.
    @discardableResult
    public func reloadIfChanged(logger: Logger) -> StartupError? {
        reloading.withLockedValue { _ in
            guard let file = watchedFile, FileStamp(path: file) != state.withLockedValue({ $0.stamp }) else { return nil }
            logger.info("recipients file changed; reloading", metadata: ["recipients.file": "\(file)"])
            return reloadNow(logger: logger)
        }
    }

    private func reloadNow(logger: Logger) -> StartupError? {
        guard let file = watchedFile else {
            logger.info("recipients unchanged: no recipients file is configured", metadata: currentSet.logMetadata)
            return nil
        }
        let stamp = FileStamp(path: file)
        do {
            switch loader {
            case .keys(let fixed, _):
                let set = try Self.plainSet(fixed, try Self.loadFile(file))
                state.withLockedValue { $0 = State(set: set, stamp: stamp, accepted: nil) }
                logger.info("recipients reloaded", metadata: set.logMetadata)
            case .signedList(_, let signingKey, let record):
                let (set, accepted) = try Self.acceptSignedList(file, signingKey: signingKey, after: state.withLockedValue { $0.accepted },
                                                                recordIn: record)
                state.withLockedValue { $0 = State(set: set, stamp: stamp, accepted: accepted) }
                logger.info("recipients reloaded", metadata: set.logMetadata)
                set.logExpiry(logger)
            }
            return nil
        } catch {
            state.withLockedValue { $0.stamp = stamp }
            let what = source.isSigned ? "signed recipients list" : "recipients file"
            logger.error("\(what) refused; keeping the previous recipients", metadata: [
                "error": "\(error.message)", "recipients.file": "\(file)",
            ].merging(currentSet.logMetadata) { a, _ in a })
            return error
        }
    }

    /// Log metadata naming the keys by ID (never the keys themselves).
    public static func metadata(_ keys: [PublicKey]) -> Logger.Metadata {
        ["recipients.count": "\(keys.count)", "recipients.key_ids": "\(keys.map(\.keyID.description).joined(separator: ","))"]
    }

    // MARK: Keys and recipients files

    static func parseKeys(_ keyTexts: [String]) throws(StartupError) -> [PublicKey] {
        var fixed: [PublicKey] = []
        for (index, text) in keyTexts.enumerated() {
            let key: PublicKey
            do { key = try PublicKey(text: text) } catch {
                if error == .secretKeyGiven {
                    throw StartupError(
                        "a recipient is a secret key, not a public key: never give a secret key to the server",
                        hint: "pass the public key (the sealdrop1... line that keyholder keygen prints), and treat the exposed secret key as compromised"
                    )
                }
                throw StartupError("recipient \(index + 1) of \(keyTexts.count) is not usable: \(error)",
                                   hint: "pass a public key exactly as keyholder keygen printed it (sealdrop1...)")
            }
            if !fixed.contains(key) { fixed.append(key) }
        }
        return fixed
    }

    static func loadFile(_ path: String) throws(StartupError) -> [PublicKey] {
        let text = try readText(path, what: "recipients file", hint: "it holds one public key per line and # comments")
        if text.contains(KeyFile.magic) || text.contains(SigningKeyFile.magic) || text.contains(DropKeyFile.magic) {
            throw StartupError(
                "recipients file \(path) contains a secret key: never give a secret key to the server",
                hint: "put only public keys (sealdrop1... lines) in it, and treat the exposed secret key as compromised"
            )
        }
        if text.contains(signedListMagic) {
            throw StartupError("recipients file \(path) is a signed recipients list, not a list of keys",
                               hint: "give it with --signed-recipients, and pin the newsroom's signing key with --signing-key")
        }
        do {
            return try Recipients.parse(text)
        } catch {
            throw StartupError("recipients file \(path), \(error)",
                               hint: "one public key per line; lines starting with #, and # after a space or tab, are comments (the Configuration article has the whole syntax)")
        }
    }

    static func plainSet(_ fixed: [PublicKey], _ fromFile: [PublicKey]) throws(StartupError) -> RecipientSet {
        var all = fixed
        for key in fromFile where !all.contains(key) { all.append(key) }
        guard !all.isEmpty else {
            throw StartupError("no recipients: the daemon needs at least one public key to seal uploads to",
                               hint: "pass --recipient sealdrop1... or --recipients-file FILE (one public key per line)")
        }
        guard all.count <= Layout.maxRecipients else {
            throw StartupError("\(all.count) recipients; a submission can be sealed to at most \(Layout.maxRecipients)",
                               hint: "remove keys that are no longer in use")
        }
        return RecipientSet(keys: all, document: Array(Recipients.format(all).utf8), serial: nil)
    }

    // MARK: Signed lists

    /// The line that starts the signed part of a signed recipients list.
    static let signedListMagic = SignedRecipients.magic
    /// A signed list names at most 32 keys: a few KiB. Anything much larger is not one.
    static let signedListMaxBytes = 64 * 1024

    static func parseSigningKey(_ text: String) throws(StartupError) -> SigningPublicKey {
        do {
            return try SigningPublicKey(text: text)
        } catch {
            switch error {
            case .secretKeyGiven:
                throw StartupError(
                    "the signing key given is a secret key: the signing secret key stays offline with the keyholders, never on the server",
                    hint: "pass the signing public key (sealdropsign1...), and treat the exposed secret key as compromised"
                )
            case .typo:
                throw StartupError("the signing key's checksum does not match: it was mistyped or cut short",
                                   hint: "copy the signing public key (sealdropsign1...) exactly as keyholder printed it")
            case .notAPublicKey, .badKey:
                throw StartupError("the signing key is not a SealDrop signing public key (expected text starting with \"sealdropsign1\")",
                                   hint: "pass the newsroom's signing public key (sealdropsign1...), not a recipient key (sealdrop1...)")
            }
        }
    }

    /// Reads and verifies the signed list at `path`, checks its serial against `accepted`
    /// (the list in force, or recorded in the spool), and records it in `file` if its serial is
    /// higher, before it is used.
    static func acceptSignedList(_ path: String, signingKey: SigningPublicKey, after accepted: AcceptedList?,
                                 recordIn file: AcceptedSerialFile) throws(StartupError) -> (RecipientSet, AcceptedList) {
        let (list, bytes) = try loadSignedList(path, signingKey: signingKey)
        let offered = AcceptedList(list)
        if let accepted, let why = accepted.refusal(of: offered) {
            throw StartupError("signed recipients list \(path): \(why)",
                               hint: "an older list may be a replay; the newsroom signs each new list with a serial higher than \(accepted.serial) (keyholder sign-recipients)")
        }
        if offered.serial != accepted?.serial { try file.write(offered) }
        return (RecipientSet(keys: list.recipients, document: bytes, serial: list.serial, expires: list.expires), offered)
    }

    /// Reads the signed list at `path` and verifies it against the pinned signing key.
    static func loadSignedList(_ path: String, signingKey: SigningPublicKey) throws(StartupError) -> (SignedRecipients, [UInt8]) {
        let makeHint = "make it with keyholder sign-recipients and copy it unchanged; a plain list of keys goes in --recipients-file"
        let bytes = try readBytes(path, what: "signed recipients list", limit: signedListMaxBytes)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw StartupError("signed recipients list \(path) is not UTF-8 text", hint: makeHint)
        }
        if text.contains(KeyFile.magic) || text.contains(SigningKeyFile.magic) || text.contains(DropKeyFile.magic) {
            throw StartupError(
                "signed recipients list \(path) contains a secret key: the daemon serves this file to anyone who asks",
                hint: "never put a secret key next to the list; treat the exposed secret key as compromised"
            )
        }
        // The daemon serves the file as it is: before the signed part, only comments.
        if let start = text.range(of: signedListMagic) {
            let before = text[..<start.lowerBound].split(separator: "\n")
            if before.contains(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty && !$0.hasPrefix("#") }) {
                throw StartupError("signed recipients list \(path): only # comment lines may come before the \(signedListMagic) line",
                                   hint: makeHint)
            }
        }
        do {
            return (try SignedRecipients.parse(text, pinnedKey: signingKey), bytes)
        } catch {
            let hint = switch error {
            case .malformed: makeHint
            case .wrongSigner:
                "check --signing-key against the fingerprint the newsroom publishes; the list must be signed with that key (keyholder sign-recipients)"
            case .badSignature:
                "never edit a signed list by hand: change the recipients by signing a new list with a higher serial (keyholder sign-recipients)"
            case .serialWentBackwards:
                "the newsroom signs each new list with a higher serial (keyholder sign-recipients)"
            case .expired:
                "the newsroom signs a new list before the old one expires (keyholder sign-recipients)"
            }
            var why = error.description
            if case .wrongSigner(_, let found) = error {
                let other = (try? SigningPublicKey(text: found)).map { " (fingerprint \($0.fingerprint))" } ?? ""
                why = "signed by another key\(other), not by the pinned signing key (fingerprint \(signingKey.fingerprint))"
            }
            throw StartupError("signed recipients list \(path): \(why)", hint: hint)
        }
    }

    // MARK: Files

    private static func readText(_ path: String, what: String, hint: String) throws(StartupError) -> String {
        let data = try readBytes(path, what: what, limit: 1 << 20)
        guard let text = String(validating: data, as: UTF8.self) else {
            throw StartupError("\(what) \(path) is not UTF-8 text", hint: hint)
        }
        return text
    }

    /// The whole file, refused if it is larger than `limit` bytes.
    private static func readBytes(_ path: String, what: String, limit: Int) throws(StartupError) -> [UInt8] {
        let data: Data?
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            data = try handle.read(upToCount: limit + 1)
        } catch {
            throw StartupError("cannot read \(what) \(path): \(Self.reason(error))",
                               hint: "check the path and that the daemon's user may read it")
        }
        let bytes = [UInt8](data ?? Data())
        guard bytes.count <= limit else {
            throw StartupError("\(what) \(path) is larger than \(limit / 1024) KiB", hint: "check the path: this is not a \(what)")
        }
        return bytes
    }

    private static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if ns.domain == NSCocoaErrorDomain, ns.code == NSFileReadNoSuchFileError || ns.code == NSFileNoSuchFileError { return "no such file" }
        if ns.domain == NSCocoaErrorDomain, ns.code == NSFileReadNoPermissionError { return "permission denied" }
        return ns.localizedDescription
    }
}

extension RecipientStore.Source {
    /// The file re-read on reload, if any.
    var file: String? {
        switch self {
        case .keys(_, let file): file
        case .signedList(let file, _): file
        }
    }

    var isSigned: Bool {
        if case .signedList = self { true } else { false }
    }
}

/// What `stat` says about a file, to notice that it changed: which file the path names, its size,
/// and its modification and change times (nanoseconds); `missing` if `stat` failed.
struct FileStamp: Equatable, Sendable {
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let modified: Int64
    let changed: Int64
    let missing: Bool

    init(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            (device, inode, size, modified, changed, missing) = (0, 0, 0, 0, 0, true)
            return
        }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        #if os(Linux)
        modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        changed = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
        #else
        modified = Int64(info.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(info.st_mtimespec.tv_nsec)
        changed = Int64(info.st_ctimespec.tv_sec) * 1_000_000_000 + Int64(info.st_ctimespec.tv_nsec)
        #endif
        missing = false
    }
}
