import Foundation
public import SealDropCLISupport
import SealDropCrypto
public import SealDropFormat

/// What `sealdrop send --state FILE` keeps so that a later run can resume the same upload:
///
///     # sealdrop send state. It shows that this computer sent a file to a drop, and with the
///     # drop's data it opens that file: keep it in memory (Tails: not in the Persistent
///     # Storage) and it is deleted once the upload has its receipt.
///     SEALDROP-SEND-STATE-1
///     drop: sealdropaddr1…
///     file-size: 268435456
///     content-check: <64 hex: BLAKE2b-256 of the content, keyed with a key derived from the file key>
///     file-key: <64 hex>
///     stream-state: <104 hex: the secretstream state before the first payload chunk>
///     prefix: <base64: header, stream header, sealed metadata chunk>
///     upload: <the upload's ID>          (once the drop created it)
///     token: <the upload's token>
///
/// The file key and the stream state are secrets: read into guarded memory, written from it.
/// With the prefix and the file's content, they seal the envelope again, byte for byte, so a
/// resumed run sends exactly what the drop already has the start of. The content check refuses
/// a file that changed since, instead of splicing two versions into one upload.
public final class SendState {
    /// The first line after the comments.
    public static let magic = "SEALDROP-SEND-STATE-1"

    /// The drop address the upload goes to, as given.
    public let drop: String
    /// The content's size.
    public let fileSize: UInt64
    /// The keyed BLAKE2b-256 of the content (see ``contentCheck(of:fileKey:)``).
    public let contentCheck: [UInt8]
    /// The file key the envelope was sealed with.
    public let fileKey: FileKey
    /// The envelope's start and its first stream state (the rest are kept again as it is sealed).
    public let checkpoints: SealingCheckpoints
    /// The upload, once the drop created it.
    public var upload: ResumableUpload?

    /// A state for a new upload of a file of `fileSize` bytes, sealed with `fileKey`.
    public init(drop: String, fileSize: UInt64, contentCheck: [UInt8], fileKey: FileKey, checkpoints: SealingCheckpoints,
                upload: ResumableUpload? = nil) {
        self.drop = drop
        self.fileSize = fileSize
        self.contentCheck = contentCheck
        self.fileKey = fileKey
        self.checkpoints = checkpoints
        self.upload = upload
    }

    /// The keyed BLAKE2b-256 of everything `input` holds, read from its start.
    public static func contentCheck(of input: FileReader, fileKey: FileKey) throws(CLIError) -> [UInt8] {
        try input.seek(to: 0)
        let hasher = BLAKE2b.Hasher(outputLength: 32, key: fileKey.contentCheckKey)
        let source = ReadAhead(input, zeroAfterUse: true)
        do {
            while try source.nextBlock({ hasher.update($0) }) {}
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("cannot read \(input.path): \(error)")
        }
        return hasher.finalize()
    }

    /// Writes the state to `fd`: secrets straight from guarded memory.
    public func write(to fd: Int32) throws(CLIError) {
        var head = """
            # sealdrop send state. It shows that this computer sent a file to a drop, and with the
            # drop's data it opens that file: keep it in memory (on Tails, not in the Persistent
            # Storage); sealdrop deletes it once the upload has its receipt.
            \(Self.magic)
            drop: \(drop)
            file-size: \(fileSize)
            content-check: \(Hex.encode(contentCheck))
            file-key: 
            """
        try writeAll(fd, Array(head.utf8))
        let key = fileKey.withUnsafeBytes { SecureBytes(copying: $0) }.hexDigits()
        try key.withUnsafeBytes { bytes throws(CLIError) in try writeAll(fd, bytes) }
        try writeAll(fd, Array("\nstream-state: ".utf8))
        let state = SecureBytes(count: SecretStreamPusher.stateByteCount)
        state.withUnsafeMutableBytes { checkpoints.copyFirstState(into: $0) }
        try state.hexDigits().withUnsafeBytes { bytes throws(CLIError) in try writeAll(fd, bytes) }
        head = "\nprefix: \(Data(checkpoints.prefix).base64EncodedString())\n"
        if let upload { head += "upload: \(upload.id)\ntoken: \(upload.token)\n" }
        try writeAll(fd, Array(head.utf8))
    }

    /// Reads a state written by ``write(to:)``. `bytes` is zeroed afterwards.
    public static func parse(_ bytes: inout [UInt8]) throws(CLIError) -> SendState {
        defer { secureZero(&bytes) }
        let invalid = { (why: String) in
            CLIError("the state file is not one sealdrop wrote, or was damaged (\(why))",
                     hint: "to send the file as a new upload, delete the state file and run again")
        }
        var fields: [String: ArraySlice<UInt8>] = [:]
        var sawMagic = false
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if line.isEmpty || line.first == UInt8(ascii: "#") { continue }
            if !sawMagic {
                guard line.elementsEqual(Self.magic.utf8) else { throw invalid("it does not start with \(Self.magic)") }
                sawMagic = true
                continue
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), line.index(after: colon) < line.endIndex,
                  line[line.index(after: colon)] == UInt8(ascii: " ") else { throw invalid("a line is not \"name: value\"") }
            let name = String(decoding: line[..<colon], as: UTF8.self)
            guard ["drop", "file-size", "content-check", "file-key", "stream-state", "prefix", "upload", "token"].contains(name) else {
                throw invalid("unknown line \(name)")
            }
            guard fields[name] == nil else { throw invalid("\(name) twice") }
            fields[name] = line[(colon + 2)...]
        }
        func text(_ name: String) throws(CLIError) -> String {
            guard let value = fields[name] else { throw invalid("no \(name)") }
            return String(decoding: value, as: UTF8.self)
        }
        guard let size = UInt64(try text("file-size")) else { throw invalid("file-size") }
        guard let contentCheck = Hex.decode(try text("content-check"), byteCount: 32) else { throw invalid("content-check") }
        guard let keyDigits = fields["file-key"], let keyBytes = keyDigits.withUnsafeBytes({ SecureBytes.fromHexDigits($0, byteCount: 32) }),
              let fileKey = keyBytes.withUnsafeBytes({ FileKey(bytes: $0) }) else { throw invalid("file-key") }
        guard let stateDigits = fields["stream-state"],
              let state = stateDigits.withUnsafeBytes({ SecureBytes.fromHexDigits($0, byteCount: SecretStreamPusher.stateByteCount) }) else {
            throw invalid("stream-state")
        }
        guard let prefix = Data(base64Encoded: try text("prefix")) else { throw invalid("prefix") }
        let checkpoints: SealingCheckpoints
        do {
            checkpoints = try state.withUnsafeBytes { first throws(EnvelopeError) in
                try SealingCheckpoints(prefix: [UInt8](prefix), contentLength: size, firstState: first)
            }
        } catch {
            throw invalid("prefix: \(error.description)")
        }
        var upload: ResumableUpload?
        switch (fields["upload"], fields["token"]) {
        case (nil, nil): upload = nil
        case (let id?, let token?): upload = ResumableUpload(id: String(decoding: id, as: UTF8.self), token: String(decoding: token, as: UTF8.self))
        default: throw invalid("an upload without its token")
        }
        return SendState(drop: try text("drop"), fileSize: size, contentCheck: contentCheck,
                         fileKey: fileKey, checkpoints: checkpoints, upload: upload)
    }
}
