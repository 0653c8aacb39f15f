import Foundation

/// What every fuzz target starts with: libFuzzer's input as an array, and helpers to cut it.
public enum FuzzInput {
    /// The input's bytes.
    public static func bytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
        Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// The input cut into pieces whose sizes cycle through `1 + byte % 64` of the first bytes,
    /// so that the fuzzer also explores how a stream is split (the first `control` bytes steer).
    public static func pieces(_ bytes: [UInt8], control: Int = 4) -> [[UInt8]] {
        let steering = Array(bytes.prefix(control)), rest = Array(bytes.dropFirst(control))
        guard !steering.isEmpty else { return rest.isEmpty ? [] : [rest] }
        var result: [[UInt8]] = [], offset = 0, index = 0
        while offset < rest.count {
            let size = min(1 + Int(steering[index % steering.count]) % 64 * (steering[0] & 0x80 != 0 ? 64 : 1), rest.count - offset)
            result.append(Array(rest[offset..<offset + size]))
            offset += size
            index += 1
        }
        return result
    }

    /// A private scratch folder for targets that read files (made once per process).
    public static let scratch: String = {
        let path = NSTemporaryDirectory() + "sealdrop-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return path
    }()

    /// Writes `bytes` to `name` in ``scratch`` (mode 0600) and returns its path.
    public static func file(_ name: String, _ bytes: [UInt8]) -> String {
        let path = (scratch as NSString).appendingPathComponent(name)
        FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600])
        return path
    }
}
