import Foundation
import SealDropCrypto
import SealDropKeys
import SealDropTestSupport
import Testing

/// keyholder rotate, rekey, retire and sign-recipients, through the real binaries.
@Suite("Key rotation commands")
struct RotationCLITests {
    let keyholder = TestBinaries.path("keyholder")
    let sealdrop = TestBinaries.path("sealdrop")

    /// A keyring with one current key, a passphrase file, and a folder of submissions sealed to it.
    struct Setup {
        let dir: TemporaryDirectory
        let ring: String
        let pass: String
        let inbox: String
        let content: Data

        var keyFiles: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: ring)) ?? []).sorted() }
        func path(_ name: String) -> String { (ring as NSString).appendingPathComponent(name) }
    }

    func setUp() throws -> Setup {
        let dir = try TemporaryDirectory()
        let setup = Setup(dir: dir, ring: dir.file("ring"), pass: dir.file("pass"), inbox: dir.file("inbox"), content: Data(testBytes(count: 150_000)))
        try Data("rotation test\n".utf8).write(to: URL(fileURLWithPath: setup.pass))
        let rotate = try runProcess(keyholder, ["rotate", "--keyring", setup.ring, "--passphrase-file", setup.pass])
        #expect(rotate.status == 0, "\(rotate.stderr)")
        try FileManager.default.createDirectory(atPath: setup.inbox, withIntermediateDirectories: false)
        try setup.content.write(to: URL(fileURLWithPath: dir.file("doc.pdf")))
        let publicKey = try #require(rotate.stdout.split(separator: "\n").last.map(String.init))
        for name in ["one", "two"] {
            let seal = try runProcess(sealdrop, ["seal", "-r", publicKey, "-o", "\(setup.inbox)/\(name).sealdrop", dir.file("doc.pdf")])
            #expect(seal.status == 0, "\(seal.stderr)")
        }
        return setup
    }

    func decrypt(_ setup: Setup, key: String, _ path: String, into out: String) throws -> ProcessResult {
        try runProcess(keyholder, ["decrypt", "--key", key, "--passphrase-file", setup.pass, "--out", out, path])
    }

    @Test("rotate retires the old key; rekey --to B makes old submissions open with B alone; retire then destroys A")
    func rotateRekeyRetire() throws {
        let setup = try setUp()
        let oldKey = try #require(setup.keyFiles.first)
        let oldID = String(oldKey.dropLast(4))
        let original = try Data(contentsOf: URL(fileURLWithPath: "\(setup.inbox)/one.sealdrop"))

        let rotate = try runProcess(keyholder, ["rotate", "--keyring", setup.ring, "--passphrase-file", setup.pass])
        #expect(rotate.status == 0)
        #expect(rotate.stdout.contains("replace the line of key ID \(oldID)"))
        let newPublic = try PublicKey(text: String(rotate.stdout.split(separator: "\n").last!))
        #expect(setup.keyFiles == ["\(newPublic.keyID).key", "\(oldID).retired.key"].sorted())

        // The retired key still reads old submissions through the keyring.
        let viaRing = try runProcess(keyholder, ["decrypt", "--keyring", setup.ring, "--passphrase-file", setup.pass, "--out", setup.dir.file("o0"), setup.inbox])
        #expect(viaRing.status == 0, "\(viaRing.stderr)")

        // A retired key that submissions still need is kept.
        let early = try runProcess(keyholder, ["retire", "--destroy", oldID, "--keyring", setup.ring, setup.inbox])
        #expect(early.status == 2)
        #expect(early.stderr.contains("2 submission(s) still need key ID \(oldID)") && early.stderr.contains("keyholder: hint: re-key them first"))

        let rekey = try runProcess(keyholder, ["rekey", "--keyring", setup.ring, "--passphrase-file", setup.pass, "--to", newPublic.text, setup.inbox])
        #expect(rekey.status == 0, "\(rekey.stderr)")
        let rekeyed = try Data(contentsOf: URL(fileURLWithPath: "\(setup.inbox)/one.sealdrop"))
        // Only the header changed: 134 bytes for one recipient.
        #expect(rekeyed.count == original.count)
        #expect(rekeyed[134...] == original[134...])
        #expect(rekeyed[..<134] != original[..<134])

        let withNew = try decrypt(setup, key: setup.path("\(newPublic.keyID).key"), setup.inbox, into: setup.dir.file("o1"))
        #expect(withNew.status == 0, "\(withNew.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: setup.dir.file("o1/doc.pdf"))) == setup.content)
        let withOld = try decrypt(setup, key: setup.path("\(oldID).retired.key"), "\(setup.inbox)/one.sealdrop", into: setup.dir.file("o2"))
        #expect(withOld.status == 1)
        #expect(withOld.stderr.contains("no matching key"))

        let retire = try runProcess(keyholder, ["retire", "--destroy", oldID, "--keyring", setup.ring, setup.inbox])
        #expect(retire.status == 0, "\(retire.stderr)")
        #expect(setup.keyFiles == ["\(newPublic.keyID).key"])
        let current = try runProcess(keyholder, ["retire", "--destroy", String(newPublic.keyID.description), "--keyring", setup.ring, setup.inbox])
        #expect(current.status == 2 && current.stderr.contains("is current, not retired"))
    }

    @Test("rekey refuses a submission with a tampered header and leaves it exactly as it was")
    func tamperedHeader() throws {
        let setup = try setUp()
        let path = "\(setup.inbox)/one.sealdrop"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[120] ^= 0x01  // inside the header MAC
        try bytes.write(to: URL(fileURLWithPath: path))
        let target = SecretKey.generate().publicKey
        let rekey = try runProcess(keyholder, ["rekey", "--keyring", setup.ring, "--passphrase-file", setup.pass, "--to", target.text, path])
        #expect(rekey.status == 1)
        #expect(rekey.stderr.contains("header failure") && rekey.stderr.contains("the original is unchanged"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes)
        #expect(try FileManager.default.contentsOfDirectory(atPath: setup.inbox).sorted() == ["one.sealdrop", "two.sealdrop"])
    }

    @Test("rekey --full re-encrypts the payload under a fresh file key")
    func fullRekey() throws {
        let setup = try setUp()
        let path = "\(setup.inbox)/two.sealdrop"
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let dir = setup.dir
        let second = try TestKey.make(in: dir, name: "b")
        let rekey = try runProcess(keyholder, ["rekey", "--full", "--keyring", setup.ring, "--passphrase-file", setup.pass, "--to", second.publicKeyText, path])
        #expect(rekey.status == 0, "\(rekey.stderr)")
        let rekeyed = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(rekeyed[200...] != original[200...])
        let opened = try runProcess(keyholder, ["decrypt", "--key", second.keyPath, "--passphrase-file", second.passphrasePath, "--out", dir.file("o"), path])
        #expect(opened.status == 0, "\(opened.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("o/doc.pdf"))) == setup.content)
    }

    @Test("sign-recipients writes a list the daemon and clients can verify; --previous takes the next serial")
    func signRecipients() throws {
        let dir = try TemporaryDirectory()
        try Data("signing\n".utf8).write(to: URL(fileURLWithPath: dir.file("pass")))
        let keygen = try runProcess(keyholder, ["keygen", "--signing", "--output", dir.file("sign.key"), "--passphrase-file", dir.file("pass")])
        #expect(keygen.status == 0, "\(keygen.stderr)")
        let signingKey = try SigningPublicKey(text: String(keygen.stdout.split(separator: "\n").last!))
        let a = SecretKey.generate().publicKey, b = SecretKey.generate().publicKey
        let first = try runProcess(keyholder, ["sign-recipients", "--signing-key", dir.file("sign.key"), "--passphrase-file", dir.file("pass"),
                                               "--serial", "1", "--output", dir.file("list1"), a.text])
        #expect(first.status == 0, "\(first.stderr)")
        let list1 = try SignedRecipients.parse(String(contentsOfFile: dir.file("list1"), encoding: .utf8), pinnedKey: signingKey)
        #expect(list1.serial == 1 && list1.recipients == [a])
        let second = try runProcess(keyholder, ["sign-recipients", "--signing-key", dir.file("sign.key"), "--passphrase-file", dir.file("pass"),
                                                "--previous", dir.file("list1"), "--output", dir.file("list2"), b.text, a.text])
        #expect(second.status == 0, "\(second.stderr)")
        let list2 = try SignedRecipients.parse(String(contentsOfFile: dir.file("list2"), encoding: .utf8), pinnedKey: signingKey)
        #expect(list2.serial == 2 && list2.recipients == [b, a])
        let again = try runProcess(keyholder, ["sign-recipients", "--signing-key", dir.file("sign.key"), "--passphrase-file", dir.file("pass"),
                                               "--serial", "3", "--output", dir.file("list2"), a.text])
        #expect(again.status == 2 && again.stderr.contains("never written over an existing file"))
        // A signing key cannot decrypt, and a decryption key cannot sign.
        let wrongKind = try runProcess(keyholder, ["decrypt", "--key", dir.file("sign.key"), "--out", dir.file("o"), dir.file("list1")])
        #expect(wrongKind.status == 2 && wrongKind.stderr.contains("is a signing key file"))
    }
}
