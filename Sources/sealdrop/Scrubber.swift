import Foundation
import SealDropCLISupport

/// `--scrub`: removes a file's embedded metadata with `mat2` (Debian's package; Tails ships it)
/// from a copy in memory-backed storage (tmpfs), never beside the original. The copy is unlinked
/// as soon as it is open for sending, and the folder removed when the run ends.
final class Scrubber {
    private let mat2: String
    private let folder: String
    private var count = 0

    /// Finds `mat2` and makes a private folder (0700) on a tmpfs; refuses when either is missing.
    init() throws(CLIError) {
        guard let mat2 = Self.find("mat2") else {
            throw CLIError("--scrub needs mat2, which is not installed", hint: "install it (sudo apt install mat2; Tails has it), or send without --scrub")
        }
        self.mat2 = mat2
        folder = try Self.privateMemoryFolder()
    }

    /// Removes the folder (and anything mat2 left in it).
    func removeFolder() {
        if let names = try? FileManager.default.contentsOfDirectory(atPath: folder) {
            for name in names { unlink((folder as NSString).appendingPathComponent(name)) }
        }
        rmdir(folder)
    }

    /// A scrubbed copy of `input`, open and already unlinked; says on standard error what was removed.
    func scrub(_ input: SendInput) throws(CLIError) -> SendInput {
        count += 1
        let ext = (input.path as NSString).pathExtension
        let copyName = "\(count)" + (ext.isEmpty ? "" : "." + ext)
        let copy = (folder as NSString).appendingPathComponent(copyName)
        let out = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw CLIError("cannot make a copy in memory to scrub: \(errnoText())") }
        let folderFD = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { if folderFD >= 0 { close(folderFD) } }
        // Ctrl-C from here on removes the copy.
        PartialFileGuard.arm(folder: folderFD, name: copyName)
        defer {
            PartialFileGuard.disarm()
            unlink(copy)
        }
        defer { close(out) }
        _ = try MemoryStorage.copy(input.reader, named: input.displayName, to: out)
        let found = try run(["--show", copy])
        guard found.status == 0 else { throw cannotClean(input, found.output) }
        let cleaned = try run(["--inplace", copy])
        guard cleaned.status == 0 else { throw cannotClean(input, cleaned.output) }
        let reader = try FileReader(path: copy)
        guard let size = reader.regularFileSize() else { throw CLIError("the scrubbed copy of \(input.displayName) is not a file") }
        let fields = Self.fieldNames(inShowOutput: found.output)
        diagnostics.note(fields.isEmpty
            ? "scrubbed \(input.displayName): mat2 found no metadata to remove"
            : "scrubbed \(input.displayName): removed \(fields.joined(separator: ", ")) (\(formatByteCount(input.size)) → \(formatByteCount(size)))")
        return SendInput(reader: reader, size: size, displayName: input.displayName, path: input.path)
    }

    /// The field names `mat2 --show` lists (`    Author: …` under `[+] Metadata for …`); values are not repeated.
    static func fieldNames(inShowOutput text: String) -> [String] {
        text.split(separator: "\n").dropFirst().compactMap { line in
            guard line.hasPrefix("  "), let colon = line.firstIndex(of: ":") else { return nil }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            return name.isEmpty ? nil : name
        }
    }

    private func cannotClean(_ input: SendInput, _ output: String) -> CLIError {
        let said = output.split(separator: "\n").last.map(String.init) ?? "no reason given"
        return CLIError("mat2 cannot clean \(input.displayName): \(said)",
                        hint: "convert it to a kind of file mat2 cleans (mat2 --list), or send it without --scrub only if you are sure it carries nothing that points to you")
    }

    private func run(_ arguments: [String]) throws(CLIError) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mat2)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw CLIError("cannot run \(mat2): \(error.localizedDescription)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    private static func find(_ program: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(program)" }.first { access($0, X_OK) == 0 }
    }

    /// A new folder, 0700, in memory-backed storage: the copy never reaches a disk.
    private static func privateMemoryFolder() throws(CLIError) -> String {
        if let base = MemoryStorage.folder() {
            var template = Array((base as NSString).appendingPathComponent("sealdrop-scrub-XXXXXX").utf8CString)
            if let made = mkdtemp(&template) { return String(cString: made) }
        }
        throw MemoryStorage.missing(for: "--scrub")
    }
}
