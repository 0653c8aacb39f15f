public import Foundation
public import SealDropCLISupport
public import SealDropCrypto
public import SealDropKeys

/// The keyholder's secret keys: those named with `--key`, or else every key file in the keyring
/// folder (`~/.sealdrop/keys`). Key files are checked and parsed up front (owner, mode, public
/// part: no passphrase needed); a key is unlocked the first time a submission needs it, once
/// per run (or once per ``KeySession`` in `keyholder shell`).
///
/// The folder holds `NAME.key` for a current key and `NAME.KEYID.retired.key` for a retired
/// one (`KEYID.retired.key` from earlier versions), kept to read old submissions; both kinds
/// are loaded to decrypt, and only current keys belong in the recipients list.
/// `retirements.jsonl` records when each key was retired and destroyed.
public final class Keyring {
    /// One key file of the keyring.
    public struct Key: Sendable {
        /// Its path.
        public let path: String
        /// The parsed file (public part).
        public let file: KeyFile
        /// Whether it is a retired key (its file name ends in `.retired.key`).
        public let retired: Bool
        /// The name it was given (`alice` for `alice.key` and `alice.KEYID.retired.key`).
        public let name: String
    }

    /// The ending of a retired key's file name.
    public static let retiredSuffix = ".retired.key"
    /// Passphrase attempts on the terminal before giving up on a key.
    public static let terminalAttempts = 3

    /// The keys, in the order given (or by file name).
    public let keys: [Key]
    /// The drop keys pinned in the keyring folder (``TrustedDrops``), whose provenance records
    /// are believed.
    public let trustedDrops: [DropPublicKey]
    private var unlocked: [Int: SecretKey] = [:]
    private let passphraseFile: String?
    private var filePassphrase: SecureBytes?
    private let notes: (String) -> Void

    /// The default keyring folder: `~/.sealdrop/keys` (`~` is `$HOME`, as in a shell).
    public static var defaultFolder: String {
        (homeFolder as NSString).appendingPathComponent(".sealdrop/keys")
    }

    /// `$HOME`, or the user database's home folder.
    public static var homeFolder: String {
        ProcessInfo.processInfo.environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
    }

    /// Loads the keys in `keyPaths`, or when there are none every key of `folder` (default
    /// ``defaultFolder``). Passphrases come from the first line of `passphraseFile`, else the
    /// terminal; `notes` receives what a person should hear while keys unlock.
    public init(keyPaths: [String], folder: String?, passphraseFile: String?,
                notes: @escaping (String) -> Void = { _ in }) throws(CLIError) {
        self.passphraseFile = passphraseFile
        self.notes = notes
        trustedDrops = try TrustedDrops.load(folder: folder ?? Self.defaultFolder)
        var keys: [Key] = []
        if keyPaths.isEmpty {
            keys = try Self.keys(in: folder ?? Self.defaultFolder)
            guard !keys.isEmpty else {
                throw CLIError("no keys: the keyring folder \(folder ?? Self.defaultFolder) holds no *.key files",
                               hint: "pass --key KEYFILE, or put your key files there (keyholder keygen --output ~/.sealdrop/keys/NAME.key)")
            }
        } else {
            for path in keyPaths {
                let file = try SecretKeyFiles.read(path)
                let base = (path as NSString).lastPathComponent
                keys.append(Key(path: path, file: file, retired: base.hasSuffix(Self.retiredSuffix), name: Self.name(of: base)))
            }
        }
        var unique: [Key] = []
        // The same key under two names is one key.
        for key in keys where !unique.contains(where: { $0.file.publicKey == key.file.publicKey }) { unique.append(key) }
        self.keys = unique
    }

    /// The key IDs of every key in the ring.
    public var keyIDs: [KeyID] { keys.map(\.file.publicKey.keyID) }

    /// Whether the ring holds a key with this ID.
    public func holds(_ keyID: KeyID) -> Bool { keyIDs.contains(keyID) }

    /// A key able to open a submission sealed to `wanted`, unlocking it if none is unlocked
    /// yet (the first matching key, in the order the keys were given). Empty when the ring
    /// holds none of them. Unlock failures (wrong passphrase, no terminal) are thrown: the run
    /// cannot go on without the key.
    public func secretKeys(for wanted: [KeyID]) throws(CLIError) -> [SecretKey] {
        let matching = keys.indices.filter { wanted.contains(keys[$0].file.publicKey.keyID) }
        if let ready = matching.first(where: { unlocked[$0] != nil }) { return [unlocked[ready]!] }
        guard let first = matching.first else { return [] }
        return [try unlock(first)]
    }

    private func unlock(_ index: Int) throws(CLIError) -> SecretKey {
        let key = keys[index]
        if let cached = KeySession.current?.key(for: key.file.publicKey) {
            unlocked[index] = cached
            return cached
        }
        let keyID = key.file.publicKey.keyID
        var lastError: CLIError?
        if let passphraseFile {
            if filePassphrase == nil { filePassphrase = try PassphraseInput.fromFile(passphraseFile) }
            do throws(CLIError) {
                return try remember(SecretKeyFiles.unlock(key.file, path: key.path, passphrase: filePassphrase!), at: index)
            } catch {
                // Keys the passphrase file does not open are asked for on the terminal, if any.
                guard hasTerminal() else { throw error }
                notes("the passphrase file does not open \(key.path) (key ID \(keyID))")
                lastError = error
            }
        }
        for attempt in 1...Self.terminalAttempts {
            let passphrase = try PassphraseInput.fromTerminal(prompt: "Passphrase for \(escapeForDisplay(key.path)) (key ID \(keyID)): ")
            do throws(CLIError) {
                return try remember(SecretKeyFiles.unlock(key.file, path: key.path, passphrase: passphrase), at: index)
            } catch {
                lastError = error
                if attempt < Self.terminalAttempts { notes("wrong passphrase, try again") }
            }
        }
        throw lastError!
    }

    private func remember(_ secret: SecretKey, at index: Int) -> SecretKey {
        unlocked[index] = secret
        KeySession.current?.remember(secret)
        return secret
    }

    // MARK: The folder

    /// The name a key file was given: `alice` for `alice.key` and `alice.KEYID.retired.key`.
    static func name(of fileName: String) -> String {
        if fileName.hasSuffix(retiredSuffix) {
            let stem = String(fileName.dropLast(retiredSuffix.count))
            let parts = stem.split(separator: ".")
            if parts.count >= 2, KeyID(hex: String(parts.last!)) != nil { return parts.dropLast().joined(separator: ".") }
            return stem
        }
        return fileName.hasSuffix(".key") ? String(fileName.dropLast(4)) : fileName
    }

    /// Every decryption key file of a keyring folder, by file name (signing keys, which may live
    /// beside them, are skipped). The folder must belong to this user and be changeable by
    /// nobody else.
    public static func keys(in folder: String) throws(CLIError) -> [Key] {
        var info = stat()
        guard stat(folder, &info) == 0 else {
            throw CLIError("no keys: --key was not given and the keyring folder \(folder) cannot be read: \(errnoText())",
                           hint: "pass --key KEYFILE, or keep your key files in ~/.sealdrop/keys (or --keyring DIR)")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw CLIError("the keyring \(folder) is not a folder", hint: "--keyring takes the folder that holds your *.key files")
        }
        guard info.st_mode & 0o022 == 0 else {
            throw CLIError("the keyring folder \(folder) can be changed by others (mode \(String(info.st_mode & 0o777, radix: 8)))",
                           hint: "run: chmod 700 \(folder)")
        }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw CLIError("cannot read the keyring folder \(folder)", hint: "check its permissions")
        }
        var keys: [Key] = []
        for name in names.filter({ !$0.hasPrefix(".") && $0.hasSuffix(".key") }).sorted() {
            let path = (folder as NSString).appendingPathComponent(name)
            if let bytes = try? readSmallFile(path, limit: 64 * 1024), String(decoding: bytes, as: UTF8.self).contains(SigningKeyFile.magic) {
                continue
            }
            keys.append(Key(path: path, file: try SecretKeyFiles.read(path), retired: name.hasSuffix(retiredSuffix), name: Self.name(of: name)))
        }
        return keys
    }

    /// Creates `folder` (mode 0700, and any missing folder above it 0700) if it is missing;
    /// refuses anything there that is not a folder. Returns whether it created it.
    @discardableResult
    public static func ensureFolder(_ folder: String) throws(CLIError) -> Bool {
        var info = stat()
        if stat(folder, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw CLIError("\(folder) is not a folder", hint: "give a folder for the keys") }
            return false
        }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw CLIError("cannot create the folder \(folder): \(error.localizedDescription)", hint: "check its parent folder")
        }
        return true
    }

    // MARK: Retirements

    /// One line of `retirements.jsonl`: a key retired, or destroyed.
    public struct Retirement: Codable, Sendable {
        /// The key ID.
        public var keyID: String
        /// What happened: `retired` or `destroyed`.
        public var event: String
        /// When.
        public var time: Date
        /// The key file's name at that moment.
        public var file: String

        enum CodingKeys: String, CodingKey { case keyID = "key_id", event, time, file }

        /// An event of key `keyID` (`retired` or `destroyed`) at `time`, its file then named `file`.
        public init(keyID: String, event: String, time: Date, file: String) {
            self.keyID = keyID
            self.event = event
            self.time = time
            self.file = file
        }
    }

    /// The record file of a keyring folder.
    public static func retirementsPath(in folder: String) -> String {
        (folder as NSString).appendingPathComponent("retirements.jsonl")
    }

    /// Appends an event to the keyring's record, synced.
    public static func record(_ retirement: Retirement, in folder: String) throws(CLIError) {
        try appendJSONLine(retirement, to: retirementsPath(in: folder))
    }

    /// When the key `keyID` was retired: the record's time, or (for a key retired before
    /// records were kept) the time its file last changed name or mode.
    public static func retirementTime(of key: Key, in folder: String) -> Date {
        let records: [Retirement] = readJSONLines(retirementsPath(in: folder))
        if let record = records.last(where: { $0.keyID == key.file.publicKey.keyID.description && $0.event == "retired" }) {
            return record.time
        }
        var info = stat()
        guard stat(key.path, &info) == 0 else { return Date.distantPast }
        return Date(timeIntervalSince1970: TimeInterval(info.st_ctim.tv_sec))
    }
}

/// Whether this process can open its controlling terminal to ask a question.
public func hasTerminal() -> Bool {
    let fd = open("/dev/tty", O_RDWR | O_CLOEXEC)
    guard fd >= 0 else { return false }
    close(fd)
    return true
}
