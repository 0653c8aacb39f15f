import CSodium

/// Argon2id key derivation from a passphrase (`crypto_pwhash`, `ALG_ARGON2ID13`).
public enum Argon2id {
    /// libsodium's MODERATE limits (3 passes, 256 MiB): well under a second to a few seconds.
    public static var moderateOpsLimit: UInt64 { UInt64(crypto_pwhash_argon2id_opslimit_moderate()) }
    /// See ``moderateOpsLimit``.
    public static var moderateMemLimit: UInt64 { UInt64(crypto_pwhash_argon2id_memlimit_moderate()) }
    /// The smallest limits SealDrop accepts in a key file; anything lower is refused.
    public static var minimumOpsLimit: UInt64 { moderateOpsLimit }
    /// See ``minimumOpsLimit``.
    public static var minimumMemLimit: UInt64 { moderateMemLimit }
    /// The largest limits SealDrop accepts from a key file (so a corrupt file cannot demand
    /// terabytes): 4 GiB and 64 passes.
    public static let maximumMemLimit: UInt64 = 4 << 30
    /// See ``maximumMemLimit``.
    public static let maximumOpsLimit: UInt64 = 64

    /// Derives a symmetric key from `passphrase` and `salt` into guarded memory.
    public static func deriveKey(passphrase: SecureBytes, salt: Salt, opsLimit: UInt64, memLimit: UInt64) throws(CryptoError) -> SymmetricKey {
        ensureSodium()
        let key = SecureBytes(count: SymmetricKey.byteCount)
        let status = salt.bytes.withUnsafeBytes { s in
            passphrase.withUnsafeBytes { p in
                crypto_pwhash(
                    key.typedPointer(UInt8.self), UInt64(key.count),
                    p.baseAddress!.assumingMemoryBound(to: CChar.self), UInt64(p.count),
                    s.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    opsLimit, Int(memLimit), crypto_pwhash_alg_argon2id13())
            }
        }
        guard status == 0 else { throw .passwordHashFailed }
        return SymmetricKey(unchecked: key)
    }
}
