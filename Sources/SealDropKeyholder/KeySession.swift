public import SealDropCrypto

/// Keys unlocked once and kept for several commands, for `keyholder shell`: a key is asked for
/// the first time a command needs it and kept in guarded memory until ``lock()`` (an idle
/// timeout, `lock`, or the end of the shell), when it is released and zeroed. Outside the shell
/// there is no session, and each command unlocks what it needs and forgets it when it ends.
/// Nothing is ever written to disk.
public final class KeySession {
    /// The session of this process, if the shell started one. Only the shell's thread uses it.
    nonisolated(unsafe) public static var current: KeySession?

    private var keys: [PublicKey: SecretKey] = [:]

    /// An empty session.
    public init() {}

    /// An unlocked key for `publicKey`, if the session holds one.
    public func key(for publicKey: PublicKey) -> SecretKey? { keys[publicKey] }

    /// Keeps an unlocked key for later commands.
    public func remember(_ key: SecretKey) { keys[key.publicKey] = key }

    /// How many keys are unlocked.
    public var unlockedCount: Int { keys.count }

    /// Forgets every unlocked key: their guarded memory is released and zeroed.
    public func lock() { keys.removeAll() }
}
