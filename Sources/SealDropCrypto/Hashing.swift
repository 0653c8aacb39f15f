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
    public static func mac(_ data: [UInt8], key: SecureBytes, outputLength: Int = 32) -> [UInt8] {
        precondition(key.count > 0, "a MAC needs a key")
        return data.withUnsafeBytes { d in key.withUnsafeBytes { generichash(d, outputLength: outputLength, key: $0) } }
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
    /// Derives subkey number `id` of `length` bytes (16...64) under an 8-character `context`.
    public static func derive(from master: SecureBytes, id: UInt64, context: StaticString, length: Int = 32) -> SecureBytes {
        ensureSodium()
        precondition(master.count == Int(crypto_kdf_keybytes()), "crypto_kdf master key must be 32 bytes")
        precondition(context.utf8CodeUnitCount == Int(crypto_kdf_contextbytes()), "crypto_kdf context must be 8 bytes")
        let subkey = SecureBytes(count: length)
        let status = context.withUTF8Buffer { ctx in
            ctx.withMemoryRebound(to: CChar.self) { c in
                crypto_kdf_derive_from_key(subkey.typedPointer(UInt8.self), length, id, c.baseAddress!, master.typedPointer(UInt8.self))
            }
        }
        precondition(status == 0, "crypto_kdf_derive_from_key failed")
        return subkey
    }
}
