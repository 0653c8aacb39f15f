import Foundation
import SealDropCrypto
import SealDropKeys
import SealDropStore
import SealDropTestSupport
import Testing

/// keyholder rotate, rekey, retire and sign-recipients, through the real binaries, on an
/// archive filled by `keyholder import`.
@Suite("Key rotation commands")
struct RotationCLITests {
    /// A home folder with a keyring of one current key (`alice.key`), an archive holding two
    /// submissions sealed to it (imported from a "medium"), and the passphrase file.
    struct Setup {
        let home: TemporaryDirectory
        let pass: String
        let medium: String
        let content: Data
        let alice: PublicKey

        var ring: String { home.file(".sealdrop/keys") }
        var archive: String { home.file(".sealdrop/archive/submissions") }
        var keyFiles: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: ring)) ?? []).filter { $0.hasSuffix(".key") }.sorted() }
        func path(_ name: String) -> String { (ring as NSString).appendingPathComponent(name) }
        func archived(_ id: String) -> String { (archive as NSString).appendingPathComponent("\(id).sealdrop") }

        /// Runs keyholder with this home folder.
        func keyholder(_ arguments: [String]) throws -> ProcessResult {
            try Harness.keyholder(arguments, environment: Harness.environment(home: home.path))
        }

        /// Seals the content to `key` onto the medium as `<id>.sealdrop`.
        @discardableResult
        func seal(to key: PublicKey, id: SubmissionID = .random()) throws -> SubmissionID {
            let seal = try Harness.sealdrop(["seal", "-r", key.text, "-o", (medium as NSString).appendingPathComponent(id.fileName), home.file("doc.pdf")])
            #expect(seal.status == 0, "\(seal.stderr)")
            return id
        }
    }

    static let one = SubmissionID("oneoneoneoneoneoneoneone")!
    static let two = SubmissionID("twotwotwotwotwotwotwotwo")!

    func setUp() throws -> Setup {
        let home = try TemporaryDirectory("rotation-home")
        let pass = home.file("pass")
        try Data((TestKey.passphrase + "\n").utf8).write(to: URL(fileURLWithPath: pass))
        let keygen = try Harness.keyholder(["keygen", "--output", home.file(".sealdrop/keys/alice.key"), "--passphrase-file", pass],
                                           environment: Harness.environment(home: home.path))
        #expect(keygen.status == 0, "\(keygen.stderr)")
        let alice = try PublicKey(text: String(keygen.stdout.split(separator: "\n").last!))
        let setup = Setup(home: home, pass: pass, medium: home.file("usb"), content: Data(testBytes(count: 150_000)), alice: alice)
        try FileManager.default.createDirectory(atPath: setup.medium, withIntermediateDirectories: false)
        try setup.content.write(to: URL(fileURLWithPath: home.file("doc.pdf")))
        try setup.seal(to: alice, id: Self.one)
        try setup.seal(to: alice, id: Self.two)
        let imported = try setup.keyholder(["import", "--passphrase-file", pass, setup.medium])
        #expect(imported.status == 0, "\(imported.stderr)")
        return setup
    }

    @Test("rotate keeps the key's name, retires the old one as NAME.KEYID.retired.key, records it, and prints the line to remove and the line to add")
    func rotateKeepsNames() throws {
        let setup = try setUp()
        let rotate = try setup.keyholder(["rotate", "--passphrase-file", setup.pass])
        #expect(rotate.status == 0, "\(rotate.stderr)")
        let lines = rotate.stdout.split(separator: "\n").map(String.init)
        let newKey = try PublicKey(text: try #require(lines.last))
        #expect(setup.keyFiles == ["alice.\(setup.alice.keyID).retired.key", "alice.key"])
        #expect(try publicKeyOfKeyFile(setup.path("alice.key")) == newKey)
        #expect(lines.contains("#   \(setup.alice.text)"), "the exact line to remove: \(rotate.stdout)")
        #expect(lines.contains { $0.hasPrefix("# in the daemon's recipients file") && $0.contains("remove the line") })
        #expect(lines.dropLast().last == "# and add this line:")
        #expect(!rotate.stdout.contains("replace the line of key ID"))
        let record = try String(contentsOfFile: setup.path("retirements.jsonl"), encoding: .utf8)
        #expect(record.contains(#""event":"retired""#) && record.contains(setup.alice.keyID.description))
        // The retired key still reads the archive through the keyring.
        let list = try setup.keyholder(["list", "--passphrase-file", setup.pass])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.contains(setup.alice.keyID.description))
    }

    @Test("rekey rewrites only the archive's header, skips what is already sealed to the target without asking for a key, and refuses a medium")
    func rekeyTheArchive() throws {
        let setup = try setUp()
        let original = try Data(contentsOf: URL(fileURLWithPath: setup.archived(Self.one.text)))
        let onMedium = (setup.medium as NSString).appendingPathComponent(Self.one.fileName)
        let mediumBefore = try Data(contentsOf: URL(fileURLWithPath: onMedium))
        _ = try setup.keyholder(["rotate", "--passphrase-file", setup.pass])
        let newKey = try publicKeyOfKeyFile(setup.path("alice.key"))

        let refused = try setup.keyholder(["rekey", "--passphrase-file", setup.pass, "--to", newKey.text, onMedium])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("is not in the archive") && refused.stderr.contains("never a medium or the server's inbox"), "\(refused.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: onMedium)) == mediumBefore)

        let rekey = try setup.keyholder(["rekey", "--passphrase-file", setup.pass, "--to", newKey.text, "--all"])
        #expect(rekey.status == 0, "\(rekey.stderr)")
        #expect(rekey.stdout.contains("\(Self.one.text): re-keyed to key ID \(newKey.keyID)"))
        let rekeyed = try Data(contentsOf: URL(fileURLWithPath: setup.archived(Self.one.text)))
        // Only the header changed: 134 bytes for one recipient.
        #expect(rekeyed.count == original.count)
        #expect(rekeyed[134...] == original[134...])
        #expect(rekeyed[..<134] != original[..<134])
        #expect(try Data(contentsOf: URL(fileURLWithPath: onMedium)) == mediumBefore, "the medium is never written to")
        #expect(try FileManager.default.contentsOfDirectory(atPath: setup.archive).sorted() == [Self.one.fileName, Self.two.fileName].sorted())

        // Everything is sealed to the target now: nothing is rewritten and no key is unlocked
        // (a wrong passphrase file would fail any unlock).
        try Data("wrong wrong wrong wrong wrong wrong\n".utf8).write(to: URL(fileURLWithPath: setup.home.file("wrong")))
        let again = try setup.keyholder(["rekey", "--passphrase-file", setup.home.file("wrong"), "--to", newKey.text, "--all"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.isEmpty)
        #expect(again.stderr.contains("2 submission(s) already sealed to exactly key ID \(newKey.keyID): left as they are"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: setup.archived(Self.one.text))) == rekeyed)

        let opened = try setup.keyholder(["decrypt", "--key", setup.path("alice.key"), "--passphrase-file", setup.pass, "--out", setup.home.file("o"), Self.one.text])
        #expect(opened.status == 0, "\(opened.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: setup.home.file("o/doc.pdf"))) == setup.content)
    }

    @Test("rekey refuses a submission with a tampered header and leaves it exactly as it was")
    func tamperedHeader() throws {
        let setup = try setUp()
        let path = setup.archived(Self.one.text)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[120] ^= 0x01  // inside the header MAC
        try bytes.write(to: URL(fileURLWithPath: path))
        let target = SecretKey.generate().publicKey
        let rekey = try setup.keyholder(["rekey", "--passphrase-file", setup.pass, "--to", target.text, Self.one.text])
        #expect(rekey.status == 1)
        #expect(rekey.stderr.contains("header failure") && rekey.stderr.contains("the original is unchanged"), "\(rekey.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
        #expect(try FileManager.default.contentsOfDirectory(atPath: setup.archive).sorted() == [Self.one.fileName, Self.two.fileName].sorted())
    }

    @Test("rekey --full re-encrypts the payload under a fresh file key")
    func fullRekey() throws {
        let setup = try setUp()
        let path = setup.archived(Self.two.text)
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let second = try TestKey.make(in: setup.home, name: "b")
        let rekey = try setup.keyholder(["rekey", "--full", "--passphrase-file", setup.pass, "--to", second.publicKeyText, Self.two.text])
        #expect(rekey.status == 0, "\(rekey.stderr)")
        #expect(rekey.stdout.contains("(payload re-encrypted)"))
        let rekeyed = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(rekeyed[200...] != original[200...])
        let opened = try setup.keyholder(["decrypt", "--key", second.keyPath, "--passphrase-file", second.passphrasePath, "--out", setup.home.file("o"), Self.two.text])
        #expect(opened.status == 0, "\(opened.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: setup.home.file("o/doc.pdf"))) == setup.content)
    }

    @Test("retire refuses a current key, a key the archive needs, a key with no import since its retirement, an empty check, and destroys only with the key ID typed back")
    func retireRefusals() throws {
        let setup = try setUp()
        let oldID = setup.alice.keyID.description
        let current = try setup.keyholder(["retire", "--destroy", oldID, "--confirm", oldID])
        #expect(current.status == 2 && current.stderr.contains("is current, not retired"), "\(current.stderr)")

        _ = try setup.keyholder(["rotate", "--passphrase-file", setup.pass])
        let newKey = try publicKeyOfKeyFile(setup.path("alice.key"))
        let needed = try setup.keyholder(["retire", "--destroy", oldID, "--confirm", oldID])
        #expect(needed.status == 2)
        #expect(needed.stderr.contains("2 submission(s) still need key ID \(oldID)") && needed.stderr.contains("the key was kept"), "\(needed.stderr)")
        #expect(needed.stderr.contains("keyholder: hint: re-key them first"))

        #expect(try setup.keyholder(["rekey", "--passphrase-file", setup.pass, "--to", newKey.text, "--all"]).status == 0)
        let noImport = try setup.keyholder(["retire", "--destroy", oldID, "--confirm", oldID])
        #expect(noImport.status == 2)
        #expect(noImport.stderr.contains("no medium holding submissions was imported since key ID \(oldID) was retired"), "\(noImport.stderr)")

        // An empty folder (an unmounted mount point) proves nothing.
        try FileManager.default.createDirectory(atPath: setup.home.file("empty"), withIntermediateDirectories: false)
        #expect(try setup.keyholder(["import", "--passphrase-file", setup.pass, setup.home.file("empty")]).status == 0)
        let empty = try setup.keyholder(["retire", "--destroy", oldID, "--confirm", oldID])
        #expect(empty.status == 2 && empty.stderr.contains("no medium holding submissions was imported"), "\(empty.stderr)")

        // The server still holds the two old submissions: importing it again examines them.
        try setup.seal(to: newKey)
        #expect(try setup.keyholder(["import", "--passphrase-file", setup.pass, setup.medium]).status == 0)
        let offTerminal = try setup.keyholder(["retire", "--destroy", oldID])
        #expect(offTerminal.status == 2)
        #expect(offTerminal.stderr.contains("no terminal to confirm the destruction") && offTerminal.stderr.contains("--confirm \(oldID)"))
        let wrongConfirm = try setup.keyholder(["retire", "--destroy", oldID, "--confirm", newKey.keyID.description])
        #expect(wrongConfirm.status == 2 && wrongConfirm.stderr.contains("is not the key ID to destroy"))
        #expect(setup.keyFiles.contains("alice.\(oldID).retired.key"))

        let retired = try setup.keyholder(["retire", "--destroy", oldID, "--confirm", oldID])
        #expect(retired.status == 0, "\(retired.stderr)")
        #expect(retired.stdout.contains("examined 3 submission(s) in the archive"))
        #expect(retired.stdout.contains("examined the import of") && retired.stdout.contains("3 submission(s)"))
        #expect(retired.stdout.contains("destroyed key ID \(oldID)"))
        #expect(setup.keyFiles == ["alice.key"])
        #expect(try String(contentsOfFile: setup.path("retirements.jsonl"), encoding: .utf8).contains(#""event":"destroyed""#))
    }

    @Test("on a terminal, retire asks for the key ID to be typed back and keeps the key on a wrong answer")
    func retireOnTerminal() throws {
        let setup = try setUp()
        let oldID = setup.alice.keyID.description
        _ = try setup.keyholder(["rotate", "--passphrase-file", setup.pass])
        let newKey = try publicKeyOfKeyFile(setup.path("alice.key"))
        #expect(try setup.keyholder(["rekey", "--passphrase-file", setup.pass, "--to", newKey.text, "--all"]).status == 0)
        try setup.seal(to: newKey)
        #expect(try setup.keyholder(["import", "--passphrase-file", setup.pass, setup.medium]).status == 0)
        let command = ["/usr/bin/env", "HOME=\(setup.home.path)", Harness.keyholderPath, "retire", "--destroy", oldID]
        let wrong = try runOnTerminal(command, answers: [("Type the key ID to destroy it: ", "0000000000000000")])
        #expect(wrong.status == 2)
        #expect(wrong.output.contains("cannot be undone"))
        #expect(wrong.output.contains("that is not key ID \(oldID); the key was kept"), "\(wrong.output)")
        #expect(setup.keyFiles.contains("alice.\(oldID).retired.key"))
        let right = try runOnTerminal(command, answers: [("Type the key ID to destroy it: ", oldID)])
        #expect(right.status == 0, "\(right.output)")
        #expect(right.output.contains("destroyed key ID \(oldID)"))
        #expect(setup.keyFiles == ["alice.key"])
    }

    @Test("sign-recipients writes a list the daemon and clients can verify; --previous takes the next serial, and refuses after the largest")
    func signRecipients() throws {
        let dir = try TemporaryDirectory()
        try Data((TestKey.passphrase + "\n").utf8).write(to: URL(fileURLWithPath: dir.file("pass")))
        let keygen = try Harness.keyholder(["keygen", "--signing", "--output", dir.file("sign.key"), "--passphrase-file", dir.file("pass")])
        #expect(keygen.status == 0, "\(keygen.stderr)")
        let signingKey = try SigningPublicKey(text: String(keygen.stdout.split(separator: "\n").last!))
        let a = SecretKey.generate().publicKey, b = SecretKey.generate().publicKey
        let sign = ["sign-recipients", "--signing-key", dir.file("sign.key"), "--passphrase-file", dir.file("pass")]
        let first = try Harness.keyholder(sign + ["--serial", "1", "--output", dir.file("list1"), a.text])
        #expect(first.status == 0, "\(first.stderr)")
        let list1 = try SignedRecipients.parse(String(contentsOfFile: dir.file("list1"), encoding: .utf8), pinnedKey: signingKey)
        #expect(list1.serial == 1 && list1.recipients == [a])
        let second = try Harness.keyholder(sign + ["--previous", dir.file("list1"), "--output", dir.file("list2"), b.text, a.text])
        #expect(second.status == 0, "\(second.stderr)")
        let list2 = try SignedRecipients.parse(String(contentsOfFile: dir.file("list2"), encoding: .utf8), pinnedKey: signingKey)
        #expect(list2.serial == 2 && list2.recipients == [b, a])
        // Every list expires: 90 days by default, --expires-in DAYS otherwise (1 to 366).
        #expect(abs(list1.expires.timeIntervalSince(list1.date) - 90 * 86_400) < 1)
        #expect(first.stdout.contains("# expires ") && first.stdout.contains("(in 90 days): sign the next list before then"), "\(first.stdout)")
        let short = try Harness.keyholder(sign + ["--serial", "5", "--expires-in", "7", "--output", dir.file("short"), a.text])
        #expect(short.status == 0, "\(short.stderr)")
        let shortList = try SignedRecipients.parse(String(contentsOfFile: dir.file("short"), encoding: .utf8), pinnedKey: signingKey)
        #expect(abs(shortList.expires.timeIntervalSince(shortList.date) - 7 * 86_400) < 1)
        for days in ["0", "367", "soon"] {
            let refused = try Harness.keyholder(sign + ["--serial", "6", "--expires-in", days, "--output", dir.file("never-\(days)"), a.text])
            #expect(refused.status == 64, "\(days): \(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.file("never-\(days)")))
        }
        let again = try Harness.keyholder(sign + ["--serial", "3", "--output", dir.file("list2"), a.text])
        #expect(again.status == 1 && again.stderr.contains("never written over an existing file"))

        // The largest serial has no successor: a clear error, not a trap.
        let last = try Harness.keyholder(sign + ["--serial", String(UInt64.max), "--output", dir.file("last"), a.text])
        #expect(last.status == 0, "\(last.stderr)")
        let after = try Harness.keyholder(sign + ["--previous", dir.file("last"), "--output", dir.file("after"), a.text])
        #expect(after.status == 1, "\(after.stderr)")
        #expect(after.stderr.contains("keyholder: error: the previous list's serial is 18446744073709551615, the largest there is"))
        #expect(after.stderr.contains("keyholder: hint: "))
        #expect(!FileManager.default.fileExists(atPath: dir.file("after")))

        // A signing key cannot decrypt, and a decryption key cannot sign.
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: dir.file("list1"), toPath: dir.file("in/list1"))
        let wrongKind = try Harness.keyholder(["decrypt", "--key", dir.file("sign.key"), "--out", dir.file("o"), dir.file("in/list1")])
        #expect(wrongKind.status == 2 && wrongKind.stderr.contains("is a signing key file"))
    }
}

/// The public key stored in the secret key file at `path` (no passphrase needed).
func publicKeyOfKeyFile(_ path: String) throws -> PublicKey {
    try KeyFile(text: String(contentsOfFile: path, encoding: .utf8)).publicKey
}
