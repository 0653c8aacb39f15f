import Foundation
import SealDropCLISupport

/// Appends `value` as one JSON line to the file at `path` (created 0600 if missing, never
/// through a symbolic link) and syncs it, so a record survives a crash or a pulled plug.
func appendJSONLine(_ value: some Encodable, to path: String) throws(CLIError) {
    let line = try jsonLine(value, preciseDates: true) + "\n"
    let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw CLIError("cannot write the record \(path): \(errnoText())", hint: "check the folder's permissions") }
    defer { close(fd) }
    try writeAll(fd, Array(line.utf8))
    guard fsync(fd) == 0 else { throw CLIError("cannot sync the record \(path): \(errnoText())") }
}

/// The JSON lines of the file at `path` that decode as `T`; none when it is missing. Lines that
/// do not decode (a line cut by a crash) are skipped.
func readJSONLines<T: Decodable>(_ path: String, limit: Int = 256 << 20) -> [T] {
    guard let bytes = try? readSmallFile(path, limit: limit) else { return [] }
    let decoder = recordDecoder()
    return bytes.split(separator: UInt8(ascii: "\n")).compactMap { try? decoder.decode(T.self, from: Data($0)) }
}

/// Writes `value` as a JSON document to a new file at `path` (0600, `O_EXCL`), synced with its
/// folder: records that are written once and never changed.
func writeJSONDocument(_ value: some Encodable, to path: String) throws(CLIError) {
    let text = try jsonLine(value, preciseDates: true) + "\n"
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw CLIError("cannot create the record \(path): \(errnoText())") }
    defer { close(fd) }
    try writeAll(fd, Array(text.utf8))
    guard fsync(fd) == 0 else { throw CLIError("cannot sync the record \(path): \(errnoText())") }
    syncParentFolder(of: path)
}

/// Reads a JSON document written by ``writeJSONDocument(_:to:)``.
func readJSONDocument<T: Decodable>(_ path: String, limit: Int = 256 << 20) throws(CLIError) -> T {
    let bytes = try readSmallFile(path, limit: limit)
    let decoder = recordDecoder()
    do { return try decoder.decode(T.self, from: Data(bytes)) } catch {
        throw CLIError("the record \(path) is damaged", hint: "it was not written by keyholder, or was cut short")
    }
}
