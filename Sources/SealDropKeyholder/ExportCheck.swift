import Foundation
public import SealDropCLISupport
import SealDropCrypto
public import SealDropFormat
public import SealDropKeys
import SealDropStore

/// A medium's export (`sealdropd export`) checked before anything of it is imported: its
/// manifest's signature by a pinned drop key, each listed file's size and BLAKE2b-256 hash,
/// files on the medium the manifest does not list, and the chain against the last export
/// imported from the same drop key (kept in the archive's `export-chain`).
public struct ExportCheck {
    /// The manifest, when it parsed and its signature verified.
    public let manifest: ExportManifest?
    /// BLAKE2b-256 of the manifest file as read.
    public let manifestHash: [UInt8]
    /// How the export continues the chain; nil when the manifest could not be trusted.
    public let verdict: ExportChainVerdict?
    /// Every problem found, one line each (naming the submission), in the order found.
    public let problems: [CLIError]
    /// The medium's folder.
    public let medium: String

    /// What the operator compares and types back (``ExportManifest/digest(ofHash:)``).
    public var digest: String { ExportManifest.digest(ofHash: manifestHash) }

    /// Whether a gap in the chain was accepted (`acceptingGap`): the export follows a missing one.
    public let gapAccepted: Bool

    /// Whether the export may be imported: no problem at all (a gap only when accepted).
    public var isClean: Bool { problems.isEmpty && manifest != nil && (verdict?.isAcceptable ?? false || gapAccepted) }

    /// The manifest's path in `medium` if it holds one (a folder `sealdropd export` wrote).
    public static func manifestPath(in medium: String) -> String? {
        let path = (medium as NSString).appendingPathComponent(ExportManifest.fileName)
        return fileExistsOrLink(path) ? path : nil
    }

    /// Checks the export in `medium` against the drop keys in `trusted` and the chain states
    /// `chain` (from ``ExportChainStore/load(archivePath:)``). With `acceptingGap`, an export
    /// that follows a missing one (``ExportChainVerdict/gap(sequence:last:)``) is accepted: the
    /// keyholder says the missing exports were lost. Nothing else in the chain is ever accepted.
    /// Throws only when no drop key is pinned (nothing could be verified) or the manifest cannot
    /// be read at all.
    public static func run(medium: String, trusted: [DropPublicKey], chain: [ExportChainState],
                           acceptingGap: Bool = false) throws(CLIError) -> ExportCheck {
        guard !trusted.isEmpty else {
            throw CLIError("no drop key is pinned here, so the export's manifest on \(medium) cannot be verified",
                           hint: "pin the drop's key once: keyholder trust-drop sealdropdrop1… (as sealdropd drop-key --show prints it on the server)")
        }
        let path = (medium as NSString).appendingPathComponent(ExportManifest.fileName)
        let bytes = try readManifestFile(path)
        let hash = ExportManifest.hash(ofFile: bytes)
        let manifest: ExportManifest
        do { manifest = try ExportManifest.parse(bytes) } catch {
            return ExportCheck(manifest: nil, manifestHash: hash, verdict: nil, medium: medium,
                               problems: [CLIError("\(path): \(error)", hint: "nothing was imported; export again from the server to a new folder")])
        }
        var problems: [CLIError] = []
        var verdict: ExportChainVerdict?
        var gapAccepted = false
        if trusted.contains(manifest.dropKey) {
            let last = chain.first { $0.dropKey == manifest.dropKey }
            verdict = last?.judge(manifest, manifestHash: hash) ?? .first
            if case .gap = verdict, acceptingGap {
                gapAccepted = true
            } else if let verdict, !verdict.isAcceptable {
                let hint = if case .gap = verdict {
                    "nothing was imported; import the missing export first. Only if it was lost, and nothing was removed from the server with it (--move), import this one with --accept-gap"
                } else {
                    "nothing was imported; import the exports of this drop in order, each once, and never a copy of an older one"
                }
                problems.append(CLIError("\(path): \(verdict)", hint: hint))
            }
        } else {
            problems.append(CLIError("\(path): the manifest is signed by drop key \(manifest.dropKey.fingerprint), which is not pinned here: it is not the export of a drop you trust",
                                     hint: "nothing was imported; compare with sealdropd drop-key --show on the server, and pin a new drop key only after checking it there"))
        }
        problems += filesProblems(manifest, medium: medium)
        return ExportCheck(manifest: manifest, manifestHash: hash, verdict: verdict, medium: medium, problems: problems, gapAccepted: gapAccepted)
    }

    private init(manifest: ExportManifest?, manifestHash: [UInt8], verdict: ExportChainVerdict?, medium: String, problems: [CLIError],
                 gapAccepted: Bool = false) {
        self.manifest = manifest
        self.manifestHash = manifestHash
        self.verdict = verdict
        self.medium = medium
        self.problems = problems
        self.gapAccepted = gapAccepted
    }

    /// The paths of the submissions the manifest lists, in its order.
    public var listedFiles: [String] {
        (manifest?.entries ?? []).map { (medium as NSString).appendingPathComponent($0.id.fileName) }
    }

    /// Each listed file that is missing or differs, and each submission or record on the medium
    /// that the manifest does not list.
    private static func filesProblems(_ manifest: ExportManifest, medium: String) -> [CLIError] {
        var problems: [CLIError] = []
        var listed: Set<String> = [ExportManifest.fileName]
        let hint = "nothing was imported; the medium was changed after the export: export again from the server"
        for entry in manifest.entries {
            let recordName = "\(entry.id.text).\(SpoolLayout.recordExtension)"
            listed.formUnion([entry.id.fileName, recordName])
            for (name, bytes, hash, what) in [(entry.id.fileName, entry.bytes, entry.hash, "submission \(entry.id.text)"),
                                              (recordName, entry.recordBytes, entry.recordHash, "the provenance record of submission \(entry.id.text)")] {
                let path = (medium as NSString).appendingPathComponent(name)
                guard fileExistsOrLink(path) else {
                    problems.append(CLIError("\(what) is missing from the medium: the manifest lists \(name)", hint: hint))
                    continue
                }
                guard let found = try? hashFile(path), found.bytes == bytes, constantTimeEqual(found.hash, hash) else {
                    problems.append(CLIError("\(what) was altered on the medium: \(name) differs from the manifest's size and BLAKE2b hash", hint: hint))
                    continue
                }
            }
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: medium)) ?? []).sorted()
        for name in names where !listed.contains(name) {
            let isSubmission = name.hasSuffix("." + SpoolLayout.submissionExtension), isRecord = name.hasSuffix("." + SpoolLayout.recordExtension)
            if isSubmission || isRecord {
                let stem = String(name.dropLast((isSubmission ? SpoolLayout.submissionExtension : SpoolLayout.recordExtension).count + 1))
                let what = SubmissionID(stem).map { isSubmission ? "submission \($0.text)" : "a provenance record for submission \($0.text)" } ?? name
                problems.append(CLIError("\(what) was added to the medium: the manifest does not list \(name)", hint: hint))
            } else if name == SpoolLayout.inboxFolderName {
                problems.append(CLIError("a folder \(name) was added to the medium: an export has none", hint: hint))
            }
        }
        return problems
    }

    /// The size and BLAKE2b-256 of the regular file at `path`.
    private static func hashFile(_ path: String) throws(CLIError) -> (bytes: UInt64, hash: [UInt8]) {
        let hashes = try fileHashes(path, headerBytes: 0)
        return (hashes.bytes, hashes.whole)
    }

    /// The manifest file's bytes: a regular file of at most ``ExportManifest/maximumFileBytes``.
    private static func readManifestFile(_ path: String) throws(CLIError) -> [UInt8] {
        var reader = try FileReader(path: path, requireRegularFile: true)
        var bytes = [UInt8](repeating: 0, count: ExportManifest.maximumFileBytes + 1)
        let count: Int
        do { count = try bytes.withUnsafeMutableBytes { try reader.readFully(into: $0) } } catch {
            throw CLIError("cannot read \(path): \(error)", hint: "check the medium")
        }
        guard count <= ExportManifest.maximumFileBytes else {
            throw CLIError("\(path) is larger than any export manifest", hint: "nothing was imported; export again from the server to a new folder")
        }
        return Array(bytes[..<count])
    }
}

/// The chain states of the exports imported into an archive: `<archive>/export-chain`, one line
/// per drop key (``ExportChainState``), replaced atomically after each verified import.
public enum ExportChainStore {
    /// The file's path in the archive.
    public static func path(archivePath: String) -> String {
        (archivePath as NSString).appendingPathComponent(ExportChainState.fileName)
    }

    /// The states recorded in the archive at `archivePath`; none when no export was imported.
    public static func load(archivePath: String) throws(CLIError) -> [ExportChainState] {
        let path = path(archivePath: archivePath)
        guard fileExistsOrLink(path) else { return [] }
        let bytes = try readSmallFile(path, limit: 1 << 20)
        guard let states = ExportChainState.parseFile(String(decoding: bytes, as: UTF8.self)) else {
            throw CLIError("\(path) is damaged", hint: "it is written only by keyholder import; restore it from a backup of the archive")
        }
        return states
    }

    /// Records `state` as the last export imported from its drop key (replacing that key's
    /// line), atomically: a new file, synced, renamed over the old one, the folder synced.
    public static func record(_ state: ExportChainState, archive: Archive) throws(CLIError) {
        let states = try load(archivePath: archive.path).filter { $0.dropKey != state.dropKey } + [state]
        let folder = try OutputFolder(path: archive.path, privateToOwner: true)
        let pending = try folder.createPendingFile()
        do throws(CLIError) {
            try writeAll(pending.fd, Array(ExportChainState.fileText(states).utf8))
            try pending.sync()
            try folder.replace(ExportChainState.fileName, with: pending)
        } catch {
            folder.discard(pending)
            throw CLIError("cannot record the export chain in \(archive.path): \(error.message)", hint: "check the archive's disk; import the medium again")
        }
    }
}
