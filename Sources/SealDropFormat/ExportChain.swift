import SealDropCrypto
public import SealDropKeys

/// Where a drop's chain of exports stands: the last export's sequence number and the full
/// BLAKE2b-256 of its manifest file. The server keeps it for the exports it makes
/// (`<spool>/export-chain`), the keyholder for the exports it imported from each drop key
/// (`<archive>/export-chain`); neither keeps an old manifest, which would list every submission
/// ever received.
///
/// The file, ASCII with LF line ends, one line per drop key (the server's has one):
///
///     SEALDROP-EXPORT-CHAIN-1
///     <drop key: sealdropdrop1…> <sequence> <manifest blake2b-256: 64 hex digits>
public struct ExportChainState: Equatable, Sendable {
    /// The drop key that signed the last export.
    public let dropKey: DropPublicKey
    /// The last export's sequence number.
    public let sequence: UInt64
    /// BLAKE2b-256 of the last export's manifest file.
    public let manifestHash: [UInt8]

    /// The first line of the file.
    public static let magic = "SEALDROP-EXPORT-CHAIN-1"
    /// The file's name, in the spool root and in the keyholder's archive.
    public static let fileName = "export-chain"

    /// A chain state.
    public init(dropKey: DropPublicKey, sequence: UInt64, manifestHash: [UInt8]) {
        precondition(manifestHash.count == 32, "a manifest's hash is BLAKE2b-256")
        self.dropKey = dropKey
        self.sequence = sequence
        self.manifestHash = manifestHash
    }

    /// The state after `manifest`, whose file hashed to `manifestHash`.
    public init(after manifest: ExportManifest, manifestHash: [UInt8]) {
        self.init(dropKey: manifest.dropKey, sequence: manifest.sequence, manifestHash: manifestHash)
    }

    /// The file's text for `states` (one per drop key, in the order given).
    public static func fileText(_ states: [ExportChainState]) -> String {
        magic + "\n" + states.map { "\($0.dropKey.text) \($0.sequence) \(Hex.encode($0.manifestHash))\n" }.joined()
    }

    /// Parses the file's text: one state per drop key. Nil when it breaks the format.
    public static func parseFile(_ text: String) -> [ExportChainState]? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 2, lines.removeLast() == "", lines.removeFirst() == magic else { return nil }
        var states: [ExportChainState] = []
        for line in lines {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 3, let key = try? DropPublicKey(text: String(fields[0])), key.text == fields[0],
                  let sequence = UInt64(fields[1]), String(sequence) == fields[1], sequence >= 1,
                  let hash = Hex.decode(fields[2], byteCount: 32), !states.contains(where: { $0.dropKey == key }) else { return nil }
            states.append(ExportChainState(dropKey: key, sequence: sequence, manifestHash: hash))
        }
        return states
    }

    /// How `manifest` (signed by ``dropKey``) continues this chain.
    public func judge(_ manifest: ExportManifest, manifestHash: [UInt8]) -> ExportChainVerdict {
        if manifest.sequence <= sequence {
            return constantTimeEqual(manifestHash, self.manifestHash) ? .replayed(sequence: sequence) : .backwards(sequence: manifest.sequence, last: sequence)
        }
        guard manifest.sequence == sequence + 1 else { return .gap(sequence: manifest.sequence, last: sequence) }
        guard let previous = manifest.previousHash, constantTimeEqual(previous, self.manifestHash) else {
            return .wrongPrevious(sequence: manifest.sequence)
        }
        return .continues
    }
}

/// How an export's manifest relates to the last export imported from its drop.
public enum ExportChainVerdict: Equatable, Sendable, CustomStringConvertible {
    /// No export of this drop was imported before: any sequence is accepted and starts the chain.
    case first
    /// The next export: its sequence is one more, and it names the last manifest's hash.
    case continues
    /// The very export imported last, again.
    case replayed(sequence: UInt64)
    /// An export at or before the last one imported: the chain goes backwards (rolled back).
    case backwards(sequence: UInt64, last: UInt64)
    /// An export after a missing one: the chain breaks (an export was never imported, or lost).
    case gap(sequence: UInt64, last: UInt64)
    /// The next number, but it names another previous manifest: the chain breaks (forked).
    case wrongPrevious(sequence: UInt64)

    /// Whether the export may be imported.
    public var isAcceptable: Bool { self == .first || self == .continues }

    public var description: String {
        switch self {
        case .first: "the first export imported from this drop: its sequence number starts the chain"
        case .continues: "it continues the chain"
        case .replayed(let sequence):
            "the chain goes backwards: export \(sequence) was imported already (a replayed export)"
        case .backwards(let sequence, let last):
            "the chain goes backwards: this is export \(sequence), but export \(last) was imported already (rolled back or replayed)"
        case .gap(let sequence, let last):
            "the chain breaks: this is export \(sequence), but the last imported was export \(last); export \(last + 1)\(sequence - last > 2 ? " to \(sequence - 1)" : "") is missing"
        case .wrongPrevious(let sequence):
            "the chain breaks: export \(sequence) does not follow the last imported export (it names another previous manifest)"
        }
    }
}
