public import SealDropCrypto

extension EnvelopeHeader {
    /// A new header for the same payload, sealed to `recipients` instead: the file key is
    /// opened with one of `keys` (and the old header's MAC verified), then sealed to each new
    /// recipient, with the same metadata length and a new MAC over the same `streamHeader`.
    /// Every payload byte stays valid, so key rotation rewrites only the header.
    public func rewrapped(streamHeader: SecretStreamHeader, keys: [SecretKey], to recipients: [PublicKey]) throws -> EnvelopeHeader {
        let (fileKey, _) = try unwrapFileKey(withAnyOf: keys, streamHeader: streamHeader)
        let header = try EnvelopeHeader.make(fileKey: fileKey, recipients: recipients, metadataLength: metadataLength, streamHeader: streamHeader)
        try header.verifyMAC(with: fileKey, streamHeader: streamHeader)
        return header
    }
}

/// Re-keying a submission for new recipients in one pass (<doc:FormatV1>, "Re-keying").
public enum Rekeying {
    /// Writes to `output` the submission read from `remaining` (positioned just after `header`)
    /// with a new header sealed to `recipients`, authenticating every chunk as it copies it:
    /// the stream header, the metadata chunk and each payload chunk are copied byte for byte
    /// only as they are read for authentication, so what is written is exactly what was
    /// checked. Returns the new header once the final chunk authenticated and nothing follows
    /// it. On any error (``EnvelopeError`` for the original, ``SealingError`` for the new
    /// recipients, or whatever `output` throws) the caller must discard what was written.
    public static func rewrap<Source: ByteSource>(header: EnvelopeHeader, remaining: Source, keys: [SecretKey],
                                                  to recipients: [PublicKey],
                                                  output: @escaping (UnsafeRawBufferPointer) throws -> Void) throws -> EnvelopeHeader {
        var input = remaining
        let streamHeader = try EnvelopeReader<Source>.readStreamHeader(after: header, from: &input, keys: keys)
        let newHeader = try header.rewrapped(streamHeader: streamHeader, keys: keys, to: recipients)
        try (newHeader.bytes + streamHeader.bytes).withUnsafeBytes { try output($0) }
        let reader = try EnvelopeReader(header: header, streamHeader: streamHeader,
                                        remaining: CopyingSource(input, copy: output), keys: keys)
        try reader.readAll { _ in }
        return newHeader
    }
}
