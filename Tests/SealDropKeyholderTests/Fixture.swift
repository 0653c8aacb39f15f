import Foundation
import SealDropCLISupport
import SealDropCrypto
import SealDropFormat
import SealDropKeyholder
import SealDropKeys
import SealDropStore
import SealDropTestSupport
import Testing

/// A scratch air-gapped machine for in-process tests: a keyring folder holding a copy of vector
/// key `a` (mode 0600) and its passphrase file, an archive, and a "medium" folder to fill with
/// submissions.
final class Fixture {
    static let vectorKeys = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("SealDropFormatTests/Vectors/keys")

    let dir: TemporaryDirectory
    let keyring: String
    let passphraseFile: String
    let medium: String
    let archive: Archive

    init() throws {
        dir = try TemporaryDirectory("keyholder-lib")
        keyring = dir.file("keys")
        passphraseFile = dir.file("passphrase")
        medium = dir.file("usb")
        try FileManager.default.createDirectory(atPath: keyring, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try FileManager.default.createDirectory(atPath: medium, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: Self.vectorKeys.appendingPathComponent("passphrase").path, toPath: passphraseFile)
        try FileManager.default.copyItem(atPath: Self.vectorKeys.appendingPathComponent("a.key").path, toPath: "\(keyring)/a.key")
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: "\(keyring)/a.key")
        archive = try Archive.open(dir.file("archive"), create: true)
    }

    /// Vector key `name`'s public key.
    static func publicKey(_ name: String) throws -> PublicKey {
        try KeyFile(text: String(contentsOf: vectorKeys.appendingPathComponent("\(name).key"), encoding: .utf8)).publicKey
    }

    /// A keyring of this fixture's folder, unlocked with the passphrase file.
    func ring() throws -> Keyring {
        try Keyring(keyPaths: [], folder: keyring, passphraseFile: passphraseFile)
    }

    /// Seals `content` to `keys` into `folder` (default: the medium) as `<id>.sealdrop`.
    @discardableResult
    func submit(_ content: [UInt8], name: String? = "doc.pdf", message: String? = nil, to keys: [PublicKey]? = nil,
                id: SubmissionID = .random(), into folder: String? = nil) throws -> String {
        let writer = try EnvelopeWriter(recipients: keys ?? [try Self.publicKey("a")],
                                        metadata: Metadata(name: name, size: UInt64(content.count), message: message, sealedBy: .source))
        var bytes = writer.prefix
        content.withUnsafeBytes { writer.append($0) { bytes += $0 } }
        try writer.finish { bytes += $0 }
        let path = ((folder ?? medium) as NSString).appendingPathComponent(id.fileName)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Imports the medium, failing the test if it cannot run.
    func importMedium(ring: Keyring? = nil) throws -> ImportRecord {
        try Importer(archive: archive, ring: ring ?? self.ring()).importMedium(medium)
    }

    /// The bytes of a file.
    func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
}
