import CSodium

/// The tag carried by each secretstream chunk. SealDrop uses `message` for every chunk but the
/// last and `final` for the last; the format rejects any other tag.
public enum SecretStreamTag: UInt8, Sendable {
    case message = 0
    case push = 1
    case rekey = 2
    case final = 3
}

/// Sizes of libsodium's secretstream XChaCha20-Poly1305.
public enum SecretStream {
    /// Bytes each chunk adds to its plaintext (`ABYTES`, 17).
    public static var chunkOverhead: Int { Int(crypto_secretstream_xchacha20poly1305_abytes()) }
}

/// The sending side of a secretstream (`crypto_secretstream_xchacha20poly1305_init_push`/`push`).
/// Its state lives in guarded memory and is zeroed when the pusher is released.
public final class SecretStreamPusher {
    private let state: SecureBytes
    /// The stream header; write it before the first chunk.
    public let header: SecretStreamHeader

    /// Bytes of the pusher's state (`crypto_secretstream_xchacha20poly1305_statebytes`, 52):
    /// what ``copyState(into:)`` writes and ``init(header:state:)`` reads.
    public static var stateByteCount: Int { Int(crypto_secretstream_xchacha20poly1305_statebytes()) }

    /// Continues a stream from a state saved with ``copyState(into:)``: the chunks it pushes
    /// are exactly those the saved pusher would have pushed next. Pushing is deterministic given
    /// the state and the chunks, so a sender can produce a part of its stream again without
    /// keeping the ciphertext.
    public init(header: SecretStreamHeader, state saved: UnsafeRawBufferPointer) {
        ensureSodium()
        precondition(saved.count == Self.stateByteCount, "a secretstream state is \(Self.stateByteCount) bytes")
        state = SecureBytes(copying: saved)
        self.header = header
    }

    /// Copies the current state (a secret: it encrypts the rest of the stream) into
    /// `destination`, ``stateByteCount`` bytes, which should be guarded memory.
    public func copyState(into destination: UnsafeMutableRawBufferPointer) {
        precondition(destination.count == Self.stateByteCount, "a secretstream state is \(Self.stateByteCount) bytes")
        state.withUnsafeBytes { destination.copyMemory(from: $0) }
    }

    /// Starts a stream under `key`.
    public init(key: SymmetricKey) {
        ensureSodium()
        state = SecureBytes(count: Int(crypto_secretstream_xchacha20poly1305_statebytes()))
        var header = [UInt8](repeating: 0, count: SecretStreamHeader.byteCount)
        let statePointer = state.typedPointer(crypto_secretstream_xchacha20poly1305_state.self)
        _ = header.withUnsafeMutableBytes { h in
            crypto_secretstream_xchacha20poly1305_init_push(
                statePointer, h.baseAddress!.assumingMemoryBound(to: UInt8.self), key.pointer())
        }
        self.header = try! SecretStreamHeader(bytes: header)
    }

    /// Encrypts one chunk. `output` must hold `message.count + SecretStream.chunkOverhead` bytes;
    /// returns how many bytes were written. `message` and `output` may not overlap.
    public func push(_ message: UnsafeRawBufferPointer, tag: SecretStreamTag, into output: UnsafeMutableRawBufferPointer) -> Int {
        let needed = message.count + SecretStream.chunkOverhead
        precondition(output.count >= needed, "secretstream output buffer too small")
        var written: UInt64 = 0
        let status = crypto_secretstream_xchacha20poly1305_push(
            state.typedPointer(crypto_secretstream_xchacha20poly1305_state.self),
            output.baseAddress!.assumingMemoryBound(to: UInt8.self), &written,
            message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count),
            nil, 0, tag.rawValue)
        precondition(status == 0, "crypto_secretstream_xchacha20poly1305_push failed")
        return Int(written)
    }
}

/// The receiving side of a secretstream (`init_pull`/`pull`). Each chunk is authenticated and
/// ordered; the caller must still insist on the `final` tag at the end to detect truncation.
public final class SecretStreamPuller {
    private let state: SecureBytes

    /// Starts reading a stream from its header under `key`.
    public init(key: SymmetricKey, header: SecretStreamHeader) throws(CryptoError) {
        ensureSodium()
        state = SecureBytes(count: Int(crypto_secretstream_xchacha20poly1305_statebytes()))
        let statePointer = state.typedPointer(crypto_secretstream_xchacha20poly1305_state.self)
        let status = header.bytes.withUnsafeBytes { h in
            crypto_secretstream_xchacha20poly1305_init_pull(
                statePointer, h.baseAddress!.assumingMemoryBound(to: UInt8.self), key.pointer())
        }
        guard status == 0 else { throw .invalidStreamHeader }
    }

    /// Decrypts and authenticates one chunk into `output` (at least `ciphertext.count - 17`
    /// bytes). Returns the plaintext length and the chunk's tag; throws `authenticationFailed`
    /// for any altered, reordered, spliced or foreign chunk.
    public func pull(_ ciphertext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(CryptoError) -> (count: Int, tag: SecretStreamTag) {
        guard ciphertext.count >= SecretStream.chunkOverhead else { throw .authenticationFailed }
        precondition(output.count >= ciphertext.count - SecretStream.chunkOverhead, "secretstream output buffer too small")
        var written: UInt64 = 0
        var rawTag: UInt8 = 0
        let status = crypto_secretstream_xchacha20poly1305_pull(
            state.typedPointer(crypto_secretstream_xchacha20poly1305_state.self),
            output.baseAddress?.assumingMemoryBound(to: UInt8.self), &written, &rawTag,
            ciphertext.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(ciphertext.count),
            nil, 0)
        guard status == 0, let tag = SecretStreamTag(rawValue: rawTag) else { throw .authenticationFailed }
        return (Int(written), tag)
    }
}
