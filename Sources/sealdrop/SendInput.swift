import Foundation
import SealDropCLISupport
import SealDropCrypto

/// A file to send, opened, with its size known before the upload starts (the protocol declares
/// it). Standard input from a pipe is read into memory first (``pipeLimit`` at most): never to
/// disk.
struct SendInput {
    /// Standard input from a pipe is held in memory up to this size (512 MiB).
    static let pipeLimit: UInt64 = 512 << 20
    /// Kinds of file that often carry identifying metadata, by extension.
    static let metadataProneExtensions: Set<String> = [
        "jpg", "jpeg", "png", "tif", "tiff", "heic", "heif", "webp", "gif", "bmp", "svg", "raw", "cr2", "nef", "dng",
        "pdf", "doc", "docx", "odt", "ods", "odp", "odg", "xls", "xlsx", "ppt", "pptx", "rtf", "epub",
        "mp3", "m4a", "aac", "wav", "flac", "ogg", "opus", "wma", "mp4", "m4v", "mov", "avi", "mkv", "webm", "wmv", "3gp",
    ]

    let reader: FileReader
    let size: UInt64
    /// What messages call it (escaped when printed).
    let displayName: String
    /// The path as given ('-' for standard input).
    let path: String

    init(reader: FileReader, size: UInt64, displayName: String, path: String) {
        self.reader = reader
        self.size = size
        self.displayName = displayName
        self.path = path
    }

    /// Opens `path` (a regular file, or '-').
    init(path: String) throws(CLIError) {
        let reader = try FileReader(path: path)
        if let size = reader.regularFileSize() {
            self.init(reader: reader, size: size, displayName: path == "-" ? "standard input" : path, path: path)
            return
        }
        guard path == "-" else {
            throw CLIError("\(path) is not a regular file", hint: "send files; to send a program's output, pipe it to standard input ('-')")
        }
        guard !isTerminal(0) else {
            throw CLIError("standard input is a terminal", hint: "pipe the data in (… | sealdrop send ADDRESS -), or name a file")
        }
        let held = try Self.holdInMemory(reader)
        self.init(reader: held.reader, size: held.size, displayName: "standard input", path: path)
    }

    /// Whether its name says it is a kind of file that often carries identifying metadata.
    var mayCarryMetadata: Bool {
        Self.metadataProneExtensions.contains((path as NSString).pathExtension.lowercased())
    }

    /// Reads a pipe to its end into a file with no name in memory-backed storage (`O_TMPFILE`
    /// on a tmpfs: it vanishes with the process), so that its size is known before the upload.
    private static func holdInMemory(_ pipe: FileReader) throws(CLIError) -> (reader: FileReader, size: UInt64) {
        guard let base = MemoryStorage.folder() else { throw MemoryStorage.missing(for: "standard input from a pipe") }
        let memory = open(base, openUnnamed | O_RDWR | O_CLOEXEC, 0o600)
        guard memory >= 0 else { throw CLIError("cannot hold standard input in memory: \(errnoText())") }
        defer { close(memory) }
        let size = try MemoryStorage.copy(pipe, named: "standard input", to: memory, limit: pipeLimit) {
            CLIError("standard input is larger than \(formatByteCount(pipeLimit)), which is held in memory at most",
                     hint: "send it as a file instead (a file is sent as it is read, whatever its size)")
        }
        let reader = try FileReader(path: "/proc/self/fd/\(memory)")
        return (reader, size)
    }
}

/// Memory-backed storage (tmpfs) for what must never reach a disk: a scrubbed copy, standard
/// input held until its size is known.
enum MemoryStorage {
    /// `$XDG_RUNTIME_DIR` or `/dev/shm`, the first that is a writable tmpfs.
    static func folder() -> String? {
        [ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"], "/dev/shm"].compactMap { $0 }
            .first { isTmpfs($0) && access($0, W_OK) == 0 }
    }

    /// The refusal when there is none.
    static func missing(for purpose: String) -> CLIError {
        CLIError("\(purpose) needs a memory-backed folder (tmpfs), and neither $XDG_RUNTIME_DIR nor /dev/shm is one",
                 hint: "mount a tmpfs on /dev/shm (most systems, Tails included, have one)")
    }

    /// Whether `path` lies on a tmpfs, by the longest mount point above it in /proc/self/mounts.
    static func isTmpfs(_ path: String) -> Bool {
        guard let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) else { return false }
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        var best: (point: String, type: String)?
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3 else { continue }
            let point = fields[1].replacingOccurrences(of: "\\040", with: " ")
            let inside = point == "/" || resolved == point || resolved.hasPrefix(point + "/")
            if inside, point.count >= (best?.point.count ?? -1) { best = (point, String(fields[2])) }
        }
        return best?.type == "tmpfs"
    }

    /// Copies everything `reader` gives into `fd`, 1 MiB at a time through a block zeroed
    /// afterwards (it holds plaintext); returns the byte count. More than `limit` bytes throws
    /// `tooLarge()`.
    static func copy(_ reader: FileReader, named name: String, to fd: Int32, limit: UInt64 = .max,
                     tooLarge: () -> CLIError = { CLIError("too large") }) throws(CLIError) -> UInt64 {
        var size: UInt64 = 0
        var block = [UInt8](repeating: 0, count: 1 << 20)
        defer { secureZero(&block) }
        while true {
            let count: Int
            do { count = try block.withUnsafeMutableBytes { try reader.read(into: $0) } } catch {
                throw CLIError("cannot read \(name): \(error)")
            }
            if count == 0 { return size }
            size += UInt64(count)
            guard size <= limit else { throw tooLarge() }
            let failure = block.withUnsafeBytes { bytes -> CLIError? in
                do { try writeAll(fd, UnsafeRawBufferPointer(rebasing: bytes[..<count])) } catch let error as CLIError { return error } catch { return CLIError("\(error)") }
                return nil
            }
            if let failure { throw failure }
        }
    }
}
