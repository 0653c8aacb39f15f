import Foundation
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropServer
import SealDropTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `sealdropd drop-key`, `sealdropd address` and `sealdropd check-config`, and the daemon's use
/// of the drop key and of the list's expiry, through the real binary.
@Suite("Operator commands: drop key, address, check-config, expiry")
struct OperatorCommandTests {
    typealias Newsroom = SignedRecipientsTests.Newsroom

    func sealdropd(_ arguments: [String]) throws -> ProcessResult {
        try runProcess(DaemonProcess.binary, arguments)
    }

    /// Signs a list for `recipients` that expires `days` from now (negative: already expired).
    func publish(_ newsroom: Newsroom, _ recipients: [Recipient], expiringIn days: Double) throws {
        let now = Date()
        let date = days > 0 ? now : now.addingTimeInterval((days - 1) * 86_400)
        let list = try SignedRecipients.sign(recipients: recipients.map(\.publicKey), serial: 1, date: date,
                                             expires: now.addingTimeInterval(days * 86_400), with: newsroom.signing)
        try newsroom.write(list.text)
    }

    @Test("every sealdropd command's help has an example and its exit statuses; a bare sealdropd still serves (the default command)")
    func help() throws {
        for command in ["serve", "drop-key", "address", "check-config", "status", "reload", "export"] {
            let help = try sealdropd([command, "--help"])
            #expect(help.status == 0, "\(command)")
            #expect(help.stdout.contains("Example:\n  sealdropd"), "\(command): \(help.stdout)")
            #expect(help.stdout.contains("Exit status: 0"), "\(command)")
        }
        let root = try sealdropd(["--help"]).stdout
        #expect(root.contains("sealdropd drop-key (--output <file> | --show <file>)"))
        // The settings are listed where the refusal of an unknown one points: sealdropd --help.
        for setting in DaemonConfiguration.Setting.allCases { #expect(root.contains("--\(setting.flag) <\(setting.valueName)>"), "\(setting)") }
        #expect(try sealdropd(["--bogus", "1"]).stderr.contains("unknown option '--bogus'; the settings are listed in sealdropd --help"))
    }

    @Test("drop-key makes a 0600 key (never over a file) and prints its public key last; --show prints it again; the daemon signs records with --drop-key")
    func dropKey() async throws {
        let work = try TemporaryDirectory("drop-key")
        let path = work.file("drop.key")
        let made = try sealdropd(["drop-key", "--output", path])
        #expect(made.status == 0, "\(made.stderr)")
        let publicKey = try #require(made.stdout.split(separator: "\n").last.map(String.init))
        #expect(publicKey.hasPrefix("sealdropdrop1"))
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
        let again = try sealdropd(["drop-key", "--output", path])
        #expect(again.status == 1)
        #expect(again.stderr.contains("sealdropd: error: cannot create the drop key \(path): File exists"), "\(again.stderr)")
        #expect(again.stderr.contains("sealdropd: hint: a drop key is never written over"))
        let shown = try sealdropd(["drop-key", "--show", path])
        #expect(shown.stdout.split(separator: "\n").last.map(String.init) == publicKey)
        #expect(try sealdropd(["drop-key"]).status == 64)

        // The daemon takes it, and makes none in the spool.
        let drop = try await RealDrop.start(extra: ["--drop-key", path])
        let id = try #require(receipt(try await drop.put(Array("vouched".utf8))))
        let recordPath = drop.spool.submission(id).replacingOccurrences(of: ".sealdrop", with: ".record")
        let record = try ProvenanceRecord.open([UInt8](Data(contentsOf: URL(fileURLWithPath: recordPath))), keys: [drop.recipient.secretKey])
        #expect(record.dropKey.text == publicKey)
        #expect(!FileManager.default.fileExists(atPath: drop.spool.path + "/drop.key"))
        await drop.stop()
    }

    @Test("a drop key others can read, a missing one, a link or a damaged one is refused at start")
    func dropKeyRefusals() async throws {
        let work = try TemporaryDirectory("drop-key-bad")
        let path = work.file("drop.key")
        #expect(try sealdropd(["drop-key", "--output", path]).status == 0)
        let spool = try SpoolFolder()
        let base = ["--listen", "127.0.0.1:0", "--spool", spool.path, "--recipient", Recipient().text]
        chmod(path, 0o640)
        var refused = try await runDaemonExpectingExit(base + ["--drop-key", path])
        #expect(refused.status == 1 && refused.stderr.contains("is readable by others"), "\(refused.stderr)")
        chmod(path, 0o600)
        refused = try await runDaemonExpectingExit(base + ["--drop-key", work.file("missing.key")])
        #expect(refused.status == 1 && refused.stderr.contains("sealdropd: hint: make one with sealdropd drop-key --output"), "\(refused.stderr)")
        symlink(path, work.file("link.key"))
        refused = try await runDaemonExpectingExit(base + ["--drop-key", work.file("link.key")])
        #expect(refused.status == 1 && refused.stderr.contains("cannot open the drop key"), "\(refused.stderr)")
        let damaged = work.file("damaged.key")
        FileManager.default.createFile(atPath: damaged, contents: Data("SEALDROP-DROP-KEY-1:1234\n".utf8), attributes: [.posixPermissions: 0o600])
        refused = try await runDaemonExpectingExit(base + ["--drop-key", damaged])
        #expect(refused.status == 1 && refused.stderr.contains("not a SealDrop drop key file"), "\(refused.stderr)")
        // A drop key given as a recipient is refused as a secret.
        refused = try await runDaemonExpectingExit(["--listen", "127.0.0.1:0", "--spool", spool.path, "--recipients-file", path])
        #expect(refused.status == 1 && refused.stderr.contains("secret key"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: spool.path + "/inbox/x"))
    }

    @Test("address: onion or loopback host and port with the pinned signing key, the last line; refused without a signed list, for a clearnet host, with an expired list")
    func address() throws {
        let newsroom = try Newsroom()
        try publish(newsroom, [Recipient()], expiringIn: 60)
        let settings = ["--spool", newsroom.spool.path, "--signed-recipients", newsroom.listPath, "--signing-key", newsroom.signing.publicKey.text]
        let loopback = try sealdropd(["address", "--public-host", "127.0.0.1:7700"] + settings)
        #expect(loopback.status == 0, "\(loopback.stderr)")
        let text = try #require(loopback.stdout.split(separator: "\n").last.map(String.init))
        let parsed = try DropAddress(text: text)
        #expect(parsed.host.name == "127.0.0.1" && parsed.port == 7700 && parsed.signingKey == newsroom.signing.publicKey)

        // Tor's hostname file, and the service's virtual port.
        let onion = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion"
        let hostname = newsroom.spool.directory.file("hostname")
        try Data((onion + "\n").utf8).write(to: URL(fileURLWithPath: hostname))
        let published = try sealdropd(["address", "--onion-hostname-file", hostname, "--onion-port", "80"] + settings)
        #expect(published.status == 0, "\(published.stderr)")
        let address = try DropAddress(text: try #require(published.stdout.split(separator: "\n").last.map(String.init)))
        #expect(address.host.name == onion && address.port == 80)
        // Without --onion-port: the daemon's own port.
        let samePort = try sealdropd(["address", "--onion-hostname-file", hostname, "--listen", "127.0.0.1:7711"] + settings)
        #expect(try DropAddress(text: try #require(samePort.stdout.split(separator: "\n").last.map(String.init))).port == 7711)

        for (arguments, mention) in [
            (["--public-host", "example.com:80"] + settings, "is not a Tor onion service or loopback"),
            (["--public-host", "192.168.1.5:80"] + settings, "is not a Tor onion service or loopback"),
            (["--public-host", "127.0.0.1:80", "--onion-hostname-file", hostname] + settings, "give exactly one of"),
            (["--public-host", "127.0.0.1:80", "--spool", newsroom.spool.path, "--recipient", Recipient().text], "needs a signed recipients list"),
        ] {
            let refused = try sealdropd(["address"] + arguments)
            #expect(refused.status == 1, "\(arguments)")
            #expect(refused.stderr.hasPrefix("sealdropd: error: ") && refused.stderr.contains(mention), "\(refused.stderr)")
            #expect(refused.stderr.contains("\nsealdropd: hint: "))
            #expect(!refused.stdout.contains("sealdropaddr1"))
        }
        try Data("example.com\n".utf8).write(to: URL(fileURLWithPath: hostname))
        let clearnetFile = try sealdropd(["address", "--onion-hostname-file", hostname] + settings)
        #expect(clearnetFile.status == 1 && clearnetFile.stderr.contains("example.com is not a Tor onion service"), "\(clearnetFile.stderr)")

        try publish(newsroom, [Recipient()], expiringIn: -1)
        let expired = try sealdropd(["address", "--public-host", "127.0.0.1:7700"] + settings)
        #expect(expired.status == 1 && expired.stderr.contains("expired on"), "\(expired.stderr)")
    }

    @Test("check-config and the daemon warn from 14 days before the list expires; check-config fails once it has expired")
    func expiryWarnings() async throws {
        let newsroom = try Newsroom()
        let recipient = Recipient()
        try publish(newsroom, [recipient], expiringIn: 60)
        let settings = ["--spool", newsroom.spool.path, "--signed-recipients", newsroom.listPath, "--signing-key", newsroom.signing.publicKey.text]
        let fine = try sealdropd(["check-config"] + settings)
        #expect(fine.status == 0, "\(fine.stderr)")
        #expect(fine.stdout.hasSuffix("configuration ok\n") && !fine.stdout.contains("warning:"), "\(fine.stdout)")
        #expect(fine.stdout.contains("recipients: signed list \(newsroom.listPath), serial 1, 1 key(s)"))

        try publish(newsroom, [recipient], expiringIn: 10)
        let soon = try sealdropd(["check-config"] + settings)
        #expect(soon.status == 0, "\(soon.stderr)")
        #expect(soon.stdout.contains("warning: the signed recipients list expires on"), "\(soon.stdout)")
        #expect(soon.stdout.contains("in 9 day(s)") || soon.stdout.contains("in 10 day(s)"), "\(soon.stdout)")
        let drop = try DaemonProcess(newsroom.arguments())
        _ = try await drop.waitUntilListening()
        #expect(drop.stderr.contains("warning sealdropd:") && drop.stderr.contains("the signed recipients list expires on"), "\(drop.stderr)")
        drop.signal(SIGTERM)
        _ = await drop.waitForExit()

        try publish(newsroom, [recipient], expiringIn: -1)
        let expired = try sealdropd(["check-config"] + settings)
        #expect(expired.status == 1)
        #expect(expired.stderr.contains("sealdropd: error: the signed recipients list expired on"), "\(expired.stderr)")
        #expect(expired.stderr.contains("sealdropd: hint: keyholder sign-recipients --previous"))

        // A configuration that would not start fails check-config the same way.
        let bad = try sealdropd(["check-config", "--spool", newsroom.spool.path, "--recipient", "sealdrop1nope"])
        #expect(bad.status == 1 && bad.stderr.hasPrefix("sealdropd: error: "), "\(bad.stderr)")
    }
}
