public import Foundation

/// What a submission says about itself, stored only inside the ciphertext (the metadata chunk).
/// Every field but `time` and `sealedBy` is optional: a source may withhold all of them.
public struct Metadata: Codable, Equatable, Sendable {
    /// Who sealed the submission.
    public enum Sealer: String, Codable, Sendable {
        /// The source's own machine (`sealdrop seal`): `time` is the source's clock.
        case source
        /// The daemon, on receipt: `time` is the server's clock.
        case server
    }

    /// The original file name as the source gave it. Untrusted: sanitise before use.
    public var name: String?
    /// The media type, if the source gave one. Untrusted.
    public var mediaType: String?
    /// The content length, when known before sealing began.
    public var size: UInt64?
    /// When it was sealed (UTC, whole seconds).
    public var time: Date
    /// A note from the source to the newsroom. Untrusted: escape before printing.
    public var message: String?
    /// Who sealed it.
    public var sealedBy: Sealer

    /// Creates metadata; `time` is truncated to whole seconds.
    public init(name: String? = nil, mediaType: String? = nil, size: UInt64? = nil, time: Date = Date(),
                message: String? = nil, sealedBy: Sealer) {
        self.name = name
        self.mediaType = mediaType
        self.size = size
        self.time = Date(timeIntervalSince1970: time.timeIntervalSince1970.rounded(.down))
        self.message = message
        self.sealedBy = sealedBy
    }

    enum CodingKeys: String, CodingKey {
        case name, mediaType = "type", size, time, message, sealedBy = "sealed_by"
    }

    /// The JSON text stored in the metadata chunk (keys sorted, no white space).
    package func encoded() throws(SealingError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        // Encoding strings, numbers and a date cannot fail.
        return Array(try! encoder.encode(self))
    }

    static func decode(_ json: [UInt8]) throws(EnvelopeError) -> Metadata {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do { return try decoder.decode(Metadata.self, from: Data(json)) } catch {
            throw .malformedMetadata("not the metadata JSON object")
        }
    }
}
