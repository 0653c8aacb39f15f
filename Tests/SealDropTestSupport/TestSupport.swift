public import Foundation
import SealDropCrypto
import SealDropKeys
#if canImport(Glibc)
import Glibc
#endif

/// Where `swift build` put the products: the folder that holds the test bundle.
public enum TestBinaries {
    /// The build products folder (`.build/debug` or `.build/release`).
    public static let productsDirectory: URL = {
        if let override = ProcessInfo.processInfo.environment["SEALDROP_BIN_DIR"] {
            return URL(fileURLWithPath: override)
        }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("keyholder").path) { return url }
        }
        return Bundle.main.bundleURL.deletingLastPathComponent()
    }()

    /// The path of one of the package's executables.
    public static func path(_ name: String) -> String {
        productsDirectory.appendingPathComponent(name).path
    }
}

/// What a finished process left behind.
public struct ProcessResult: Sendable {
    /// The exit status (or 128 + signal).
    public let status: Int32
    /// Standard output, bytes.
    public let stdoutData: Data
    /// Standard error, decoded as UTF-8.
    public let stderr: String
    /// Standard output, decoded as UTF-8.
    public var stdout: String { String(decoding: stdoutData, as: UTF8.self) }
}

/// Runs a program to completion with optional standard input; output is captured.
@discardableResult
public func runProcess(_ executable: String, _ arguments: [String], stdin: Data? = nil,
                       environment: [String: String]? = nil, currentDirectory: String? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
    let outPipe = Pipe(), errPipe = Pipe(), inPipe = Pipe()
    process.standardOutput = outPipe
    process.standardError = errPipe
    process.standardInput = inPipe
    try process.run()
    // Feed stdin and drain stderr on their own threads so no pipe can fill up and block the child.
    let group = DispatchGroup()
    nonisolated(unsafe) var errData = Data()
    DispatchQueue.global().async(group: group) { errData = errPipe.fileHandleForReading.readDataToEndOfFile() }
    DispatchQueue.global().async(group: group) {
        if let stdin { try? inPipe.fileHandleForWriting.write(contentsOf: stdin) }
        try? inPipe.fileHandleForWriting.close()
    }
    let outData = outPipe.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    return ProcessResult(status: status, stdoutData: outData, stderr: String(decoding: errData, as: UTF8.self))
}

/// A fresh folder under the system temp folder, removed when released.
public final class TemporaryDirectory: Sendable {
    /// Its absolute path.
    public let path: String

    /// Creates the folder (mode 0700).
    public init(_ label: String = "sealdrop-test") throws {
        let base = ProcessInfo.processInfo.environment["SEALDROP_TEST_TMP"] ?? NSTemporaryDirectory()
        let url = URL(fileURLWithPath: base).appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        path = url.path
    }

    /// A path inside the folder.
    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A secret key file written for a test, with its passphrase file and public key.
public struct TestKey: Sendable {
    /// The passphrase test keys are made with: six words of the EFF list, strong enough for
    /// keyholder's passphrase rule.
    public static let passphrase = "plaza yodel snowcap eligible rumor unvarying"
    /// The secret key file (0600).
    public let keyPath: String
    /// A file whose first line is the passphrase.
    public let passphrasePath: String
    /// The public key in text form.
    public let publicKeyText: String
    /// The public key's ID.
    public let keyID: String

    /// Makes a key in `directory` with the `keyholder keygen` binary, as a keyholder would.
    public static func make(in directory: TemporaryDirectory, name: String = "key", passphrase: String = TestKey.passphrase) throws -> TestKey {
        let passphrasePath = directory.file("\(name).pass")
        try Data((passphrase + "\n").utf8).write(to: URL(fileURLWithPath: passphrasePath))
        let keyPath = directory.file("\(name).key")
        let result = try runProcess(TestBinaries.path("keyholder"), ["keygen", "--output", keyPath, "--passphrase-file", passphrasePath])
        guard result.status == 0, let publicKey = result.stdout.split(separator: "\n").last.map(String.init) else {
            throw TestSupportError.commandFailed("keygen: \(result.stderr)")
        }
        let keyID = try PublicKey(text: publicKey).keyID.description
        return TestKey(keyPath: keyPath, passphrasePath: passphrasePath, publicKeyText: publicKey, keyID: keyID)
    }
}

/// A helper could not set up what a test needs.
public enum TestSupportError: Error, CustomStringConvertible {
    case commandFailed(String)
    public var description: String {
        switch self { case .commandFailed(let why): why }
    }
}

/// Random bytes for test inputs (not secret).
public func testBytes(count: Int) -> [UInt8] {
    randomBytes(count: count)
}

/// A loopback port nothing listens on now (bound, then released).
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw TestSupportError.commandFailed("no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// The sanitizer the tests and the binaries they start were built with (`Scripts/test
/// --sanitize` sets `SEALDROP_SANITIZER`), or nil. A few properties cannot be seen under one: a
/// sanitizer's allocator and shadow memory stand in for the program's resident memory, its
/// interceptors make `mlock` a no-op, and it needs terabytes of address space for its shadow.
public let activeSanitizer: String? = ProcessInfo.processInfo.environment["SEALDROP_SANITIZER"]

/// The environment for a program that `wrapper` starts: under the address sanitizer and strace,
/// without LeakSanitizer, which stops the process with ptrace at exit and cannot while strace
/// traces it.
public func environment(_ environment: [String: String], under wrapper: [String]) -> [String: String] {
    guard wrapper.first?.hasSuffix("strace") == true, let options = environment["ASAN_OPTIONS"] else { return environment }
    var adjusted = environment
    adjusted["ASAN_OPTIONS"] = options + ":detect_leaks=0"
    return adjusted
}
