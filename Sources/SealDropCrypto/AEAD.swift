import CSodium

/// XChaCha20-Poly1305 (`crypto_aead_xchacha20poly1305_ietf`) for small secrets such as the
/// secret key inside a key file. Bulk data uses ``SecretStreamPusher`` instead.
public enum XChaCha20Poly1305 {
    /// Bytes of authentication tag (16).
    public static var tagByteCount: Int { Int(crypto_aead_xchacha20poly1305_ietf_abytes()) }

    /// Encrypts a secret, authenticating `associatedData` with it.
    public static func seal(_ message: SecureBytes, key: SymmetricKey, nonce: Nonce, associatedData: [UInt8]) -> [UInt8] {
        ensureSodium()
        var out = [UInt8](repeating: 0, count: message.count + tagByteCount)
        var written: UInt64 = 0
        out.withUnsafeMutableBytes { o in
            nonce.bytes.withUnsafeBytes { n in
                associatedData.withUnsafeBytes { ad in
                    _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                        o.baseAddress!.assumingMemoryBound(to: UInt8.self), &written,
                        message.typedPointer(UInt8.self), UInt64(message.count),
                        ad.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(associatedData.count),
                        nil, n.baseAddress!.assumingMemoryBound(to: UInt8.self), key.pointer())
                }
            }
        }
        return out
    }

    /// Decrypts into guarded memory; throws `authenticationFailed` for a wrong key or any change.
    public static func open(_ ciphertext: [UInt8], key: SymmetricKey, nonce: Nonce, associatedData: [UInt8]) throws(CryptoError) -> SecureBytes {
        ensureSodium()
        guard ciphertext.count >= tagByteCount else { throw .authenticationFailed }
        let message = SecureBytes(count: ciphertext.count - tagByteCount)
        var written: UInt64 = 0
        let status = ciphertext.withUnsafeBytes { c in
            nonce.bytes.withUnsafeBytes { n in
                associatedData.withUnsafeBytes { ad in
                    crypto_aead_xchacha20poly1305_ietf_decrypt(
                        message.typedPointer(UInt8.self), &written, nil,
                        c.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(ciphertext.count),
                        ad.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(associatedData.count),
                        n.baseAddress!.assumingMemoryBound(to: UInt8.self), key.pointer())
                }
            }
        }
        guard status == 0 else { throw .authenticationFailed }
        return message
    }
}
