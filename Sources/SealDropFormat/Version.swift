import SealDropCrypto

/// The release of SealDrop these tools belong to, for `--version`.
public enum SealDropVersion {
    /// The release number.
    public static let release = "0.1.0"

    /// What `--version` prints for `tool`: the release, the submission format it writes and
    /// reads, and the libsodium it runs on.
    public static func line(for tool: String) -> String {
        "\(tool) \(release) (submission format \(Layout.version); libsodium \(libsodiumVersion))"
    }
}
