import Foundation
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropStore
import SealDropTestSupport
import Testing

/// What an adversarial review of the release binaries found in the keyholder, each through the
/// real binaries. Every one of these failed before its fix.
@Suite("keyholder findings of the adversarial review")
struct FindingTests {
    @Test("decrypt --out . run inside an inbox, the archive or a spool is refused, however the submissions are named")
    func outputInsideAnInbox() throws {
        let workspace = try Workspace()
        let id = SubmissionID.random()
        let path = try workspace.seal(Data("plaintext".utf8), name: "x.txt", id: id)
        let before = try FileManager.default.contentsOfDirectory(atPath: workspace.inbox).sorted()
        for named in [[id.text], [String(id.text.prefix(6))], [path], ["./\(id.fileName)"], ["--all"]] {
            let result = try Harness.keyholder(["decrypt", "--in", ".", "--out", "."] + workspace.keyArguments() + named, currentDirectory: workspace.inbox)
            #expect(result.status == 2, "\(named): \(result.stderr)")
            #expect(result.stderr.contains("keyholder: error: the output folder . is, or lies inside,"), "\(named): \(result.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.inbox).sorted() == before, "\(named) wrote into the inbox")
        }
        // A copy of a spool: the inbox, or a folder beside it, is refused even for a file from elsewhere.
        let spool = workspace.dir.file("spool")
        try FileManager.default.createDirectory(atPath: spool + "/tmp", withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: workspace.inbox, toPath: spool + "/inbox")
        let elsewhere = workspace.dir.file("elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: spool + "/inbox/" + id.fileName, toPath: elsewhere + "/" + id.fileName)
        let inSpool = try Harness.keyholder(["decrypt", "--out", spool + "/opened"] + workspace.keyArguments() + [elsewhere + "/" + id.fileName])
        #expect(inSpool.status == 2 && inSpool.stderr.contains("which is a SealDrop spool"), "\(inSpool.stderr)")
        let inInbox = try Harness.keyholder(["decrypt", "--out", spool + "/inbox/opened"] + workspace.keyArguments() + [elsewhere + "/" + id.fileName])
        #expect(inInbox.status == 2 && inInbox.stderr.contains("which holds submissions (\(id.fileName))"), "\(inInbox.stderr)")
        // The archive: decrypting by ID from inside it.
        let home = workspace.dir.file("home")
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let environment = Harness.environment(home: home)
        let imported = try Harness.keyholder(["import"] + workspace.keyArguments() + [elsewhere], environment: environment)
        #expect(imported.status == 0, "\(imported.stderr)")
        let archive = home + "/.sealdrop/archive/submissions"
        let inArchive = try Harness.keyholder(["decrypt", "--out", "."] + workspace.keyArguments() + [id.text], currentDirectory: archive, environment: environment)
        #expect(inArchive.status == 2 && inArchive.stderr.contains("lies inside the archive"), "\(inArchive.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: archive) == [id.fileName])
        // And the medium it was imported from, emptied since.
        try FileManager.default.removeItem(atPath: elsewhere + "/" + id.fileName)
        let onMedium = try Harness.keyholder(["decrypt", "--out", elsewhere + "/opened"] + workspace.keyArguments() + [id.text], environment: environment)
        #expect(onMedium.status == 2 && onMedium.stderr.contains("a medium imported on"), "\(onMedium.stderr)")
        #expect(!FileManager.default.fileExists(atPath: elsewhere + "/opened"))
    }

    static let hostileName = "\u{1B}]0;owned\u{7}\u{1B}[2J\u{9B}31m\u{202E}evil\n.sealdrop"

    @Test("a file name with terminal escapes reaches the terminal escaped in every error line of list, verify, decrypt and import")
    func hostileNamesInErrors() throws {
        let workspace = try Workspace()
        let path = (workspace.inbox as NSString).appendingPathComponent(Self.hostileName)
        try Harness.vector("flip_data_chunk").body.write(to: URL(fileURLWithPath: path))
        let unreadable = (workspace.inbox as NSString).appendingPathComponent("\u{1B}[31mno-access.sealdrop")
        try Harness.vector("flip_magic").body.write(to: URL(fileURLWithPath: unreadable))
        // A name that cannot be opened: its read error repeats the path (raw, before the fix).
        let dangling = (workspace.inbox as NSString).appendingPathComponent("\u{1B}[2Jdangling.sealdrop")
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: "/nonexistent")
        let keys = workspace.keyArguments()
        let commands: [[String]] = [
            ["list"] + keys + [workspace.inbox], ["list", "--json"] + keys + [workspace.inbox], ["verify"] + keys + [workspace.inbox],
            ["decrypt", "--out", workspace.out, "--all", "--in", workspace.inbox] + keys, ["show"] + keys + [unreadable], ["inspect", unreadable],
        ]
        for command in commands {
            let result = try Harness.keyholder(command)
            #expect(result.status == 1, "\(command): \(result.stderr)")
            #expect(!Harness.hasRawControl(result.stdout), "\(command): \(result.stdout.debugDescription)")
            #expect(!Harness.hasRawControl(result.stderr), "\(command): \(result.stderr.debugDescription)")
            #expect(result.stderr.contains("\\u{1b}"), "\(command): the escape is shown escaped: \(result.stderr)")
            expectOnlyDiagnostics(result.stderr)
        }
        let home = workspace.dir.file("home")
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let imported = try Harness.keyholder(["import"] + workspace.keyArguments() + [workspace.inbox], environment: Harness.environment(home: home))
        #expect(imported.status == 1)
        #expect(!Harness.hasRawControl(imported.stdout) && !Harness.hasRawControl(imported.stderr), "\(imported.stderr.debugDescription)")
    }

    @Test("a FIFO named *.sealdrop is refused at once by list, verify, decrypt and import instead of hanging")
    func fifoInTheInbox() throws {
        let workspace = try Workspace()
        try workspace.seal(Data("fine".utf8), name: "fine.txt")
        let fifo = (workspace.inbox as NSString).appendingPathComponent(SubmissionID.random().fileName)
        #expect(mkfifo(fifo, 0o600) == 0)
        let home = workspace.dir.file("home")
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        for command in [["list", workspace.inbox], ["verify", workspace.inbox], ["decrypt", "--out", workspace.out, workspace.inbox], ["import", workspace.inbox]] {
            let start = Date()
            // `timeout` makes a hang a failure (status 124) instead of a test that never ends.
            let result = try runProcess("/usr/bin/timeout", ["20", "/usr/bin/setsid", "-w", Harness.keyholderPath, command[0]] + workspace.keyArguments() + command.dropFirst(),
                                        environment: Harness.environment(home: home))
            #expect(result.status == 1, "\(command): \(result.status) \(result.stderr)")
            #expect(Date().timeIntervalSince(start) < 15, "\(command) waited on the FIFO")
            #expect(result.stderr.contains("is not a regular file (a FIFO)"), "\(command): \(result.stderr)")
        }
        #expect(workspace.outputs() == ["fine.txt"])
    }

    @Test("an output folder others can write, or another user's, is refused; outputs have no name to swap while they are written")
    func outputFolderOthersCanWrite() throws {
        let workspace = try Workspace()
        let content = Data(testBytes(count: 64 << 20))
        let path = try workspace.seal(content, name: "big.bin")
        let shared = workspace.dir.file("shared")
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: false)
        chmod(shared, 0o777)
        let refused = try Harness.keyholder(["decrypt", "--out", shared] + workspace.keyArguments() + [path])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("keyholder: error: output folder \(shared) can be written by others (mode 777)"), "\(refused.stderr)")
        #expect(refused.stderr.contains("keyholder: hint: run: chmod go-w"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: shared).isEmpty)

        let theirs = workspace.dir.file("theirs")
        try FileManager.default.createDirectory(atPath: theirs, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        #expect(try runProcess("/bin/chown", ["sealdrop-test", theirs]).status == 0)
        let foreign = try Harness.keyholder(["decrypt", "--out", theirs] + workspace.keyArguments() + [path])
        #expect(foreign.status == 2 && foreign.stderr.contains("belongs to another user"), "\(foreign.stderr)")

        // While the output is written it has no name in the folder: nobody can rename a file
        // over it, and what is published is the file this process wrote, by its descriptor.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Harness.keyholderPath)
        process.arguments = ["decrypt", "--out", workspace.out] + workspace.keyArguments() + [path]
        process.environment = Harness.environment()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var sawUnnamed = false
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline && !sawUnnamed {
            if isWritingUnnamedFile(pid: process.processIdentifier, in: workspace.out) {
                sawUnnamed = workspace.everything().isEmpty
            }
            usleep(2_000)
        }
        process.waitUntilExit()
        #expect(sawUnnamed, "the output was never seen being written without a name")
        #expect(process.terminationStatus == 0)
        #expect(try workspace.output("big.bin") == content)
    }
}
