import Foundation
@testable import SealDropServer
import SealDropTestSupport
import Testing

/// The inputs that once made `FuzzDaemonFiles` fail (Tests/Fuzz/Regressions/FuzzDaemonFiles),
/// replayed through the same code in an ordinary build: each is read as its first byte says,
/// and must give the documented outcome. (Scripts/fuzz also replays them under the address and
/// leak sanitizers.)
@Suite("Fuzzing regressions: the daemon's files")
struct FuzzRegressionTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/Regressions/FuzzDaemonFiles").path

    @Test("an empty configuration file sets nothing (it leaked 4 KiB per read through Foundation's whole-file reader)")
    func emptyConfiguration() async throws {
        let input = try #require(FileManager.default.contents(atPath: Self.folder + "/empty-yaml-leak"))
        #expect(Array(input) == [0], "the input: which file (0, the YAML configuration) and no content")
        let dir = try TemporaryDirectory("fuzz-regression")
        let path = dir.file("sealdropd.yaml")
        FileManager.default.createFile(atPath: path, contents: Data(input.dropFirst()))
        var configuration = DaemonConfiguration()
        try await configuration.load(yamlFile: path)
        #expect(configuration == DaemonConfiguration())
        #expect(readTextFile(path, limit: 16) == "")
        #expect(ReloadOutcome.read(spoolRoot: dir.path) == nil)
        FileManager.default.createFile(atPath: dir.file(ReloadOutcome.fileName), contents: Data())
        #expect(ReloadOutcome.read(spoolRoot: dir.path) == nil, "an empty outcome file is no outcome")
    }
}
