import Foundation
import SealDropCrypto
import SealDropKeys
#if canImport(Glibc)
import Glibc
#endif

/// The signed recipients list the daemon accepted last, reduced to what a later list is
/// compared with: its serial, and a digest of everything it signs (serial, date, signing key,
/// recipients). A later list must have a higher serial, or the same serial and the same digest.
struct AcceptedList: Equatable, Sendable {
    let serial: UInt64
    /// BLAKE2b-256 of the list's signed fields in canonical form, hex.
    let digest: String

    init(serial: UInt64, digest: String) {
        self.serial = serial
        self.digest = digest
    }

    init(_ list: SignedRecipients) {
        // Whole seconds since 1970: the date as signed, independent of how it is formatted.
        let seconds = Int64(list.date.timeIntervalSince1970.rounded(.down))
        let expires = Int64(list.expires.timeIntervalSince1970.rounded(.down))
        var canonical = "\(SignedRecipients.magic)\nserial: \(list.serial)\ndate: \(seconds)\nexpires: \(expires)\n"
        canonical += "signing-key: \(list.signingKey.text)\n"
        for recipient in list.recipients { canonical += "recipient: \(recipient.text)\n" }
        self.init(serial: list.serial, digest: BLAKE2b.hash(Array(canonical.utf8), key: Array("sealdropd accepted list v1".utf8)).hexString)
    }

    /// Why `list` may not replace this one, or nil if it may.
    func refusal(of list: AcceptedList) -> String? {
        if list.serial < serial {
            return "serial \(list.serial) is older than serial \(serial), which this daemon already accepted"
        }
        if list.serial == serial, list.digest != digest {
            return "serial \(list.serial) was already accepted for a different list: a new list needs a higher serial"
        }
        return nil
    }
}

/// `<spool>/recipients-serial`: the highest serial of a signed recipients list the daemon has
/// accepted, so that a list with a lower serial (an old list replayed) is refused after a
/// restart too. Mode 0600; replaced atomically (a temporary file written, `fsync`ed and renamed
/// over it, then the spool folder `fsync`ed). The spool's lock keeps a second daemon away.
///
/// Its text:
///
///     # sealdropd: the signed recipients list accepted last. Do not edit.
///     serial: 7
///     digest: <64 hex digits>
public struct AcceptedSerialFile: Sendable {
    static let fileName = "recipients-serial"
    private static let temporaryName = ".recipients-serial.new"

    /// The spool root.
    let folder: String

    /// The record kept in the (open, locked) spool root `folder`.
    public init(folder: String) { self.folder = folder }

    var path: String { (folder as NSString).appendingPathComponent(Self.fileName) }

    /// The list recorded, or nil if none was ever accepted (no file).
    func read() throws(StartupError) -> AcceptedList? {
        let folderFD = try openFolder()
        defer { close(folderFD) }
        let fd = openat(folderFD, Self.fileName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw failure("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, UInt32(info.st_mode) & UInt32(S_IFMT) == UInt32(S_IFREG), info.st_size <= 4096 else {
            throw failure("\(path) is not a small regular file")
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw failure("cannot read \(path)") }
            done += n
        }
        var serial: UInt64?, digest: String?
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            if line.hasPrefix("serial: "), serial == nil, let number = UInt64(line.dropFirst(8)) {
                serial = number
            } else if line.hasPrefix("digest: "), digest == nil, line.count == 8 + 64,
                      [UInt8](hexString: String(line.dropFirst(8))) != nil {
                digest = String(line.dropFirst(8))
            } else {
                throw failure("\(path) is damaged")
            }
        }
        guard let serial, let digest else { throw failure("\(path) is damaged") }
        return AcceptedList(serial: serial, digest: digest)
    }

    /// Records `list`, durably, before the daemon starts using it.
    func write(_ list: AcceptedList) throws(StartupError) {
        let text = "# sealdropd: the signed recipients list accepted last. Do not edit.\nserial: \(list.serial)\ndigest: \(list.digest)\n"
        let bytes = Array(text.utf8)
        let folderFD = try openFolder()
        defer { close(folderFD) }
        if unlinkat(folderFD, Self.temporaryName, 0) != 0, errno != ENOENT {
            throw writeFailure("remove a stale \(Self.temporaryName)")
        }
        let fd = openat(folderFD, Self.temporaryName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw writeFailure("create \(Self.temporaryName)") }
        // The first failure, with its errno.
        var failed: (operation: String, code: Int32)?
        if fchmod(fd, 0o600) != 0 { failed = ("set the mode of \(Self.temporaryName)", errno) }
        var done = 0
        while failed == nil, done < bytes.count {
            let n = bytes.withUnsafeBytes { systemWrite(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { failed = ("write \(Self.temporaryName)", n < 0 ? errno : EIO); break }
            done += n
        }
        if failed == nil, fsync(fd) != 0 { failed = ("fsync \(Self.temporaryName)", errno) }
        if close(fd) != 0, failed == nil { failed = ("close \(Self.temporaryName)", errno) }
        if let failed {
            unlinkat(folderFD, Self.temporaryName, 0)
            throw writeFailure(failed.operation, code: failed.code)
        }
        guard renameat(folderFD, Self.temporaryName, folderFD, Self.fileName) == 0 else {
            let code = errno
            unlinkat(folderFD, Self.temporaryName, 0)
            throw writeFailure("rename \(Self.temporaryName) to \(Self.fileName)", code: code)
        }
        guard fsync(folderFD) == 0 else { throw writeFailure("fsync the spool folder") }
    }

    private func openFolder() throws(StartupError) -> Int32 {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open the spool folder \(folder): \(String(cString: strerror(errno)))") }
        return fd
    }

    private func failure(_ message: String) -> StartupError {
        StartupError(message, hint: "it records the highest signed recipients serial accepted; restore it from a backup, or remove it only if you know no older signed list can be replayed")
    }

    private func writeFailure(_ operation: String, code: Int32 = errno) -> StartupError {
        StartupError("cannot record the accepted recipients serial in \(path): \(operation): \(String(cString: strerror(code)))",
                     hint: "check that the spool's disk has space and is writable; the list is not used until its serial is recorded")
    }
}

// The C functions, under names the methods `read()` and `write(_:)` do not shadow.
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { read(fd, buffer, count) }
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }
