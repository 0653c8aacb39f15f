import Foundation
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropStore
import SealDropTestSupport
import Testing

/// The keyholder's everyday path, as a new keyholder meets it: through the real binaries, in a
/// pseudo-terminal where the terminal is the point, each from a fresh home folder.
@Suite("keyholder everyday use")
struct EverydayTests {
    /// A fresh home folder and the environment to run keyholder in it.
    struct Home {
        let dir: TemporaryDirectory
        var path: String { dir.path }
        var environment: [String: String] { Harness.environment(home: dir.path) }
        func file(_ name: String) -> String { dir.file(name) }

        init() throws { dir = try TemporaryDirectory("fresh-home") }

        func keyholder(_ arguments: [String], currentDirectory: String? = nil) throws -> ProcessResult {
            try Harness.keyholder(arguments, currentDirectory: currentDirectory, environment: environment)
        }

        /// `keyholder ARGUMENTS` on a terminal, in this home.
        func onTerminal(_ arguments: [String]) -> [String] {
            ["/usr/bin/env", "HOME=\(path)", Harness.keyholderPath] + arguments
        }

        /// A key made with keygen and a passphrase file, and a medium with submissions sealed to it.
        func keyAndMedium(contents: [Data], messages: [String?]? = nil) throws -> (key: PublicKey, pass: String, medium: String, ids: [SubmissionID]) {
            let pass = file("pass")
            try Data((TestKey.passphrase + "\n").utf8).write(to: URL(fileURLWithPath: pass))
            let keygen = try keyholder(["keygen", "--output", file(".sealdrop/keys/me.key"), "--passphrase-file", pass])
            #expect(keygen.status == 0, "\(keygen.stderr)")
            let key = try PublicKey(text: String(keygen.stdout.split(separator: "\n").last!))
            let medium = file("usb")
            try FileManager.default.createDirectory(atPath: medium, withIntermediateDirectories: false)
            var ids: [SubmissionID] = []
            for (index, content) in contents.enumerated() {
                let plain = file("doc\(index).txt")
                try content.write(to: URL(fileURLWithPath: plain))
                let id = SubmissionID.random()
                var arguments = ["seal", "-r", key.text, "-o", "\(medium)/\(id.fileName)"]
                if let message = messages?[index] { arguments += ["--message", message] }
                let seal = try Harness.sealdrop(arguments + [plain])
                #expect(seal.status == 0, "\(seal.stderr)")
                ids.append(id)
            }
            return (key, pass, medium, ids)
        }
    }

    @Test("the README's first step works on a fresh machine: keygen creates the keyring folder, 0700")
    func keygenOnAFreshMachine() throws {
        let home = try Home()
        let pass = home.file("pass")
        try Data((TestKey.passphrase + "\n").utf8).write(to: URL(fileURLWithPath: pass))
        let result = try home.keyholder(["keygen", "--output", home.file(".sealdrop/keys/me.key"), "--passphrase-file", pass])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("keyholder: created the folder \(home.file(".sealdrop/keys")) (mode 0700)"))
        for folder in [".sealdrop", ".sealdrop/keys"] {
            let mode = try FileManager.default.attributesOfItem(atPath: home.file(folder))[.posixPermissions] as? Int
            #expect(mode == 0o700, "\(folder)")
        }
        let mode = try FileManager.default.attributesOfItem(atPath: home.file(".sealdrop/keys/me.key"))[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("a weak passphrase is refused, from a file or on the terminal, where a weak one or a mismatched repeat asks again")
    func weakPassphrases() throws {
        let home = try Home()
        try Data("a\n".utf8).write(to: URL(fileURLWithPath: home.file("weak")))
        let weak = try home.keyholder(["keygen", "--output", home.file("k.key"), "--passphrase-file", home.file("weak")])
        #expect(weak.status == 1)
        #expect(weak.stderr.contains("keyholder: error: the passphrase in \(home.file("weak")) is too weak: about 3 bits by keyholder's estimate, and a key needs 64"), "\(weak.stderr)")
        #expect(weak.stderr.contains("keyholder: hint: use --generate-passphrase"))
        #expect(!FileManager.default.fileExists(atPath: home.file("k.key")))

        let strong = TestKey.passphrase
        let result = try converse(home.onTerminal(["keygen", "--output", home.file("t.key")]), replies: [
            ("Passphrase for the new key: ", ["a", strong, strong]),
            ("Repeat the passphrase: ", [strong + " but not quite", strong]),
        ])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("the passphrase you typed is too weak: about 3 bits"), "\(result.output)")
        #expect(result.output.contains("The passphrases do not match. Try again."))
        #expect(!result.output.contains(strong), "a passphrase was echoed")
        #expect(FileManager.default.fileExists(atPath: home.file("t.key")))
    }

    @Test("a passphrase over 1023 bytes is refused alike from a file and on the terminal, so a key made from a file can always be typed")
    func overlongPassphrase() throws {
        let home = try Home()
        let long = Array(repeating: "unvarying", count: 110).joined(separator: " ")
        #expect(long.utf8.count > 1023)
        try Data((long + "\n").utf8).write(to: URL(fileURLWithPath: home.file("long")))
        let fromFile = try home.keyholder(["keygen", "--output", home.file("f.key"), "--passphrase-file", home.file("long")])
        #expect(fromFile.status == 1)
        #expect(fromFile.stderr.contains("keyholder: error: the passphrase in \(home.file("long")) is longer than 1023 bytes"), "\(fromFile.stderr)")
        #expect(!FileManager.default.fileExists(atPath: home.file("f.key")))
        // On the terminal it is refused and asked for again, as a weak one is.
        let strong = TestKey.passphrase
        let typed = try converse(home.onTerminal(["keygen", "--output", home.file("t.key")]), replies: [
            ("Passphrase for the new key: ", [long, strong]),
            ("Repeat the passphrase: ", [strong]),
        ])
        #expect(typed.status == 0, "\(typed.output)")
        #expect(typed.output.contains("the passphrase is longer than 1023 bytes. Try again"), "\(typed.output)")
        #expect(FileManager.default.fileExists(atPath: home.file("t.key")))
    }

    @Test("--generate-passphrase shows six words on the terminal, asks for them back, and the key opens with them")
    func generatedPassphrase() throws {
        let home = try Home()
        func shownPassphrase(_ text: String) -> String {
            guard let marker = text.range(of: "it is shown only this once:") else { return "" }
            return text[marker.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines).components(separatedBy: "\r\n")[0]
        }
        var shown = ""
        let result = try converse(home.onTerminal(["keygen", "--output", home.file("g.key"), "--generate-passphrase"]), computing: [
            ("Type it back to show you have it: ", [{ _ in "not it" }, { text in shown = shownPassphrase(text); return shown }]),
        ])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("Your new passphrase (6 random words, about "))
        #expect(result.output.contains("That is not it. Try again"))
        let words = shown.split(separator: " ")
        #expect(words.count == 6, "\(shown.debugDescription)")
        // The words open the key.
        try Data((shown + "\n").utf8).write(to: URL(fileURLWithPath: home.file("generated")))
        let folder = home.file("in")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        let publicKey = String(result.output.components(separatedBy: "\r\n").last { $0.hasPrefix("sealdrop1") }!)
        try Data("x".utf8).write(to: URL(fileURLWithPath: home.file("x.txt")))
        #expect(try Harness.sealdrop(["seal", "-r", publicKey, "-o", folder + "/x.sealdrop", home.file("x.txt")]).status == 0)
        let opened = try home.keyholder(["verify", "--key", home.file("g.key"), "--passphrase-file", home.file("generated"), folder])
        #expect(opened.status == 0, "\(opened.stderr)")
        // Off a terminal there is nobody to show it to.
        let noTerminal = try home.keyholder(["keygen", "--output", home.file("h.key"), "--generate-passphrase"])
        #expect(noTerminal.status == 1 && noTerminal.stderr.contains("no terminal"), "\(noTerminal.stderr)")
    }

    @Test("decrypt writes each submission's metadata and message beside it, records it, skips it next time unless --again, and list shows what is new")
    func decryptRecordsAndSkips() throws {
        let home = try Home()
        let (_, pass, medium, ids) = try home.keyAndMedium(contents: [Data("first".utf8), Data("second".utf8)],
                                                            messages: ["call me\n\u{1B}[2Jon Friday", nil])
        let imported = try home.keyholder(["import", "--passphrase-file", pass, medium])
        #expect(imported.status == 0, "\(imported.stderr)")
        let list = try home.keyholder(["list", "--passphrase-file", pass])
        #expect(list.stdout.split(separator: "\n").dropFirst().allSatisfy { $0.contains("  new  ") }, "\(list.stdout)")

        let out = home.file("opened")
        let first = try home.keyholder(["decrypt", "--passphrase-file", pass, "--out", out, ids[0].text])
        #expect(first.status == 0, "\(first.stderr)")
        let about = try String(contentsOfFile: out + "/doc0.txt.about.txt", encoding: .utf8)
        #expect(about.hasPrefix("SealDrop submission \(ids[0].text)\n"))
        #expect(about.contains("content     doc0.txt (5 bytes), beside this file"))
        #expect(about.contains("> call me\n> \\u{1b}[2Jon Friday\n"))
        let attributes = try FileManager.default.attributesOfItem(atPath: out + "/doc0.txt.about.txt")
        #expect(attributes[.posixPermissions] as? Int == 0o600, "never executable")

        let listed = try home.keyholder(["list", "--json", "--passphrase-file", pass])
        let news = listed.stdout.split(separator: "\n").map { ($0.contains(ids[0].text), $0.contains(#""new":true"#)) }
        #expect(news.sorted { !$0.0 && $1.0 } .map(\.1) == [true, false], "\(listed.stdout)")

        let all = try home.keyholder(["decrypt", "--passphrase-file", pass, "--out", out, "--all"])
        #expect(all.status == 0, "\(all.stderr)")
        #expect(all.stderr.contains("keyholder: skipped 1 submission(s) decrypted before (\(ids[0].text)); --again decrypts them again"))
        #expect(all.stdout.contains("doc1.txt") && !all.stdout.contains("doc0"))
        let nothingLeft = try home.keyholder(["decrypt", "--passphrase-file", pass, "--out", out, "--all"])
        #expect(nothingLeft.status == 0 && nothingLeft.stdout.isEmpty)
        let again = try home.keyholder(["decrypt", "--passphrase-file", pass, "--out", out, "--all", "--again"])
        #expect(again.status == 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(names == ["doc0 (1).txt", "doc0 (1).txt.about.txt", "doc0.txt", "doc0.txt.about.txt",
                          "doc1 (1).txt", "doc1 (1).txt.about.txt", "doc1.txt", "doc1.txt.about.txt"], "\(names)")
        let record = try String(contentsOfFile: home.file(".sealdrop/archive/decrypted.jsonl"), encoding: .utf8)
        #expect(record.split(separator: "\n").count == 4)
        #expect(!record.contains("doc0"), "the record names no file")
    }

    @Test("fingerprints again: of a signing key file, and of public keys given as text")
    func fingerprints() throws {
        let home = try Home()
        let pass = home.file("pass")
        try Data((TestKey.passphrase + "\n").utf8).write(to: URL(fileURLWithPath: pass))
        let signing = try home.keyholder(["keygen", "--signing", "--output", home.file("sign.key"), "--passphrase-file", pass])
        let signingText = String(signing.stdout.split(separator: "\n").last!)
        let signingKey = try SigningPublicKey(text: signingText)
        let again = try home.keyholder(["pubkey", "--fingerprint", home.file("sign.key")])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout == "# signing key fingerprint: \(signingKey.fingerprint)\n\(signingText)\n")
        let fromText = try home.keyholder(["fingerprint", signingText])
        #expect(fromText.stdout == "signing key (sealdropsign1…)\nfingerprint:  \(signingKey.fingerprint)\n")
        let key = try Harness.publicKey("a")
        let decryption = try home.keyholder(["fingerprint", key.text])
        #expect(decryption.stdout == "decryption key (sealdrop1…)\nkey ID:       \(key.keyID)\nfingerprint:  \(key.fingerprint)\n")
        var typo = Array(key.text)
        typo[12] = typo[12] == "q" ? "p" : "q"
        let mistyped = try home.keyholder(["fingerprint", String(typo)])
        #expect(mistyped.status == 1 && mistyped.stderr.contains("checksum mismatch") && mistyped.stderr.contains("keyholder: hint:"))
    }

    @Test("rekey shows progress on a terminal for a large file, and says what it skipped")
    func rekeyProgress() throws {
        let home = try Home()
        let (_, pass, medium, _) = try home.keyAndMedium(contents: [Data(testBytes(count: 12 << 20))])
        #expect(try home.keyholder(["import", "--passphrase-file", pass, medium]).status == 0)
        let target = try Harness.publicKey("b")
        let shown = try converse(home.onTerminal(["rekey", "--passphrase-file", pass, "--to", target.text, "--all"]), replies: [])
        #expect(shown.status == 0, "\(shown.output)")
        #expect(shown.output.contains("100% [" + String(repeating: "#", count: 10)), "\(shown.output.debugDescription)")
        #expect(shown.output.contains("re-keyed to key ID \(target.keyID)"))
        let skipped = try home.keyholder(["rekey", "--passphrase-file", pass, "--to", target.text, "--all"])
        #expect(skipped.status == 0 && skipped.stderr.contains("1 submission(s) already sealed to exactly key ID \(target.keyID): left as they are"))
    }

    @Test("inspect's help says what it can check without a key, and a cut it cannot see passes as the help says")
    func inspectHelpTellsTheTruth() throws {
        let help = try Harness.keyholder(["inspect", "--help"])
        let text = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(text.contains("Most truncations and appended bytes leave a possible size and pass"), "\(help.stdout)")
        #expect(text.contains("only 'keyholder verify', with a key, finds every one"))
        let workspace = try Workspace()
        let path = try workspace.seal(Data(testBytes(count: 300_000)), name: "x.bin")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count - 1000).write(to: URL(fileURLWithPath: path))
        let inspect = try Harness.keyholder(["inspect", path])
        #expect(inspect.status == 0, "a 1,000-byte cut leaves a possible size: \(inspect.stderr)")
        let verify = try Harness.keyholder(["verify"] + workspace.keyArguments() + [path])
        #expect(verify.status == 1 && verify.stdout.contains("payload failure"))
    }

    @Test("keyholder shell unlocks a key once for several commands, forgets it on 'lock' and when idle, and keeps no history")
    func shell() throws {
        let home = try Home()
        let (_, _, medium, ids) = try home.keyAndMedium(contents: [Data("one".utf8), Data("two".utf8)])
        let before = Set(try FileManager.default.subpathsOfDirectory(atPath: home.path))
        let prompt = "Passphrase for \(home.file(".sealdrop/keys/me.key"))"
        let out = home.file("opened")
        let result = try converse(home.onTerminal(["shell", "--idle-lock", "0.1"]), replies: [
            ("keyholder> ", ["import '\(medium)'", "list", "show \(ids[0].text)", "decrypt --out \(out) \(ids[1].text)", "lock", "list"]),
            // Then nothing is typed until the idle lock (6 s) has forgotten the key.
            ("without a command\r\nkeyholder> ", ["show \(ids[1].text)", "exit"]),
            (prompt, Array(repeating: TestKey.passphrase, count: 5)),
        ])
        #expect(result.status == 0, "\(result.output)")
        let asked = result.output.components(separatedBy: prompt).count - 1
        // Once for import, list, show and decrypt together; again after 'lock'; again after the idle lock.
        #expect(asked == 3, "asked \(asked) times: \(result.output)")
        #expect(result.output.contains("keys forgotten"))
        #expect(result.output.contains("locked: the keys were forgotten after 0.1 minutes without a command"), "\(result.output)")
        #expect(result.output.contains("name       doc0.txt"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/doc1.txt")) == Data("two".utf8))
        // Nothing but the archive, its records and the output appeared: no history file.
        let after = Set(try FileManager.default.subpathsOfDirectory(atPath: home.path)).subtracting(before)
        #expect(after.allSatisfy { $0.hasPrefix(".sealdrop/archive") || $0.hasPrefix("opened") }, "\(after.sorted())")
        #expect(!after.contains { $0.localizedCaseInsensitiveContains("history") })
    }
}
