import Foundation
import SealDropCLISupport
import SealDropTestSupport
import Testing

/// The two-thread helpers the CLIs stream through: a writer behind and a reader ahead.
@Suite("Background writer and read-ahead")
struct PipelineTests {
    /// Deterministic bytes that differ from block to block.
    func pattern(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
    }

    @Test("every byte arrives in order, across block boundaries, for pieces of any size", arguments: [0, 1, 4095, 4096, 4097, 3 * 4096, 50_000])
    func writerKeepsOrder(total: Int) throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("out")
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0o600)
        #expect(fd >= 0)
        let content = pattern(total)
        let writer = BackgroundWriter(fd: fd, blockSize: 4096, depth: 2, zeroAfterWriting: true)
        var offset = 0
        var piece = 1
        while offset < content.count {
            let end = min(content.count, offset + piece)
            try content.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[offset..<end])) }
            offset = end
            piece = piece * 3 + 7
        }
        try writer.finish()
        #expect(writer.bytesWritten == UInt64(total))
        close(fd)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == content)
    }

    @Test("a failed write is reported by a later write or by finish, in writeAll's words")
    func writerReportsFailure() throws {
        let fd = open("/dev/full", O_WRONLY)
        #expect(fd >= 0)
        defer { close(fd) }
        let writer = BackgroundWriter(fd: fd, blockSize: 4096, depth: 2, zeroAfterWriting: false)
        let content = pattern(64 * 1024)
        var caught: CLIError?
        do {
            try content.withUnsafeBytes { try writer.write($0) }
            try writer.finish()
        } catch {
            caught = error as? CLIError
        }
        #expect(caught?.message == "write failed: No space left on device")
        #expect(writer.bytesWritten == 0)
        // Asking again reports the same failure.
        #expect(throws: CLIError.self) { try writer.finish() }
    }

    @Test("a writer dropped without finish still writes what it was handed and ends its thread")
    func writerDroppedEarly() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("out")
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0o600)
        defer { close(fd) }
        do {
            let writer = BackgroundWriter(fd: fd, blockSize: 4096, depth: 2, zeroAfterWriting: false)
            try pattern(10_000).withUnsafeBytes { try writer.write($0) }
        }
        // Two full blocks were handed over; the partial third was never asked to be written.
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == 8192)
    }

    @Test("read-ahead returns the file's bytes in order, through read(into:) and nextBlock, then the end", arguments: [0, 1, 4096, 10_000])
    func readAheadKeepsOrder(total: Int) throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("in")
        let content = pattern(total)
        try Data(content).write(to: URL(fileURLWithPath: path))
        let source = ReadAhead(try FileReader(path: path), blockSize: 4096, depth: 2, zeroAfterUse: true)
        var got: [UInt8] = []
        var small = [UInt8](repeating: 0, count: 1000)
        let n = try small.withUnsafeMutableBytes { try source.read(into: $0) }
        got += small[..<n]
        while try source.nextBlock({ got += $0 }) {}
        #expect(got == content)
        #expect(source.bytesRead == UInt64(total))
        #expect(try small.withUnsafeMutableBytes { try source.read(into: $0) } == 0)
    }

    @Test("a read error reaches the caller, naming the file")
    func readAheadReportsFailure() throws {
        // Reading /proc/self/mem at offset 0 (an unmapped address) fails with EIO.
        let source = ReadAhead(try FileReader(path: "/proc/self/mem"), blockSize: 4096, depth: 2, zeroAfterUse: false)
        var buffer = [UInt8](repeating: 0, count: 16)
        var caught: CLIError?
        do { _ = try buffer.withUnsafeMutableBytes { try source.read(into: $0) } } catch { caught = error as? CLIError }
        #expect(caught?.message == "cannot read /proc/self/mem: Input/output error")
    }
}
