import Foundation
import SealDropCrypto
import SealDropKeys
import SealDropTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `sealdropd check-config`, through the real binary: a drop set up as the README and
/// `Config/` say passes; each broken setting is caught with its own message and hint.
@Suite("check-config: each broken setting its own message")
struct CheckConfigTests {
    typealias Newsroom = SignedRecipientsTests.Newsroom

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// The shipped torrc snippet: it forwards to 127.0.0.1:7700 (TCP) and 127.0.0.1:7780 (the page).
    static let shippedTorrc = repository.appendingPathComponent("Config/torrc").path

    /// A drop as the shipped files describe it: a signed list, the spool, both listeners on the
    /// torrc's ports (check-config binds nothing), and the shipped torrc.
    struct Setup {
        let newsroom: Newsroom
        var arguments: [String]
        var torrc: String? = CheckConfigTests.shippedTorrc

        init() throws {
            newsroom = try Newsroom()
            try newsroom.publish([Recipient()], serial: 1)
            arguments = ["--spool", newsroom.spool.path, "--signed-recipients", newsroom.listPath,
                         "--signing-key", newsroom.signing.publicKey.text, "--free-disk-reserve", "0",
                         "--listen", "127.0.0.1:7700", "--web-listen", "127.0.0.1:7780"]
        }

        /// Writes `text` as a file in the test's folder and returns its path.
        func file(_ name: String, _ text: String, mode: mode_t = 0o600) throws -> String {
            let path = newsroom.spool.directory.file(name)
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            chmod(path, mode)
            return path
        }

        /// The shipped torrc changed by `edit`, written to a file of its own.
        mutating func editTorrc(_ edit: (String) -> String) throws {
            torrc = try file("torrc", edit(try String(contentsOfFile: CheckConfigTests.shippedTorrc, encoding: .utf8)))
        }

        func run() throws -> ProcessResult {
            try runProcess(DaemonProcess.binary, ["check-config"] + arguments + (torrc.map { ["--torrc", $0] } ?? []))
        }
    }

    /// One broken setting: how to break it, and the words of its message and hint.
    struct Broken: CustomTestStringConvertible, Sendable {
        let name: String
        let error: String
        let hint: String
        let breakIt: @Sendable (inout Setup) throws -> Void
        var testDescription: String { name }
    }

    static let broken: [Broken] = [
        Broken(name: "an unknown setting in the YAML file", error: "has unknown settings: retension", hint: "the settings are:") { setup in
            setup.arguments += ["--config", try setup.file("sealdropd.yaml", "retension: 30d\n")]
        },
        Broken(name: "a signed list that has expired", error: "the signed recipients list expired on", hint: "keyholder sign-recipients --previous") { setup in
            let now = Date()
            let list = try SignedRecipients.sign(recipients: [Recipient().publicKey], serial: 2, date: now.addingTimeInterval(-40 * 86_400),
                                                 expires: now.addingTimeInterval(-86_400), with: setup.newsroom.signing)
            try setup.newsroom.write(list.text)
        },
        Broken(name: "a list signed by another key than the pinned one", error: "signed by another key, not by the pinned signing key", hint: "check --signing-key against the fingerprint the newsroom publishes") { setup in
            try setup.newsroom.publish([Recipient()], serial: 2, by: SigningSecretKey.generate())
        },
        Broken(name: "a recipient given beside a signed list", error: "a signed recipients list is the only source of recipients",
               hint: "remove --recipient and --recipients-file") { setup in
            setup.arguments += ["--recipient", Recipient().text]
        },
        Broken(name: "a drop key that others can read", error: "is readable by others or owned by another user (mode 644)", hint: "chmod 600") { setup in
            let made = try runProcess(DaemonProcess.binary, ["drop-key", "--output", setup.newsroom.spool.directory.file("drop.key")])
            #expect(made.status == 0)
            chmod(setup.newsroom.spool.directory.file("drop.key"), 0o644)
            setup.arguments += ["--drop-key", setup.newsroom.spool.directory.file("drop.key")]
        },
        Broken(name: "a spool that does not exist", error: "is not a folder", hint: "install -d -m 0700") { setup in
            setup.arguments += ["--spool", setup.newsroom.spool.directory.file("no-such-spool")]
        },
        Broken(name: "a spool others can read", error: "has mode 755; the daemon refuses anything but 0700", hint: "chmod 700") { setup in
            chmod(setup.newsroom.spool.path, 0o755)
        },
        Broken(name: "a spool that belongs to another user", error: "belongs to uid 65534, not to this user", hint: "sudo -u sealdrop") { setup in
            // CI runs as root (Scripts/test); as another user the chown itself fails and says so.
            try #require(chown(setup.newsroom.spool.path, 65534, 65534) == 0, "chown needs root")
        },
        Broken(name: "a free-space reserve the disk cannot keep", error: "less than free-disk-reserve (1000T): every upload would be refused", hint: "lower free-disk-reserve") { setup in
            setup.arguments += ["--free-disk-reserve", "1000T"]
        },
        Broken(name: "a free-inode reserve the file system cannot keep", error: "not more than free-inode-reserve (2000000000)", hint: "lower free-inode-reserve") { setup in
            setup.arguments += ["--free-inode-reserve", "2000000000"]
        },
        Broken(name: "the upload page on the TCP protocol's port", error: "listen and web-listen both name port 7700", hint: "give web-listen another port") { setup in
            setup.arguments += ["--web-listen", "127.0.0.1:7700"]
        },
        Broken(name: "a torrc that cannot be read", error: "cannot read the torrc", hint: "/etc/tor/torrc") { setup in
            setup.torrc = setup.newsroom.spool.directory.file("no-such-torrc")
        },
        Broken(name: "a torrc without an onion service", error: "has no onion service (HiddenServiceDir)", hint: "/etc/tor/torrc.d/sealdrop.conf") { setup in
            setup.torrc = try setup.file("torrc", "SocksPort 0\nSafeLogging 1\n")
        },
        Broken(name: "a HiddenServicePort to another port than listen", error: "no HiddenServicePort in", hint: "add HiddenServicePort 7700 127.0.0.1:7700") { setup in
            try setup.editTorrc { $0.replacingOccurrences(of: "HiddenServicePort 7700 127.0.0.1:7700", with: "HiddenServicePort 7700 127.0.0.1:7701") }
        },
        Broken(name: "no HiddenServicePort to the upload page", error: "reaches web-listen 127.0.0.1:7780: the onion service would not reach the upload page", hint: "add HiddenServicePort 80 127.0.0.1:7780") { setup in
            try setup.editTorrc { $0.replacingOccurrences(of: "HiddenServicePort 80 127.0.0.1:7780\n", with: "") }
        },
        Broken(name: "a HiddenServicePort that forwards off the machine", error: "forwards the drop's onion traffic to 192.0.2.10, off this machine", hint: "forward only to 127.0.0.1") { setup in
            try setup.editTorrc { $0.replacingOccurrences(of: "HiddenServicePort 80 127.0.0.1:7780", with: "HiddenServicePort 80 127.0.0.1:7780\nHiddenServicePort 443 192.0.2.10:443") }
        },
        Broken(name: "SafeLogging turned off", error: "sets SafeLogging 0: tor would write addresses", hint: "set SafeLogging 1") { setup in
            try setup.editTorrc { $0.replacingOccurrences(of: "SafeLogging 1", with: "SafeLogging 0") }
        },
        Broken(name: "a HiddenServicePort before any HiddenServiceDir", error: "comes before any HiddenServiceDir (tor refuses it)", hint: "tor --verify-config") { setup in
            try setup.editTorrc { "HiddenServicePort 9999 127.0.0.1:9999\n" + $0 }
        },
        Broken(name: "listen on port 0, which no torrc can name", error: "listen has port 0 (the system picks one at start)", hint: "give listen a fixed port, such as 127.0.0.1:7700") { setup in
            setup.arguments += ["--listen", "127.0.0.1:0"]
        },
    ]

    @Test("the shipped torrc with the daemon on its ports passes: configuration ok, exit 0")
    func shippedConfigurationPasses() throws {
        let result = try Setup().run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasSuffix("configuration ok\n"), "\(result.stdout)")
        #expect(result.stdout.contains("onion service /var/lib/tor/sealdrop/: virtual port 7700 reaches listen 127.0.0.1:7700"), "\(result.stdout)")
        #expect(result.stdout.contains("onion service /var/lib/tor/sealdrop/: virtual port 80 reaches web-listen 127.0.0.1:7780"))
        #expect(!result.stdout.contains("warning:"), "the shipped torrc sets every defence: \(result.stdout)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
    }

    @Test("each broken setting: its own error and hint, exit 1, no 'configuration ok'", arguments: CheckConfigTests.broken)
    func brokenSetting(_ broken: Broken) throws {
        var setup = try Setup()
        try broken.breakIt(&setup)
        let result = try setup.run()
        #expect(result.status == 1, "\(broken.name): \(result.stdout) \(result.stderr)")
        #expect(!result.stdout.contains("configuration ok"), "\(result.stdout)")
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("sealdropd: error: ") }
        let hints = result.stderr.split(separator: "\n").filter { $0.hasPrefix("sealdropd: hint: ") }
        #expect(errors.count == 1 && hints.count == 1, "exactly this one problem: \(result.stderr)")
        #expect(errors.first?.contains(broken.error) == true, "\(result.stderr)")
        #expect(hints.first?.contains(broken.hint) == true, "\(result.stderr)")
    }

    @Test("every problem is reported, not only the first; a torrc without defences draws warnings")
    func everyProblem() throws {
        var setup = try Setup()
        chmod(setup.newsroom.spool.path, 0o750)
        setup.arguments += ["--free-disk-reserve", "1000T"]
        setup.torrc = try setup.file("torrc", "HiddenServiceDir /var/lib/tor/sealdrop/\nHiddenServicePort 7700 127.0.0.1:7700\n")
        let result = try setup.run()
        #expect(result.status == 1)
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("sealdropd: error: ") }
        #expect(errors.count == 3, "\(result.stderr)")
        #expect(result.stderr.contains("has mode 750") && result.stderr.contains("free-disk-reserve") && result.stderr.contains("reaches web-listen"))
        #expect(result.stdout.contains("3 problem(s) found"))
        for warning in ["HiddenServiceMaxStreams", "HiddenServiceEnableIntroDoSDefense 1", "HiddenServicePoWDefensesEnabled 1", "does not set SocksPort"] {
            #expect(result.stdout.contains("warning: ") && result.stdout.contains(warning), "\(warning): \(result.stdout)")
        }
    }

    @Test("a torrc that includes the snippet from a folder (as Debian's does) is read through %include")
    func includedSnippet() throws {
        var setup = try Setup()
        let folder = setup.newsroom.spool.directory.file("torrc.d")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: CheckConfigTests.shippedTorrc, toPath: folder + "/sealdrop.conf")
        setup.torrc = try setup.file("torrc", "# Debian's /etc/tor/torrc, with its include\n%include \(folder)/*.conf\n")
        let result = try setup.run()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("virtual port 7700 reaches listen 127.0.0.1:7700"), "\(result.stdout)")
    }
}
