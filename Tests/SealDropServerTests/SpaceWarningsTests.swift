import InMemoryLogging
import Logging
@testable import SealDropServer
import Testing

@Suite("Warnings when the spool is full")
struct SpaceWarningsTests {
    @Test("the first refusal of each kind is logged at once; later ones as a count, at most one line per interval")
    func countsPerInterval() async throws {
        let logs = InMemoryLogHandler()
        let warnings = SpaceWarnings(logger: Logger(label: "test") { _ in logs }, interval: .milliseconds(300))
        warnings.refused(.quota)
        warnings.refused(.quota)
        warnings.refused(.quota)
        warnings.refused(.disk)
        #expect(logs.entries.map(\.message.description) == [
            "uploads refused: the spool quota is used up (export or remove submissions, or raise spool-quota)",
            "uploads refused: the spool's disk is full or below its free-space or free-inode reserve",
        ])
        #expect(logs.entries.allSatisfy { $0.level == .warning })
        #expect(logs.entries.map { $0.metadata["uploads.refused"]?.description } == ["1", "1"])
        try await Task.sleep(for: .milliseconds(400))
        warnings.refused(.quota)
        #expect(logs.entries.count == 3)
        #expect(logs.entries.last?.metadata["uploads.refused"]?.description == "3", "the two held back and this one")
    }
}
