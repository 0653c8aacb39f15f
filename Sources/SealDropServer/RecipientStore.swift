import Foundation
public import Logging
public import SealDropCrypto
import SealDropFormat
import SealDropKeys
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The public keys uploads are sealed to: those given directly (flags or the configuration's
/// `recipients` list), combined with those in an optional recipients file. ``reload(logger:)``
/// re-reads the file (on SIGHUP); a file that fails to load leaves the current set in place.
///
/// Each upload takes ``current`` once, when its head arrives, and keeps that set to the end.
public final class RecipientStore: Sendable {
    /// Keys given directly; never change.
    public let fixedKeys: [PublicKey]
    /// The recipients file, if any.
    public let filePath: String?
    private let keys: Mutex<[PublicKey]>

    /// Parses the direct keys, loads the file and checks the combined set (1 to 32 keys).
    ///
    /// - Throws: ``StartupError`` naming the bad key or line, with a hint.
    public init(keyTexts: [String], filePath: String?) throws(StartupError) {
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
        fixedKeys = fixed
        self.filePath = filePath
        let fileKeys = try filePath.map { path throws(StartupError) in try Self.loadFile(path) } ?? []
        let combined = try Self.combine(fixed, fileKeys)
        keys = Mutex(combined)
    }

    /// The recipients now in force.
    public var current: [PublicKey] { keys.withLock { $0 } }

    /// Re-reads the recipients file. On success the new set replaces the old one for uploads
    /// that start from now on; on failure the old set stays and the error is returned.
    @discardableResult
    public func reload(logger: Logger) -> StartupError? {
        guard let filePath else {
            logger.info("recipients unchanged: no recipients file is configured", metadata: Self.metadata(current))
            return nil
        }
        do {
            let combined = try Self.combine(fixedKeys, try Self.loadFile(filePath))
            keys.withLock { $0 = combined }
            logger.info("recipients reloaded", metadata: Self.metadata(combined))
            return nil
        } catch {
            logger.error("recipients file refused; keeping the previous recipients", metadata: [
                "error": "\(error.message)", "recipients.file": "\(filePath)",
            ].merging(Self.metadata(current)) { a, _ in a })
            return error
        }
    }

    /// Log metadata naming the keys by ID (never the keys themselves).
    public static func metadata(_ keys: [PublicKey]) -> Logger.Metadata {
        ["recipients.count": "\(keys.count)", "recipients.key_ids": "\(keys.map(\.keyID.description).joined(separator: ","))"]
    }

    static func loadFile(_ path: String) throws(StartupError) -> [PublicKey] {
        let text: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let decoded = String(data: data, encoding: .utf8) else {
                throw StartupError("recipients file \(path) is not UTF-8 text", hint: "it holds one public key per line and # comments")
            }
            text = decoded
        } catch let error as StartupError {
            throw error
        } catch {
            throw StartupError("cannot read recipients file \(path): \(Self.reason(error))",
                               hint: "check the path and that the daemon's user may read it")
        }
        if text.contains(KeyFile.magic) {
            throw StartupError(
                "recipients file \(path) contains a secret key: never give a secret key to the server",
                hint: "put only public keys (sealdrop1... lines) in it, and treat the exposed secret key as compromised"
            )
        }
        do {
            return try Recipients.parse(text)
        } catch {
            throw StartupError("recipients file \(path), \(error)", hint: "one public key per line; lines starting with # are comments")
        }
    }

    static func combine(_ fixed: [PublicKey], _ fromFile: [PublicKey]) throws(StartupError) -> [PublicKey] {
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
        return all
    }

    private static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSCocoaErrorDomain, ns.code == NSFileReadNoSuchFileError { return "no such file" }
        if ns.domain == NSCocoaErrorDomain, ns.code == NSFileReadNoPermissionError { return "permission denied" }
        return ns.localizedDescription
    }
}

/// Why the daemon refuses to start: what is wrong and what to do about it. `sealdropd` prints
/// them as `sealdropd: error: <message>` and `sealdropd: hint: <hint>`.
public struct StartupError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public let message: String
    /// What to do about it.
    public let hint: String

    /// Creates an error.
    public init(_ message: String, hint: String) {
        self.message = message
        self.hint = hint
    }

    public var description: String { message }
}
