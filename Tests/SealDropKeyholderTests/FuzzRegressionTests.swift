import Foundation
import SealDropCLISupport
import SealDropKeyholder
import SealDropTestSupport
import Testing

/// The inputs that once crashed `FuzzKeyholderRecords` (Tests/Fuzz/Regressions/
/// FuzzKeyholderRecords), replayed through the same code in an ordinary build. (Scripts/fuzz also
/// replays them under the address sanitizer.)
@Suite("Fuzzing regressions: the keyholder's records")
struct KeyholderFuzzRegressionTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/Regressions/FuzzKeyholderRecords").path

    @Test("an import record whose time has a hundred-digit fraction is skipped as damaged (ICU's date parser died of SIGFPE on it)")
    func longFraction() throws {
        let input = try #require(FileManager.default.contents(atPath: Self.folder + "/icu-long-fraction-sigfpe"))
        #expect(input.first == 0, "the input: which record (0, an import record), then its content")
        let dir = try TemporaryDirectory("fuzz-regression-records")
        let archive = try Archive.open(dir.file("archive"), create: true)
        let record = (archive.importsPath as NSString).appendingPathComponent("record.json")
        FileManager.default.createFile(atPath: record, contents: input.dropFirst())
        #expect(archive.importRecords().isEmpty)
    }

    @Test("record times: the shapes keyholder writes are read; anything else is refused before ICU sees it",
          arguments: [("\"2026-11-30T18:31:11Z\"", true), ("\"2026-11-30T18:31:11.777Z\"", true), ("\"2026-11-30T18:31:11.123456789Z\"", true),
                      ("\"2026-11-30T18:31:11.1234567890Z\"", false), ("\"2026-11-30T18:31:11.Z\"", false), ("\"2026-11-30T18:31:11\"", false),
                      ("\"2026-11-30T18:31:11+01:00\"", false), ("\"2026-11-30 18:31:11Z\"", false), ("\"20261-1-30T18:31:11Z\"", false),
                      ("\"2026-11-30T18:31:11.\(String(repeating: "7", count: 100))Z\"", false)])
    func recordTimes(json: String, accepted: Bool) {
        struct Stamped: Decodable { let time: Date }
        let decoded = try? recordDecoder().decode(Stamped.self, from: Data("{\"time\":\(json)}".utf8))
        #expect((decoded != nil) == accepted)
    }
}
