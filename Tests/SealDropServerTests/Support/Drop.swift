import Foundation
import InMemoryLogging
import Logging
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropServer
import SealDropStore
import SealDropTestSupport
import ServiceLifecycle
import Testing

/// A recipient key pair made in memory (no Argon2id key file: these tests only need to open
/// what the daemon sealed).
final class Recipient: @unchecked Sendable {
    let secretKey: SecretKey
    var publicKey: PublicKey { secretKey.publicKey }
    var text: String { publicKey.text }

    init() { secretKey = SecretKey.generate() }

    /// Opens a submission file: its metadata and content.
    func open(_ path: String) throws -> (metadata: Metadata, content: [UInt8]) {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let reader = try EnvelopeReader(source: ArraySource(bytes), keys: [secretKey])
        var content: [UInt8] = []
        try reader.readAll { content += $0 }
        return (reader.metadata, content)
    }
}

/// Limits for tests: no free-disk reserve (the test machine's disk is not the point), short
/// grace periods.
func testLimits(_ change: (inout ServerLimits) -> Void = { _ in }) -> ServerLimits {
    var limits = ServerLimits()
    limits.freeDiskReserveBytes = 0
    limits.shutdownGracePeriod = .seconds(5)
    change(&limits)
    return limits
}

/// A spool folder (0700) in a fresh temporary folder.
struct SpoolFolder: Sendable {
    let directory: TemporaryDirectory
    let path: String

    init(_ label: String = "spool") throws {
        directory = try TemporaryDirectory("sealdropd-\(label)")
        path = directory.file("spool")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
    }

    var inbox: String { (path as NSString).appendingPathComponent("inbox") }
    var temp: String { (path as NSString).appendingPathComponent("tmp") }

    /// File names in the inbox (sorted).
    func inboxFiles() -> [String] { allInboxFiles().filter { $0.hasSuffix(".sealdrop") } }
    /// Provenance record names in the inbox.
    func recordFiles() -> [String] { allInboxFiles().filter { $0.hasSuffix(".record") } }
    /// Every name in the inbox.
    func allInboxFiles() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: inbox)) ?? []).sorted() }
    /// File names in tmp.
    func tempFiles() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: temp)) ?? []).sorted() }
    /// The inbox path of a receipt.
    func submission(_ receipt: String) -> String { (inbox as NSString).appendingPathComponent("\(receipt).sealdrop") }

    /// Waits (up to `timeout` s) until tmp is empty; true if it became empty.
    func waitForEmptyTemp(timeout: Double = 10) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if tempFiles().isEmpty { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return tempFiles().isEmpty
    }
}

/// An in-process daemon on 127.0.0.1 with a port the system picked, a fresh spool, one
/// recipient, and its log captured in memory.
struct Drop: Sendable {
    let spool: SpoolFolder
    let recipient: Recipient
    let server: UploadServer
    let logs: InMemoryLogHandler
    /// Signs the provenance records.
    let dropKey: DropSigner
    var port: Int { server.localAddress.port! }

    /// Uploads `content` with `PUT` and returns the reply.
    func put(_ content: [UInt8], headers: [String] = [], source: String? = nil) async throws -> String {
        try await exchange(port: port, request("PUT", body: content, headers: headers), source: source)
    }

    /// Checks the rules every refusal must keep: nothing in the inbox, tmp empty (eventually),
    /// and the daemon still stores a normal upload.
    func expectNothingStoredAndStillServing(inboxBefore: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #expect(spool.inboxFiles() == inboxBefore, "a refused upload reached the inbox", sourceLocation: sourceLocation)
        #expect(spool.recordFiles().map { $0.replacingOccurrences(of: ".record", with: ".sealdrop") } == spool.inboxFiles(),
                "every submission has its record and no record is left without one", sourceLocation: sourceLocation)
        #expect(await spool.waitForEmptyTemp(), "tmp not emptied: \(spool.tempFiles())", sourceLocation: sourceLocation)
        try await expectServes(sourceLocation: sourceLocation)
    }

    /// A normal upload succeeds and decrypts to what was sent.
    func expectServes(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let content = Array("still serving \(UUID())".utf8)
        let reply = try await put(content, headers: ["Name: check.txt"])
        let id = try #require(receipt(reply), "normal upload refused: \(reply)", sourceLocation: sourceLocation)
        #expect(try recipient.open(spool.submission(id)).content == content, sourceLocation: sourceLocation)
    }
}

/// Binds a fresh in-process daemon (not yet running) on a new spool, with one recipient and its
/// logs kept in memory at trace level; returns it with the logger it uses.
private func bindDrop(
    limits: ServerLimits,
    makeSubmissionID: @escaping @Sendable () -> SubmissionID = { SubmissionID.random() },
    prepareSpool: (SpoolFolder) throws -> Void = { _ in }
) async throws -> (drop: Drop, logger: Logger) {
    let folder = try SpoolFolder()
    try prepareSpool(folder)
    let recipient = Recipient()
    let logs = InMemoryLogHandler()
    var logHandler = logs
    logHandler.logLevel = .trace
    let logger = Logger(label: "sealdropd-test") { _ in logHandler }
    let store = try RecipientStore(keyTexts: [recipient.text], filePath: nil)
    let spool = try Daemon.openSpool(folder.path, logger: logger)
    let dropKey = DropSigner.generate()
    let server = try await UploadServer.bind(
        host: "127.0.0.1", port: 0, spool: spool, recipients: store, dropKey: dropKey, limits: limits, logger: logger,
        makeSubmissionID: makeSubmissionID
    )
    return (Drop(spool: folder, recipient: recipient, server: server, logs: logs, dropKey: dropKey), logger)
}

/// Runs `body` against a fresh in-process daemon, then stops it.
func withDrop(
    limits: ServerLimits = testLimits(),
    makeSubmissionID: (@Sendable () -> SubmissionID)? = nil,
    prepareSpool: (SpoolFolder) throws -> Void = { _ in },
    _ body: (Drop) async throws -> Void
) async throws {
    let (drop, _) = try await bindDrop(limits: limits, makeSubmissionID: makeSubmissionID ?? { SubmissionID.random() },
                                       prepareSpool: prepareSpool)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await drop.server.run() }
        try await body(drop)
        group.cancelAll()
    }
}

/// Runs `body` against an in-process daemon inside a ServiceGroup, so that the test can
/// trigger a graceful shutdown.
func withDropInServiceGroup(limits: ServerLimits, _ body: (Drop, ServiceGroup) async throws -> Void) async throws {
    let (drop, logger) = try await bindDrop(limits: limits)
    let group = ServiceGroup(configuration: .init(services: [drop.server], logger: logger))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        try await body(drop, group)
        tasks.cancelAll()
    }
}

/// Distinct content for upload number `index`.
func content(_ index: Int, size: Int) -> [UInt8] {
    var bytes = Array("upload \(index) ".utf8)
    var state = UInt64(truncatingIfNeeded: index &* 2_654_435_761 &+ 1)
    while bytes.count < size {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        bytes.append(UInt8(truncatingIfNeeded: state >> 33))
    }
    return Array(bytes.prefix(size))
}

/// Polls `condition` every 20 ms until it holds or `timeout` seconds pass; returns its last value.
func eventually(timeout: Double = 10, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
