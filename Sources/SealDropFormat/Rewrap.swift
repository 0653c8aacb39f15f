public import SealDropCrypto

extension EnvelopeHeader {
    /// A new header for the same payload, sealed to `recipients` instead: the file key is
    /// opened with one of `keys` (and the old header's MAC verified), then sealed to each new
    /// recipient, with the same metadata length and a new MAC over the same `streamHeader`.
    /// Every payload byte stays valid, so key rotation rewrites only the header.
    public func rewrapped(streamHeader: [UInt8], keys: [SecretKey], to recipients: [PublicKey]) throws(EnvelopeError) -> EnvelopeHeader {
        let (fileKey, _) = try unwrapFileKey(withAnyOf: keys, streamHeader: streamHeader)
        let header = try EnvelopeHeader.make(fileKey: fileKey, recipients: recipients, metadataLength: metadataLength, streamHeader: streamHeader)
        try header.verifyMAC(with: fileKey, streamHeader: streamHeader)
        return header
    }
}
