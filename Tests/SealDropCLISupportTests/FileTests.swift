import Foundation
import SealDropCLISupport
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropTestSupport
import Testing

/// The output folder: temporary names, publishing without overwriting, symbolic links.
@Suite("Output folder")
struct OutputFolderTests {
    /// Writes `text` to a new pending file in `folder` and publishes it as `name`.
    func publish(_ text: String, as name: String, in folder: OutputFolder) throws -> OutputFolder.Published {
        let file = try folder.createPendingFile()
        try writeAll(file.fd, Array(text.utf8))
        try file.sync()
        return try folder.publish(file, as: name)
    }

    @Test("a missing folder is created 0700; a name that is taken gets a suffix; nothing is overwritten")
    func neverOverwrites() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("out")
        let folder = try OutputFolder(path: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o700)
        try Data("existing".utf8).write(to: URL(fileURLWithPath: dir.file("out/report.pdf")))
        #expect(try publish("one", as: "report.pdf", in: folder).name == "report (1).pdf")
        #expect(try publish("two", as: "report.pdf", in: folder).name == "report (2).pdf")
        #expect(try String(contentsOfFile: dir.file("out/report.pdf"), encoding: .utf8) == "existing")
        #expect(try String(contentsOfFile: dir.file("out/report (1).pdf"), encoding: .utf8) == "one")
        #expect(try String(contentsOfFile: dir.file("out/report (2).pdf"), encoding: .utf8) == "two")
        // No temporary file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: path).sorted() == ["report (1).pdf", "report (2).pdf", "report.pdf"])
    }

    @Test("a symbolic link at the output's name is passed over and reported; its target is untouched")
    func symlinkInTheWay() throws {
        let dir = try TemporaryDirectory()
        let folder = try OutputFolder(path: dir.file("out"))
        try Data("target".utf8).write(to: URL(fileURLWithPath: dir.file("target")))
        try FileManager.default.createSymbolicLink(atPath: dir.file("out/a.txt"), withDestinationPath: dir.file("target"))
        try FileManager.default.createSymbolicLink(atPath: dir.file("out/b.txt"), withDestinationPath: dir.file("nowhere"))
        let a = try publish("new", as: "a.txt", in: folder)
        #expect(a.name == "a (1).txt")
        #expect(a.symlinksPassed == ["a.txt"])
        let b = try publish("new", as: "b.txt", in: folder)
        #expect(b.name == "b (1).txt")
        #expect(!FileManager.default.fileExists(atPath: dir.file("nowhere")))
        #expect(try String(contentsOfFile: dir.file("target"), encoding: .utf8) == "target")
    }

    @Test("many outputs of one name take the next free suffix each, passing over taken names and links once")
    func manyOfOneName() throws {
        let dir = try TemporaryDirectory()
        let folder = try OutputFolder(path: dir.file("out"))
        try Data("taken".utf8).write(to: URL(fileURLWithPath: dir.file("out/x (2).txt")))
        try FileManager.default.createSymbolicLink(atPath: dir.file("out/x (5).txt"), withDestinationPath: dir.file("nowhere"))
        var names: [String] = []
        var links: [String] = []
        for index in 0..<7 {
            let published = try publish("copy \(index)", as: "x.txt", in: folder)
            names.append(published.name)
            links += published.symlinksPassed
        }
        #expect(names == ["x.txt", "x (1).txt", "x (3).txt", "x (4).txt", "x (6).txt", "x (7).txt", "x (8).txt"])
        #expect(links == ["x (5).txt"])
        #expect(try String(contentsOfFile: dir.file("out/x (2).txt"), encoding: .utf8) == "taken")
        #expect(try String(contentsOfFile: dir.file("out/x (8).txt"), encoding: .utf8) == "copy 6")
        // Another name starts from its own beginning.
        #expect(try publish("y", as: "y.txt", in: folder).name == "y.txt")
    }

    @Test("a pending file has no name until it is published, by its descriptor; a discarded one leaves nothing")
    func unnamedUntilPublished() throws {
        let dir = try TemporaryDirectory()
        let folder = try OutputFolder(path: dir.file("out"))
        let file = try folder.createPendingFile()
        #expect(folder.publishesByDescriptor, "tmpfs and ext4 support O_TMPFILE")
        #expect(file.temporaryName == nil)
        try writeAll(file.fd, Array("secret".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("out")).isEmpty, "nothing named while it is written")
        // Another file put where a temporary name would be cannot be published in its place.
        try Data("planted".utf8).write(to: URL(fileURLWithPath: dir.file("out/.sealdrop-planted.partial")))
        let published = try folder.publish(file, as: "a.txt")
        #expect(published.name == "a.txt")
        #expect(try String(contentsOfFile: dir.file("out/a.txt"), encoding: .utf8) == "secret")
        let mode = try FileManager.default.attributesOfItem(atPath: dir.file("out/a.txt"))[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let dropped = try folder.createPendingFile()
        try writeAll(dropped.fd, Array("gone".utf8))
        folder.discard(dropped)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("out")).sorted() == [".sealdrop-planted.partial", "a.txt"])
    }

    @Test("replace swaps a file for a pending one atomically, leaving no temporary name")
    func replaceInPlace() throws {
        let dir = try TemporaryDirectory()
        let folder = try OutputFolder(path: dir.file("out"))
        try Data("old".utf8).write(to: URL(fileURLWithPath: dir.file("out/x")))
        let file = try folder.createPendingFile()
        try writeAll(file.fd, Array("new".utf8))
        try folder.replace("x", with: file)
        #expect(try String(contentsOfFile: dir.file("out/x"), encoding: .utf8) == "new")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("out")) == ["x"])
    }

    @Test("a private output folder must be the user's own and writable by nobody else")
    func privateToOwner() throws {
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("shared"), withIntermediateDirectories: false, attributes: [.posixPermissions: 0o777])
        chmod(dir.file("shared"), 0o777)
        #expect { _ = try OutputFolder(path: dir.file("shared"), privateToOwner: true) } throws: { error in
            (error as? CLIError)?.message.contains("can be written by others (mode 777)") == true
        }
        _ = try OutputFolder(path: dir.file("shared"))
        _ = try OutputFolder(path: dir.file("new"), privateToOwner: true)
    }

    @Test("a submission reader refuses a FIFO at once instead of waiting for a writer, and a device")
    func fifoRefused() throws {
        let dir = try TemporaryDirectory()
        #expect(mkfifo(dir.file("x.sealdrop"), 0o600) == 0)
        let start = Date()
        #expect { _ = try FileReader(path: dir.file("x.sealdrop"), requireRegularFile: true) } throws: { error in
            (error as? CLIError)?.message.contains("is not a regular file (a FIFO)") == true
        }
        #expect(Date().timeIntervalSince(start) < 2)
        #expect { _ = try FileReader(path: "/dev/zero", requireRegularFile: true) } throws: { error in
            (error as? CLIError)?.message.contains("a character device") == true
        }
        #expect { _ = try FileReader(path: "-", requireRegularFile: true) } throws: { _ in true }
    }

    @Test("a symbolic link as the folder, a file as the folder, or a missing parent are refused")
    func refusals() throws {
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("real"), withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: dir.file("link"), withDestinationPath: dir.file("real"))
        try Data().write(to: URL(fileURLWithPath: dir.file("file")))
        for (path, message) in [("link", "is a symbolic link"), ("file", "is not a folder"), ("missing/out", "parent folder does not exist")] {
            #expect(throws: CLIError.self) { try OutputFolder.check(path: dir.file(path)) }
            do { try OutputFolder.check(path: dir.file(path)) } catch { #expect(error.message.contains(message), "\(error.message)") }
        }
        #expect(throws: CLIError.self) { _ = try OutputFolder(path: dir.file("link")) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("real")).isEmpty)
        try OutputFolder.check(path: dir.file("real"))
        try OutputFolder.check(path: dir.file("new"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("new")))
    }
}

/// Sizes read from the header and the file's length, without a key.
@Suite("Padded size estimate")
struct SizeEstimateTests {
    @Test("the padded length recovered from the file size equals PADMÉ of the content length", arguments: [
        UInt64(0), 1, 2, 100, 4095, 65_531, 65_532, 65_533, 131_064, 140_000, 1 << 20, 10_000_019, 1 << 30, 5_000_000_000,
    ])
    func recovered(_ length: UInt64) throws {
        for recipients in [1, 3, 32] {
            for metadataLength in [4096, 65_536] {
                let total = Layout.sealedByteCount(contentLength: length, recipients: recipients, metadataLength: metadataLength)
                let padded = SubmissionSize.paddedContentLength(fileSize: total, recipients: recipients, metadataLength: metadataLength)
                #expect(padded == Layout.padme(length), "length \(length), \(recipients) recipients")
            }
        }
    }

    @Test("an impossible length gives nil")
    func impossible() {
        let total = Layout.sealedByteCount(contentLength: 100_000, recipients: 1, metadataLength: 4096)
        let chunkStart = total - (total - UInt64(Layout.headerByteCount(recipients: 1) + 24 + 4096 + 17)) % UInt64(Layout.fullChunkByteCount)
        #expect(SubmissionSize.paddedContentLength(fileSize: chunkStart + 5, recipients: 1, metadataLength: 4096) == nil)
        #expect(SubmissionSize.paddedContentLength(fileSize: 10, recipients: 1, metadataLength: 4096) == nil)
    }

    @Test("the estimate of a real submission is what its writer padded to")
    func realSubmission() throws {
        let key = SecretKey.generate()
        let writer = try EnvelopeWriter(recipients: [key.publicKey], metadata: Metadata(sealedBy: .server))
        var total = UInt64(writer.prefix.count)
        let content = [UInt8](repeating: 7, count: 200_001)
        content.withUnsafeBytes { bytes in writer.append(bytes) { total += UInt64($0.count) } }
        _ = try writer.finish { total += UInt64($0.count) }
        let padded = SubmissionSize.paddedContentLength(fileSize: total, recipients: 1, metadataLength: writer.header.metadataLength)
        #expect(padded == Layout.padme(200_001))
        #expect(padded! >= 200_001)
    }
}

/// Key files as ssh treats private keys: mode and owner are checked before the file is read.
@Suite("Key file checks")
struct KeyFileCheckTests {
    static let vectorKeys = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("SealDropFormatTests/Vectors/keys")

    func copyKey(into dir: TemporaryDirectory, mode: Int) throws -> String {
        let path = dir.file("a.key")
        try FileManager.default.copyItem(atPath: Self.vectorKeys.appendingPathComponent("a.key").path, toPath: path)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    @Test("group or world access is refused with a chmod hint", arguments: [0o640, 0o604, 0o660, 0o644, 0o700 | 0o001, 0o620])
    func modes(_ mode: Int) throws {
        let dir = try TemporaryDirectory()
        let path = try copyKey(into: dir, mode: mode)
        do {
            _ = try SecretKeyFiles.read(path)
            Issue.record("mode \(String(mode, radix: 8)) accepted")
        } catch {
            #expect(error.message.contains("is accessible by others (mode \(String(mode, radix: 8)))"))
            #expect(error.hint == "run: chmod 600 \(path)")
        }
    }

    @Test("0600 and 0400 are accepted and give the public key without a passphrase", arguments: [0o600, 0o400])
    func privateModes(_ mode: Int) throws {
        let dir = try TemporaryDirectory()
        let path = try copyKey(into: dir, mode: mode)
        let file = try SecretKeyFiles.read(path)
        #expect(file.publicKey.keyID.description == "8d709843a7bebbef")
    }

    @Test("a signing key file is named as such, not as a corrupt key")
    func signingKey() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("s.key")
        try Data("# SealDrop signing key\nSEALDROP-SIGNING-KEY-1:AAAA\n".utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        #expect { _ = try SecretKeyFiles.read(path) } throws: { error in
            (error as? CLIError)?.message.contains("is a signing key file") == true
        }
    }
}

/// The guarded-memory reuse keyholder turns on: a reused buffer comes back zeroed.
@Suite("Guarded memory reuse")
struct GuardedMemoryPoolTests {
    @Test("with reuse on, every new buffer is zeroed, whatever the released one held")
    func reusedBuffersAreZeroed() {
        GuardedMemoryPool.enable()
        for round in 0..<(GuardedMemoryPool.blocksPerSize * 3) {
            let size = 40 + round % 3
            let secret = SecureBytes(count: size)
            #expect(secret.withUnsafeBytes { $0.allSatisfy { $0 == 0 } }, "round \(round)")
            _ = secret.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0xA5) }
        }
        let many = (0..<(GuardedMemoryPool.blocksPerSize * 2)).map { _ in SecureBytes(count: 41) }
        #expect(many.allSatisfy { $0.withUnsafeBytes { $0.allSatisfy { $0 == 0 } } })
    }
}
