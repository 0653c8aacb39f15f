public import Foundation
public import SealDropCLISupport
import SealDropFormat
public import SealDropKeys

/// `keyholder retire --destroy`: the one command that can make submissions unreadable for
/// ever, so it refuses unless everything says the key is no longer needed.
///
/// A retired key is destroyed only when
/// - every submission of the archive can be opened without it (none is sealed to it alone
///   among this keyring's keys): `rekey` first;
/// - at least one medium holding submissions was imported after the key was retired (until
///   then the server's inbox may hold submissions sealed to it that nobody has seen), and none
///   of the submissions on such media that is sealed to it is missing from the archive;
/// - at least one submission was examined at all (an empty or unmounted folder proves nothing);
/// - and the person typed the key ID back (``Check/confirm(typed:)``).
public enum Retirement {
    /// What the check found.
    public struct Check: Sendable {
        /// The key to destroy.
        public let key: Keyring.Key
        /// When it was retired.
        public let retiredAt: Date
        /// Submissions examined in the archive.
        public let archiveCount: Int
        /// Imports since the key was retired (with what they held).
        public let importsSince: [ImportRecord]
        /// Submissions examined in extra folders given on the command line.
        public let extraCount: Int
        /// Submissions that still need the key (path or medium and ID).
        public let needing: [String]
        /// Whether a submission seen since the retirement is sealed to a current key of the
        /// keyring: a sign that the server seals to the new key.
        public let newKeySeen: Bool

        /// Every submission examined.
        public var examined: Int { archiveCount + extraCount + importsSince.reduce(0) { $0 + $1.entries.count } }
    }

    /// Checks whether key `keyID` of the keyring in `folder` may be destroyed; throws the reason
    /// it may not.
    public static func check(keyID: KeyID, keyringFolder folder: String, archive: Archive, extraPaths: [String]) throws(CLIError) -> Check {
        let keys = try Keyring.keys(in: folder)
        guard let key = keys.first(where: { $0.file.publicKey.keyID == keyID }) else {
            throw CLIError("no key with ID \(keyID) in \(folder)", hint: "keyholder keys lists the keyring")
        }
        guard key.retired else {
            throw CLIError("key ID \(keyID) is current, not retired", hint: "run keyholder rotate first, then re-key old submissions")
        }
        let others = Set(keys.map(\.file.publicKey.keyID)).subtracting([keyID])
        let current = Set(keys.filter { !$0.retired }.map(\.file.publicKey.keyID))
        func needs(_ ids: [KeyID]) -> Bool { ids.contains(keyID) && others.isDisjoint(with: ids) }

        var needing: [String] = []
        let archived = try archive.submissionFiles()
        let extra = try Locator.resolve(extraPaths, lookingIn: [])
        for file in archived + extra {
            do throws(KeyholderError) {
                if needs(try readHeader(file).header.keyIDs) { needing.append(file.path) }
            } catch {
                // A header that cannot be read cannot be opened by any key: it needs none.
                continue
            }
        }
        let retiredAt = Keyring.retirementTime(of: key, in: folder)
        // Strictly after: an import in the same millisecond as the retirement does not count.
        let since = archive.importRecords().filter { $0.time > retiredAt && !$0.entries.isEmpty }
        var newKeySeen = false
        for record in since {
            for entry in record.entries {
                let ids = entry.keyIDs.compactMap { KeyID(hex: $0) }
                if !current.isDisjoint(with: ids) && !ids.contains(keyID) { newKeySeen = true }
                let inArchive = entry.action != .notImported && entry.action != .conflict
                if needs(ids) && !inArchive { needing.append("\(entry.id) on \(record.medium) (imported \(formatUTC(record.time)) UTC, \(entry.action.rawValue))") }
            }
        }
        let result = Check(key: key, retiredAt: retiredAt, archiveCount: archived.count, importsSince: since,
                           extraCount: extra.count, needing: needing, newKeySeen: newKeySeen)
        guard needing.isEmpty else {
            throw CLIError("\(needing.count) submission(s) still need key ID \(keyID), e.g. \(needing[0]); the key was kept",
                           hint: "re-key them first (keyholder rekey --to NEWKEY --all), or import the medium again if one was not imported")
        }
        guard !since.isEmpty else {
            throw CLIError("no medium holding submissions was imported since key ID \(keyID) was retired (\(formatUTC(retiredAt)) UTC): the server's inbox may still hold submissions sealed to it; the key was kept",
                           hint: "once the daemon seals to the new key, copy its inbox to a medium, run keyholder import, re-key, then retire")
        }
        guard result.examined > 0 else {
            throw CLIError("no submission was examined; the key was kept", hint: "import the server's inbox first")
        }
        return result
    }

    /// Overwrites the key file with zeros, syncs and removes it, and records the destruction.
    public static func destroy(_ key: Keyring.Key, keyringFolder folder: String) throws(CLIError) {
        let fd = open(key.path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError("cannot open \(key.path): \(errnoText())") }
        var info = stat()
        fstat(fd, &info)
        do throws(CLIError) { try writeAll(fd, [UInt8](repeating: 0, count: Int(info.st_size))) } catch {
            close(fd)
            throw error
        }
        fsync(fd)
        close(fd)
        guard unlink(key.path) == 0 else { throw CLIError("cannot remove \(key.path): \(errnoText())") }
        syncParentFolder(of: key.path)
        try Keyring.record(Keyring.Retirement(keyID: key.file.publicKey.keyID.description, event: "destroyed", time: Date(),
                                              file: (key.path as NSString).lastPathComponent), in: folder)
    }
}
