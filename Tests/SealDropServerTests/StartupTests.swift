import Foundation
import SealDropCrypto
import SealDropKeys
import SealDropServer
import SealDropTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// BAD-INPUTS classes 18 and 21, and the rest of how `sealdropd` starts: the listening line,
/// the configuration file, flags, defaults.
@Suite("Start-up")
struct StartupTests {
    /// Runs the daemon expecting it to refuse to start; returns stderr.
    func expectRefusal(_ arguments: [String], wrapper: [String] = [], mentions: String,
                       sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let (status, stderr) = try await runDaemonExpectingExit(arguments, wrapper: wrapper)
        #expect(status == 1, "status \(status): \(stderr)", sourceLocation: sourceLocation)
        #expect(stderr.hasPrefix("sealdropd: error: "), "\(stderr)", sourceLocation: sourceLocation)
        #expect(stderr.contains("\nsealdropd: hint: "), "\(stderr)", sourceLocation: sourceLocation)
        #expect(stderr.contains(mentions), "\(stderr)", sourceLocation: sourceLocation)
        #expect(!stderr.contains("listening on"), sourceLocation: sourceLocation)
        return stderr
    }

    @Test("ready: exactly one 'listening on HOST:PORT' line with the real port, and the key IDs logged")
    func listeningLine() async throws {
        let drop = try await RealDrop.start()
        let lines = drop.daemon.stderr.split(separator: "\n").filter { $0.contains("listening on") }
        #expect(lines == ["listening on 127.0.0.1:\(drop.port)"])
        #expect(drop.port > 0)
        #expect(drop.daemon.stderr.contains(drop.recipient.publicKey.keyID.description))
        // CI runs as root: the daemon says it should not (spoolPermissions checks the other way).
        #expect(drop.daemon.stderr.contains("running as root") == (geteuid() == 0), "\(drop.daemon.stderr)")
        #expect(receipt(try await drop.put(Array("hi".utf8))) != nil)
        #expect(await drop.stop() == 0)
    }

    @Test("class 18: spool missing, not a folder, or group/world accessible: refuse to start")
    func spoolRefusals() async throws {
        let key = Recipient().text
        let folder = try TemporaryDirectory("sealdropd-spool-refusals")
        _ = try await expectRefusal(["--spool", folder.file("missing"), "--recipient", key], mentions: "does not exist")
        #expect(FileManager.default.createFile(atPath: folder.file("file"), contents: Data()))
        _ = try await expectRefusal(["--spool", folder.file("file"), "--recipient", key], mentions: "is not a folder")
        for mode in [0o750, 0o705, 0o777, 0o710] {
            let path = folder.file("mode-\(String(mode, radix: 8))")
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            chmod(path, mode_t(mode))
            let stderr = try await expectRefusal(["--spool", path, "--recipient", key], mentions: "accessible to group or others")
            #expect(stderr.contains("chmod 0700"))
            #expect(!FileManager.default.fileExists(atPath: path + "/tmp"), "nothing is created in a refused spool")
        }
        // tmp or inbox replaced by a symbolic link.
        let linked = folder.file("linked")
        try FileManager.default.createDirectory(atPath: linked, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try FileManager.default.createDirectory(atPath: folder.file("elsewhere"), withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try FileManager.default.createSymbolicLink(atPath: linked + "/inbox", withDestinationPath: folder.file("elsewhere"))
        _ = try await expectRefusal(["--spool", linked, "--recipient", key], mentions: "is not a folder")
    }

    @Test("class 18: a spool the daemon's user cannot write, or that belongs to someone else (run as an unprivileged user)",
          .enabled(if: Machine.hasUnprivilegedUser, "needs root, setpriv (util-linux) and the user sealdrop-test (Scripts/test creates it)"))
    func spoolPermissions() async throws {
        let user = try #require(unprivilegedUser())
        let key = Recipient().text
        let base = "/tmp/sealdropd-perm-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: base) }
        // Owned by the user, but read-only for it.
        let readOnly = base + "/read-only"
        mkdir(readOnly, 0o500)
        chown(readOnly, user.uid, user.gid)
        _ = try await expectRefusal(["--spool", readOnly, "--recipient", key], wrapper: asUnprivilegedUser, mentions: "is not writable")
        // Owned by root, mode 0700: not the daemon's.
        let rootOwned = base + "/root-owned"
        mkdir(rootOwned, 0o700)
        _ = try await expectRefusal(["--spool", rootOwned, "--recipient", key], wrapper: asUnprivilegedUser, mentions: "belongs to uid 0")
        // Root runs a daemon on the user's spool: refused too (wrong owner).
        let userOwned = base + "/user-owned"
        mkdir(userOwned, 0o700)
        chown(userOwned, user.uid, user.gid)
        _ = try await expectRefusal(["--spool", userOwned, "--recipient", key], mentions: "belongs to uid \(user.uid)")
        // And the user's own 0700 spool works for the user.
        let drop = try DaemonProcess(["--listen", "127.0.0.1:0", "--spool", userOwned, "--recipient", key, "--free-disk-reserve", "0"],
                                     wrapper: asUnprivilegedUser)
        let port = try await drop.waitUntilListening()
        #expect(receipt(try await exchange(port: port, request(body: Array("ok".utf8)))) != nil)
        #expect(!drop.stderr.contains("running as root"), "\(drop.stderr)")
        drop.signal(SIGTERM)
        #expect(await drop.waitForExit() == 0)
    }

    @Test("a second daemon on the same spool is refused")
    func spoolLocked() async throws {
        let drop = try await RealDrop.start()
        _ = try await expectRefusal(["--spool", drop.spool.path, "--recipient", drop.recipient.text, "--listen", "127.0.0.1:0"], mentions: "in use by another process")
        #expect(await drop.stop() == 0)
    }

    @Test("class 21: a secret key given as a recipient, directly or in the recipients file: refuse to start")
    func secretKeyAsRecipient() async throws {
        let spool = try SpoolFolder()
        let secret = SecretKey.generate()
        let keyFile = try KeyFile.protect(secret, passphrase: SecureBytes(copying: UnsafeRawBufferPointer(start: nil, count: 0)))
        let keyLine = try #require(keyFile.text.split(separator: "\n").first { $0.hasPrefix("SEALDROP-SECRET-KEY") })
        _ = try await expectRefusal(["--spool", spool.path, "--recipient", String(keyLine)], mentions: "secret key")
        let file = spool.directory.file("recipients")
        try (Recipient().text + "\n" + keyFile.text).write(toFile: file, atomically: true, encoding: .utf8)
        let stderr = try await expectRefusal(["--spool", spool.path, "--recipients-file", file], mentions: "contains a secret key")
        #expect(!stderr.contains(String(keyLine.dropFirst(22).prefix(16))), "the secret key is echoed")
        #expect(spool.tempFiles().isEmpty && spool.inboxFiles().isEmpty)
    }

    @Test("no recipients, a bad key, an unreadable recipients file: refuse to start")
    func recipientRefusals() async throws {
        let spool = try SpoolFolder()
        _ = try await expectRefusal(["--spool", spool.path], mentions: "no recipients")
        _ = try await expectRefusal(["--spool", spool.path, "--recipient", "sealdrop1qqqq"], mentions: "recipient 1 of 1")
        _ = try await expectRefusal(["--spool", spool.path, "--recipients-file", spool.directory.file("nope")], mentions: "cannot read recipients file")
        let empty = spool.directory.file("empty")
        try "# nobody yet\n".write(toFile: empty, atomically: true, encoding: .utf8)
        _ = try await expectRefusal(["--spool", spool.path, "--recipients-file", empty], mentions: "no recipients")
        let typo = spool.directory.file("typo")
        var text = Recipient().text
        let last = text.removeLast()
        try "# a comment\n\(text)\(last == "x" ? "y" : "x")\n".write(toFile: typo, atomically: true, encoding: .utf8)
        _ = try await expectRefusal(["--spool", spool.path, "--recipients-file", typo], mentions: "line 2")
    }

    @Test("bad flag values are refused with the setting's name")
    func badFlags() async throws {
        let spool = try SpoolFolder()
        let key = Recipient().text
        _ = try await expectRefusal(["--spool", spool.path, "--recipient", key, "--listen", "localhost"], mentions: "--listen")
        _ = try await expectRefusal(["--spool", spool.path, "--recipient", key, "--listen", "127.0.0.1:70000"], mentions: "--listen")
        _ = try await expectRefusal(["--spool", spool.path, "--recipient", key, "--max-body-size", "12X"], mentions: "--max-body-size")
        _ = try await expectRefusal(["--spool", spool.path, "--recipient", key, "--idle-timeout", "soon"], mentions: "--idle-timeout")
        _ = try await expectRefusal(["--spool", spool.path, "--recipient", key, "--max-connections", "0"], mentions: "--max-connections")
        _ = try await expectRefusal(["--spool", spool.path, "--recipient", key, "--listen", "192.0.2.1:0"],
                                    mentions: "cannot listen on 192.0.2.1:0: 192.0.2.1 is not an address of this machine")
    }

    @Test("a port in use is said in words, with a hint, not with the library's internals")
    func portInUse() async throws {
        let drop = try await RealDrop.start()
        let spool = try SpoolFolder()
        let stderr = try await expectRefusal(["--spool", spool.path, "--recipient", Recipient().text, "--listen", "127.0.0.1:\(drop.port)"],
                                             mentions: "cannot listen on 127.0.0.1:\(drop.port): the port is already in use")
        #expect(stderr.contains("hint: see what holds it with: ss -ltnp 'sport = :\(drop.port)'"), "\(stderr)")
        #expect(!stderr.contains("errno") && !stderr.contains("bind("), "library internals: \(stderr)")
        #expect(await drop.stop() == 0)
    }

    @Test("configuration file: every key optional, flags override, recipients combined with the recipients file")
    func configurationFile() async throws {
        let spool = try SpoolFolder()
        let (a, b, c) = (Recipient(), Recipient(), Recipient())
        let recipientsFile = spool.directory.file("recipients")
        try "# newsroom\n\(c.text)\n".write(toFile: recipientsFile, atomically: true, encoding: .utf8)
        let config = spool.directory.file("sealdropd.yaml")
        try """
        # test configuration
        listen: 127.0.0.1:1
        spool: \(spool.path)
        recipients:
          - \(a.text)
          - \(b.text)
        recipients-file: \(recipientsFile)
        max-body-size: 1K
        header-timeout: 5s
        free-disk-reserve: 0
        log-level: debug
        """.write(toFile: config, atomically: true, encoding: .utf8)
        // --listen overrides the file's (unusable) port 1.
        let daemon = try DaemonProcess(["--config", config, "--listen", "127.0.0.1:0"])
        let port = try await daemon.waitUntilListening()
        let keys = try await exchange(port: port, Array("SEALDROP/1 KEYS\n\n".utf8))
        let document = String(keys.drop(while: { $0 != "\n" }).dropFirst())
        #expect(try Recipients.parse(document) == [a.publicKey, b.publicKey, c.publicKey])
        #expect(errorCode(try await exchange(port: port, request(body: content(1, size: 1025)))) == "too-large")
        #expect(receipt(try await exchange(port: port, request(body: content(1, size: 1024)))) != nil)
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
        #expect(daemon.stderr.contains("debug"), "log-level from the file")

        // Flags replace the file's recipients list (the recipients file still adds its keys).
        let daemon2 = try DaemonProcess(["--config", config, "--listen", "127.0.0.1:0", "--recipient", b.text])
        let port2 = try await daemon2.waitUntilListening()
        let keys2 = try await exchange(port: port2, Array("SEALDROP/1 KEYS\n\n".utf8))
        #expect(try Recipients.parse(String(keys2.drop(while: { $0 != "\n" }).dropFirst())) == [b.publicKey, c.publicKey])
        daemon2.signal(SIGTERM)
        #expect(await daemon2.waitForExit() == 0)
    }

    @Test("configuration file: unknown keys, wrong kinds and broken YAML are refused")
    func configurationRefusals() async throws {
        let spool = try SpoolFolder()
        let key = Recipient().text
        func write(_ text: String) throws -> String {
            let path = spool.directory.file("config-\(UUID().uuidString).yaml")
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        _ = try await expectRefusal(["--config", try write("spool: \(spool.path)\nmax_body_size: 5\n"), "--recipient", key], mentions: "max_body_size")
        _ = try await expectRefusal(["--config", try write("spool: \(spool.path)\nlimits:\n  max: 5\n"), "--recipient", key], mentions: "unknown settings")
        _ = try await expectRefusal(["--config", try write("spool: \(spool.path)\nmax-connections: many\n"), "--recipient", key], mentions: "max-connections")
        _ = try await expectRefusal(["--config", try write("spool: [\(spool.path)\n"), "--recipient", key], mentions: "cannot read configuration file")
        _ = try await expectRefusal(["--config", spool.directory.file("missing.yaml"), "--recipient", key], mentions: "cannot read configuration file")
    }

    @Test("every setting's text form round-trips, and the sample file shows exactly the built-in defaults")
    func settingTexts() throws {
        var changed = DaemonConfiguration()
        changed.limits.headerTimeout = .milliseconds(1500)
        changed.limits.spoolQuotaBytes = 12_345
        changed.host = "::1"
        changed.webListen = .init(host: "127.0.0.1", port: 0)
        for configuration in [DaemonConfiguration(), changed] {
            var copy = DaemonConfiguration()
            for setting in DaemonConfiguration.Setting.allCases {
                if let text = configuration.text(of: setting) { try copy.apply(setting, value: text) }
            }
            #expect(copy == configuration)
        }
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Config/sealdropd.yaml").path
        let lines = try String(contentsOfFile: sample, encoding: .utf8).split(separator: "\n")
        for setting in DaemonConfiguration.Setting.allCases {
            guard let text = DaemonConfiguration().text(of: setting) else { continue }
            #expect(lines.contains("# \(setting.rawValue): \(text)"), "Config/sealdropd.yaml should show # \(setting.rawValue): \(text)")
        }
    }

    @Test("the sample configuration Config/sealdropd.yaml loads and states the embedded defaults")
    func sampleConfiguration() async throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Config/sealdropd.yaml").path
        // Uncomment every "# key: value" line: the result must load and equal the defaults.
        let text = try String(contentsOfFile: sample, encoding: .utf8)
        let settings = text.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("# "), let colon = line.firstIndex(of: ":") else { return nil }
            let key = line.dropFirst(2)[..<colon]
            return DaemonConfiguration.Setting(rawValue: String(key)) != nil ? String(line.dropFirst(2)) : nil
        }
        #expect(Set(settings.compactMap { $0.split(separator: ":").first.map(String.init) })
            == Set(DaemonConfiguration.Setting.allCases.map(\.rawValue))
                .subtracting(["recipients", "recipients-file", "signed-recipients", "signing-key", "drop-key", "web-listen"]))
        let folder = try TemporaryDirectory("sealdropd-sample")
        let uncommented = folder.file("all.yaml")
        try settings.joined(separator: "\n").write(toFile: uncommented, atomically: true, encoding: .utf8)
        var loaded = DaemonConfiguration()
        try await loaded.load(yamlFile: uncommented)
        #expect(loaded == DaemonConfiguration())
        var plain = DaemonConfiguration()
        try await plain.load(yamlFile: sample)
        #expect(plain == DaemonConfiguration())
    }
}
