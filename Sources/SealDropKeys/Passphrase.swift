public import SealDropCrypto

/// Why a passphrase was refused.
public enum PassphraseError: Error, Equatable, Sendable {
    /// An empty passphrase protects nothing.
    case empty
}

/// Passphrase rules shared by every SealDrop command.
public enum Passphrase {
    /// The passphrase stored in a passphrase file: its first line, without the line ending
    /// (`\n` or `\r\n`). An empty first line is refused. The bytes go straight into guarded
    /// memory; the caller should zero `fileContents` afterwards.
    public static func fromFileContents(_ fileContents: UnsafeRawBufferPointer) throws(PassphraseError) -> SecureBytes {
        var end = fileContents.firstIndex(of: UInt8(ascii: "\n")) ?? fileContents.count
        if end > 0, fileContents[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        guard end > 0 else { throw .empty }
        return SecureBytes(copying: UnsafeRawBufferPointer(rebasing: fileContents[0..<end]))
    }
}
