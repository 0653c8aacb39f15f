import Foundation
import SealDropTestSupport
import Testing

/// The sealdrop a source carries (Scripts/package, which Scripts/test runs first): no Swift
/// runtime, no Foundation, no libsodium needed from the system, as on Tails.
@Suite("The packaged sealdrop")
struct PackageTests {
    static let packaged = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/package/sealdrop").path
    /// The shared libraries of a stock Debian's C and C++ runtime: all the binary may need.
    static let allowed = ["linux-vdso.so.1", "libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1",
                          "ld-linux-x86-64.so.2", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libutil.so.1"]

    func requirePackage() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.packaged) else {
            throw TestSupportError.commandFailed("\(Self.packaged) is missing: run Scripts/package (Scripts/test does)")
        }
    }

    /// The libraries `ldd` lists for `binary`, by name, and where each was found.
    func libraries(of binary: String) throws -> [(name: String, path: String)] {
        let listed = try runProcess("/usr/bin/ldd", [binary])
        #expect(listed.status == 0, "\(listed.stderr)")
        return listed.stdout.split(separator: "\n").map { line in
            let parts = line.trimmingCharacters(in: .whitespaces).components(separatedBy: " => ")
            let name = parts[0].components(separatedBy: " ")[0]
            return (URL(fileURLWithPath: name).lastPathComponent, parts.count > 1 ? parts[1].components(separatedBy: " (")[0] : name)
        }
    }

    @Test("ldd shows only the C and C++ runtime: no libswift*, no Foundation, no libsodium")
    func linkedStatically() throws {
        try requirePackage()
        let names = try libraries(of: Self.packaged).map(\.name)
        #expect(!names.isEmpty)
        #expect(names.allSatisfy { Self.allowed.contains($0) }, "\(names)")
        // The same check on the debug build sees what the package leaves out.
        let debug = try libraries(of: TestBinaries.path("sealdrop")).map(\.name)
        #expect(debug.contains { $0.hasPrefix("libswiftCore") } && debug.contains { $0.hasPrefix("libsodium") }, "\(debug)")
    }

    @Test("with the Swift toolchain's libraries and libsodium hidden, the packaged sealdrop completes a send")
    func runsWithoutSwift() throws {
        try requirePackage()
        let drop = try SendDrop()
        try Data("from a machine without Swift".utf8).write(to: URL(fileURLWithPath: drop.dir.file("note.txt")))
        // A mount namespace in which the folder of the Swift runtime is an empty tmpfs and
        // libsodium's shared library is an empty file, as on a machine that never had them.
        let debugLibraries = try libraries(of: TestBinaries.path("sealdrop"))
        let runtime = try #require(debugLibraries.first { $0.name.hasPrefix("libswiftCore") }).path
        let sodium = try #require(debugLibraries.first { $0.name.hasPrefix("libsodium") }).path
        let hide = "mount -t tmpfs none \"$1\" && mount --bind /dev/null \"$(readlink -f \"$2\")\" && shift 2 && exec \"$@\""
        func hidden(_ command: [String]) throws -> ProcessResult {
            try runProcess("/usr/bin/unshare", ["-m", "/bin/sh", "-c", hide, "sh", (runtime as NSString).deletingLastPathComponent, sodium] + command)
        }
        // The control: the debug build cannot even start there.
        let control = try hidden([TestBinaries.path("sealdrop"), "--version"])
        #expect(control.status != 0)
        #expect(control.stderr.contains("error while loading shared libraries"), "\(control.stderr)")

        let sent = try hidden([Self.packaged, "send", try drop.address(), drop.dir.file("note.txt")])
        #expect(sent.status == 0, "\(sent.stderr)")
        let receipt = sent.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try drop.open(receipt, expecting: "note.txt").content == Data("from a machine without Swift".utf8))
    }
}
