import CSodium

/// BLAKE2b (`crypto_generichash`), plain or keyed.
public enum BLAKE2b {
    /// Hashes `data` to `outputLength` bytes (16...64), keyed when `key` is given (16...64 bytes).
    public static func hash(_ data: [UInt8], outputLength: Int = 32, key: [UInt8] = []) -> [UInt8] {
        data.withUnsafeBytes { hash($0, outputLength: outputLength, key: key) }
    }

    /// Hashes a raw buffer; see ``hash(_:outputLength:key:)``.
    public static func hash(_ data: UnsafeRawBufferPointer, outputLength: Int = 32, key: [UInt8] = []) -> [UInt8] {
        key.withUnsafeBytes { generichash(data, outputLength: outputLength, key: $0) }
    }

    /// A keyed BLAKE2b MAC whose key is a secret in guarded memory.
    public static func mac(_ data: [UInt8], key: SymmetricKey, outputLength: Int = 32) -> [UInt8] {
        data.withUnsafeBytes { d in key.withUnsafeBytes { generichash(d, outputLength: outputLength, key: $0) } }
    }

    private static func generichash(_ data: UnsafeRawBufferPointer, outputLength: Int, key: UnsafeRawBufferPointer) -> [UInt8] {
        ensureSodium()
        precondition((Int(crypto_generichash_bytes_min())...Int(crypto_generichash_bytes_max())).contains(outputLength))
        precondition(key.isEmpty || (Int(crypto_generichash_keybytes_min())...Int(crypto_generichash_keybytes_max())).contains(key.count))
        var out = [UInt8](repeating: 0, count: outputLength)
        out.withUnsafeMutableBytes { o in
            _ = crypto_generichash(
                o.baseAddress!.assumingMemoryBound(to: UInt8.self), outputLength,
                data.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(data.count),
                key.baseAddress?.assumingMemoryBound(to: UInt8.self), key.count)
        }
        return out
    }
}

/// Subkeys from one master key (`crypto_kdf_derive_from_key`, BLAKE2b underneath).
public enum KeyDerivation {
    /// Derives subkey number `id` under an 8-character `context`: a ``SymmetricKey`` like its master.
    public static func derive(from master: SymmetricKey, id: UInt64, context: StaticString) -> SymmetricKey {
        ensureSodium()
        precondition(context.utf8CodeUnitCount == Int(crypto_kdf_contextbytes()), "crypto_kdf context must be 8 bytes")
        let subkey = SecureBytes(count: SymmetricKey.byteCount)
        let status = context.withUTF8Buffer { ctx in
            ctx.withMemoryRebound(to: CChar.self) { c in
                crypto_kdf_derive_from_key(subkey.typedPointer(UInt8.self), subkey.count, id, c.baseAddress!, master.pointer())
            }
        }
        precondition(status == 0, "crypto_kdf_derive_from_key failed")
        return SymmetricKey(unchecked: subkey)
    }
}

extension BLAKE2b {
    /// BLAKE2b over data that arrives in pieces (`crypto_generichash_init`/`update`/`final`):
    /// the hash of a whole file read once, for records and comparisons; keyed, a MAC of it.
    public final class Hasher {
        private let state: UnsafeMutableRawPointer
        private let outputLength: Int
        private var finished = false

        /// Starts a hash of `outputLength` bytes (16...64), keyed with `key` if given.
        public init(outputLength: Int = 32, key: SymmetricKey? = nil) {
            ensureSodium()
            precondition((Int(crypto_generichash_bytes_min())...Int(crypto_generichash_bytes_max())).contains(outputLength))
            self.outputLength = outputLength
            state = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
            if let key {
                key.withUnsafeBytes { k in
                    _ = crypto_generichash_init(OpaquePointer(state), k.baseAddress!.assumingMemoryBound(to: UInt8.self), k.count, outputLength)
                }
            } else {
                _ = crypto_generichash_init(OpaquePointer(state), nil, 0, outputLength)
            }
        }

        deinit { state.deallocate() }

        /// Adds `data` to the hash.
        public func update(_ data: UnsafeRawBufferPointer) {
            precondition(!finished, "update after finalize")
            _ = crypto_generichash_update(OpaquePointer(state),
                                          data.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(data.count))
        }

        /// The hash of everything added; the hasher cannot be used after.
        public func finalize() -> [UInt8] {
            precondition(!finished, "finalize called twice")
            finished = true
            var out = [UInt8](repeating: 0, count: outputLength)
            _ = out.withUnsafeMutableBytes { o in
                crypto_generichash_final(OpaquePointer(state),
                                         o.baseAddress!.assumingMemoryBound(to: UInt8.self), outputLength)
            }
            return out
        }
    }
}
