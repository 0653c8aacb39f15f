public import SealDropCrypto
public import Foundation

extension SigningPublicKey {
    /// The prefix of every signing public key's text form.
    public static let textPrefix = "sealdropsign"

    /// The key's text form: Bech32 with the prefix `sealdropsign`.
    public var text: String { Bech32.encode(prefix: Self.textPrefix, data: rawBytes) }

    /// Parses the text form.
    public init(text: String) throws(PublicKeyParseError) {
        let raw = try decodeKeyText(text, prefix: Self.textPrefix)
        do { try self.init(rawBytes: raw) } catch { throw .badKey }
    }

    /// Eight groups of four hex digits of BLAKE2b-256(key, key = "SealDrop signing key v1"):
    /// what sources and clients pin, and people compare aloud.
    public var fingerprint: String {
        groupedHex(BLAKE2b.hash(rawBytes, outputLength: 32, key: Array("SealDrop signing key v1".utf8)).prefix(16))
    }
}

/// Why a signed recipients list was refused.
public enum SignedRecipientsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The text is not a signed recipients list, or a line is malformed.
    case malformed(String)
    /// Signed by another key than the pinned signing key (both named by fingerprint).
    case wrongSigner(expected: String, found: String)
    /// The signature does not verify: the list was edited after signing, or forged.
    case badSignature
    /// The serial is lower than one already accepted.
    case serialWentBackwards(accepted: UInt64, offered: UInt64)
    /// The list's expiry has passed: a client refuses it, since a seized server could be
    /// replaying an old list whose keys the newsroom no longer holds safe.
    case expired(String)

    public var description: String {
        switch self {
        case .malformed(let why): "not a valid signed recipients list: \(why)"
        case .wrongSigner(let expected, let found): "signed by another key (fingerprint \(found)), not by the pinned signing key (fingerprint \(expected))"
        case .badSignature: "the signature does not verify: the list was changed after signing, or forged"
        case .serialWentBackwards(let accepted, let offered): "serial \(offered) is older than serial \(accepted), already in force"
        case .expired(let when): "the recipients list expired on \(when): the newsroom must sign a new one (keyholder sign-recipients)"
        }
    }
}

/// The newsroom's recipients list, signed by its offline signing key (Ed25519). The daemon serves
/// it unchanged through the protocol's `KEYS` verb; clients verify it against the signing key
/// they pinned, whose fingerprint survives every rotation. Text, UTF-8:
///
///     # any comment lines (not signed)
///     SEALDROP-RECIPIENTS-1
///     serial: 7
///     date: 2026-11-27T14:00:00Z
///     expires: 2027-02-25T14:00:00Z
///     signing-key: sealdropsign1…
///     recipient: sealdrop1…
///     recipient: sealdrop1…
///     signature: <base64 of the Ed25519 signature>
///
/// The signature covers the exact bytes from the start of the `SEALDROP-RECIPIENTS-1` line to
/// the end of the line before `signature:` (LF line ends, no comments inside). The article
/// <doc:KeysAndLists> specifies every line.
public struct SignedRecipients: Equatable, Sendable {
    /// The line that starts the signed part of a list.
    public static let magic = "SEALDROP-RECIPIENTS-1"
    /// How long a list is valid unless the signer says otherwise: 90 days.
    public static let defaultLifetime: Duration = .seconds(90 * 86_400)
    /// How long before its expiry the daemon starts warning: 14 days.
    public static let warningPeriod: Duration = .seconds(14 * 86_400)

    /// Increases with every new list; a list with a lower serial than one accepted is refused.
    public let serial: UInt64
    /// When it was signed (UTC, whole seconds).
    public let date: Date
    /// When it stops being valid (UTC, whole seconds): clients refuse it from then on.
    public let expires: Date
    /// The key that signed it.
    public let signingKey: SigningPublicKey
    /// The public keys uploads are sealed to, in order.
    public let recipients: [PublicKey]
    /// The whole document, as signed and served.
    public let text: String

    /// Signs a new list, valid from `date` until `expires` (by default ``defaultLifetime``
    /// later).
    public static func sign(recipients: [PublicKey], serial: UInt64, date: Date = Date(), expires: Date? = nil,
                            with key: SigningSecretKey) throws(SignedRecipientsError) -> SignedRecipients {
        guard !recipients.isEmpty else { throw .malformed("no recipients") }
        let formatter = ISO8601DateFormatter()
        let date = Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
        let expires = expires ?? date.addingTimeInterval(Double(defaultLifetime.components.seconds))
        var body = "\(magic)\nserial: \(serial)\ndate: \(formatter.string(from: date))\nexpires: \(formatter.string(from: expires))\nsigning-key: \(key.publicKey.text)\n"
        for recipient in recipients { body += "recipient: \(recipient.text)\n" }
        let signature = key.sign(Array(body.utf8))
        let text = "# SealDrop recipients list, signed by the newsroom's offline signing key.\n# Check the signing key's fingerprint: \(key.publicKey.fingerprint)\n"
            + body + "signature: \(Data(signature).base64EncodedString())\n"
        return try parse(text, pinnedKey: key.publicKey)
    }

    /// Parses and verifies a list against the pinned signing key.
    public static func parse(_ text: String, pinnedKey: SigningPublicKey) throws(SignedRecipientsError) -> SignedRecipients {
        guard let start = text.range(of: magic + "\n") else { throw .malformed("no \(magic) line") }
        guard start.lowerBound == text.startIndex || text[text.index(before: start.lowerBound)] == "\n" else {
            throw .malformed("\(magic) must start a line")
        }
        for line in text[..<start.lowerBound].split(separator: "\n") where !line.hasPrefix("#") && !line.allSatisfy({ $0 == " " || $0 == "\r" }) {
            throw .malformed("only # comment lines may come before the \(magic) line")
        }
        guard let signatureLine = text.range(of: "\nsignature: ", range: start.lowerBound..<text.endIndex) else {
            throw .malformed("no signature line")
        }
        let signed = String(text[start.lowerBound...signatureLine.lowerBound])
        let signatureText = text[signatureLine.upperBound...].prefix { $0 != "\n" }
        guard let signature = Data(base64Encoded: String(signatureText)), signature.count == SigningPublicKey.signatureByteCount else {
            throw .malformed("the signature is not 64 bytes of base64")
        }
        let rest = text[signatureLine.upperBound...].drop { $0 != "\n" }.dropFirst()
        guard rest.allSatisfy({ $0 == "\n" || $0 == " " || $0 == "\r" }) else { throw .malformed("text after the signature") }

        var serial: UInt64?, date: Date?, expires: Date?, signer: SigningPublicKey?
        var recipients: [PublicKey] = []
        for line in signed.split(separator: "\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw .malformed("line without a field name") }
            let field = line[..<colon], value = line[line.index(after: colon)...].drop { $0 == " " }
            switch field {
            case "serial":
                guard serial == nil, let number = UInt64(value), String(number) == value else { throw .malformed("bad serial") }
                serial = number
            case "date":
                guard date == nil, let parsed = ISO8601DateFormatter().date(from: String(value)) else { throw .malformed("bad date") }
                date = parsed
            case "expires":
                guard expires == nil, let parsed = ISO8601DateFormatter().date(from: String(value)) else { throw .malformed("bad expires") }
                expires = parsed
            case "signing-key":
                guard signer == nil, let key = try? SigningPublicKey(text: String(value)) else { throw .malformed("bad signing key") }
                signer = key
            case "recipient":
                do { recipients.append(try PublicKey(text: String(value))) } catch { throw .malformed("recipient: \(error)") }
            default:
                throw .malformed("unknown field \(field)")
            }
        }
        guard let serial, let date, let expires, let signer else { throw .malformed("serial, date, expires and signing-key are required") }
        guard expires > date else { throw .malformed("expires must be after date") }
        guard !recipients.isEmpty, recipients.count <= 32 else { throw .malformed("1 to 32 recipients are required") }
        guard Set(recipients).count == recipients.count else { throw .malformed("a recipient is listed twice") }
        guard signer == pinnedKey else { throw .wrongSigner(expected: pinnedKey.fingerprint, found: signer.fingerprint) }
        do { try pinnedKey.verify([UInt8](signature), of: Array(signed.utf8)) } catch { throw .badSignature }
        return SignedRecipients(serial: serial, date: date, expires: expires, signingKey: signer, recipients: recipients, text: text)
    }

    /// What a source's client does with a list the drop served: verifies it against the signing
    /// key the drop address pins, and refuses it once expired. A source keeps no state, so a
    /// serial alone could not stop a seized server from replaying an old list; the expiry does.
    public static func verifiedForUpload(_ text: String, address: DropAddress, now: Date = Date()) throws(SignedRecipientsError) -> SignedRecipients {
        let list = try parse(text, pinnedKey: address.signingKey)
        try list.checkNotExpired(at: now)
        return list
    }

    /// Refuses the list if it has expired at `now`.
    public func checkNotExpired(at now: Date = Date()) throws(SignedRecipientsError) {
        if now >= expires { throw .expired(ISO8601DateFormatter().string(from: expires)) }
    }

    /// Whether the list expires within ``warningPeriod`` of `now` (or has expired).
    public func expiresSoon(at now: Date = Date()) -> Bool {
        Self.expiresSoon(expires, at: now)
    }

    private static func expiresSoon(_ expires: Date, at now: Date) -> Bool {
        expires.timeIntervalSince(now) <= Double(warningPeriod.components.seconds)
    }

    /// What to tell the operator of a list that expires at `expires`, within ``warningPeriod``
    /// of `now` or already past (sources' clients refuse an expired list); nil otherwise.
    public static func expiryWarning(expires: Date, at now: Date = Date()) -> String? {
        guard expiresSoon(expires, at: now) else { return nil }
        let stamp = ISO8601DateFormatter().string(from: expires)
        let seconds = expires.timeIntervalSince(now)
        if seconds <= 0 { return "the signed recipients list expired on \(stamp): sources' clients refuse it; sign a new one (keyholder sign-recipients) and reload" }
        return "the signed recipients list expires on \(stamp), in \(Int(seconds / 86_400)) day(s): sign the next one (keyholder sign-recipients) before then"
    }

    /// Refuses a list older than the serial already accepted.
    public func checkNotOlder(than accepted: UInt64?) throws(SignedRecipientsError) {
        if let accepted, serial < accepted { throw .serialWentBackwards(accepted: accepted, offered: serial) }
    }
}
