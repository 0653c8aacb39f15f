public import Foundation

/// What a submission says about itself, stored only inside the ciphertext (the metadata chunk).
/// Only `sealedBy` is required: a source may withhold every other field, the time included.
/// Read with a strict parser (<doc:FormatV1>, "Metadata"); metadata that authenticates but
/// breaks the format's rules is ``Outcome/badMetadata``.
public struct Metadata: Equatable, Sendable {
    /// Who sealed the submission.
    public enum Sealer: String, Sendable {
        /// The source's own machine (`sealdrop seal`): `time` is the source's clock.
        case source
        /// The daemon, on receipt: `time` is the server's clock.
        case server
    }

    /// The original file name as the source gave it. Untrusted: sanitise before use.
    public var name: String?
    /// The media type, if the source gave one. Untrusted.
    public var mediaType: String?
    /// The content length, when known before sealing began; a reader checks the content has
    /// exactly this length.
    public var size: UInt64?
    /// When it was sealed (UTC, whole seconds, years 0001 to 9999); nil when the sealer
    /// recorded no time (`sealdrop seal --no-time`).
    public var time: Date?
    /// A note from the source to the newsroom. Untrusted: escape before printing.
    public var message: String?
    /// Who sealed it.
    public var sealedBy: Sealer

    /// Creates metadata; `time` is truncated to whole seconds, and nil records no time.
    public init(name: String? = nil, mediaType: String? = nil, size: UInt64? = nil, time: Date? = Date(),
                message: String? = nil, sealedBy: Sealer) {
        self.name = name
        self.mediaType = mediaType
        self.size = size
        self.time = time.map { Date(timeIntervalSince1970: $0.timeIntervalSince1970.rounded(.down)) }
        self.message = message
        self.sealedBy = sealedBy
    }

    /// The member names the format defines (JSON spelling).
    static let memberNames: Set<String> = ["name", "type", "size", "time", "message", "sealed_by"]

    /// The largest `size` the format allows: 2^63 − 1.
    static let maxSize = UInt64(Int64.max)

    /// The JSON members as the writer stores them; `nil` members are left out.
    private struct Stored: Encodable {
        var name: String?
        var type: String?
        var size: UInt64?
        var time: String?
        var message: String?
        var sealedBy: String

        enum CodingKeys: String, CodingKey {
            case name, type, size, time, message, sealedBy = "sealed_by"
        }
    }

    /// The JSON text stored in the metadata chunk (keys sorted, no white space, `time` left
    /// out when nil). Throws ``SealingError/timeOutOfRange`` for a time outside the years 0001
    /// to 9999 and ``SealingError/contentTooLarge`` for a size above ``Layout/maxContentLength``.
    package func encoded() throws(SealingError) -> [UInt8] {
        if let size, size > Layout.maxContentLength { throw .contentTooLarge }
        var timeText: String?
        if let time {
            guard let text = MetadataTime.format(time) else { throw .timeOutOfRange }
            timeText = text
        }
        let stored = Stored(name: name, type: mediaType, size: size, time: timeText, message: message, sealedBy: sealedBy.rawValue)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding strings and integers cannot fail.
        return Array(try! encoder.encode(stored))
    }

    /// Parses the metadata chunk's content by the format's rules; every refusal is
    /// ``EnvelopeError/malformedMetadata(_:)`` naming the rule broken.
    static func decode(_ json: [UInt8]) throws(EnvelopeError) -> Metadata {
        let members: [JSONMember]
        do { members = try StrictJSON.parseObject(json) } catch {
            throw .malformedMetadata("it is not a UTF-8 JSON object: \(error)")
        }
        // Names are compared scalar by scalar, as StrictJSON compared them for duplicates (not
        // by String's canonical equivalence); every other member is ignored.
        var values: [String: JSONValue] = [:]
        for member in members {
            if let known = memberNames.first(where: { $0.utf8.elementsEqual(member.name.utf8) }) { values[known] = member.value }
        }

        func string(_ name: String) throws(EnvelopeError) -> String? {
            switch values[name] {
            case nil: return nil
            case .string(let text)?: return text
            case let other?: throw .malformedMetadata("member \"\(name)\" must be a string, not \(other.kindDescription)")
            }
        }

        guard let sealerText = try string("sealed_by") else {
            throw .malformedMetadata("member \"sealed_by\" is missing (it is required)")
        }
        guard let sealedBy = Sealer(rawValue: sealerText) else {
            throw .malformedMetadata("member \"sealed_by\" must be \"source\" or \"server\"")
        }
        var time: Date?
        if let text = try string("time") {
            do { time = try MetadataTime.parse(text) } catch { throw .malformedMetadata("member \"time\" \(error.rule)") }
        }
        var size: UInt64?
        switch values["size"] {
        case nil: break
        case .number(let text)?:
            let digits = Array(text.utf8)
            guard digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                throw .malformedMetadata("member \"size\" must be a non-negative integer in plain decimal (no sign, fraction or exponent)")
            }
            guard let value = UInt64(text), value <= maxSize else {
                throw .malformedMetadata("member \"size\" exceeds 2^63 - 1")
            }
            size = value
        case let other?:
            throw .malformedMetadata("member \"size\" must be a number, not \(other.kindDescription)")
        }
        return Metadata(name: try string("name"), mediaType: try string("type"), size: size, time: time,
                        message: try string("message"), sealedBy: sealedBy)
    }
}

/// The metadata's time: exactly `YYYY-MM-DDTHH:MM:SSZ`, UTC, proleptic Gregorian calendar,
/// years 0001 to 9999, seconds 00 to 59.
enum MetadataTime {
    /// Why a time text was refused, as the end of a sentence starting with `member "time"`.
    struct Refusal: Error {
        let rule: String
    }

    private static let form = "must be exactly YYYY-MM-DDTHH:MM:SSZ"

    /// Parses a time text, or names the rule it breaks.
    static func parse(_ text: String) throws(Refusal) -> Date {
        let b = Array(text.utf8)
        let digitPositions = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
        func isDigit(_ i: Int) -> Bool { i < b.count && b[i] >= UInt8(ascii: "0") && b[i] <= UInt8(ascii: "9") }
        let separators: [(Int, UInt8)] = [(4, UInt8(ascii: "-")), (7, UInt8(ascii: "-")), (13, UInt8(ascii: ":")), (16, UInt8(ascii: ":"))]
        let stem = b.count >= 19 && digitPositions.allSatisfy(isDigit) && separators.allSatisfy { b[$0.0] == $0.1 }
            && (b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t"))
        guard stem else { throw Refusal(rule: "\(form) (UTC)") }
        if b.count > 19 && b[19] == UInt8(ascii: ".") { throw Refusal(rule: "\(form): no fraction of a second") }
        if b.count > 19 && (b[19] == UInt8(ascii: "+") || b[19] == UInt8(ascii: "-")) {
            throw Refusal(rule: "\(form): UTC written as Z, no other offset")
        }
        if b[10] == UInt8(ascii: "t") || (b.count == 20 && b[19] == UInt8(ascii: "z")) {
            throw Refusal(rule: "\(form): T and Z uppercase")
        }
        guard b.count == 20, b[19] == UInt8(ascii: "Z") else { throw Refusal(rule: "\(form) (UTC)") }
        func number(_ range: Range<Int>) -> Int { b[range].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) } }
        let year = number(0..<4), month = number(5..<7), day = number(8..<10)
        let hour = number(11..<13), minute = number(14..<16), second = number(17..<19)
        guard year >= 1 else { throw Refusal(rule: "has year 0000; years are 0001 to 9999") }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year) else {
            throw Refusal(rule: "is not a real calendar date")
        }
        guard hour <= 23, minute <= 59, second <= 59 else {
            throw Refusal(rule: "has a time of day out of range (hours 00-23, minutes and seconds 00-59)")
        }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + hour * 3_600 + minute * 60 + second))
    }

    /// The text of `date` (whole seconds, rounded down), or nil outside the years 0001 to 9999.
    static func format(_ date: Date) -> String? {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        // Years 0001 to 9999 lie well inside this range; beyond it Int conversion could trap.
        guard seconds.isFinite, abs(seconds) < 1e15 else { return nil }
        let total = Int(seconds)
        let days = total >= 0 ? total / 86_400 : -((-total + 86_399) / 86_400)
        let secondOfDay = total - days * 86_400
        let (year, month, day) = civil(daysSinceEpoch: days)
        guard (1...9999).contains(year) else { return nil }
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let yearText = String(repeating: "0", count: 4 - String(year).count) + String(year)
        return "\(yearText)-\(two(month))-\(two(day))T\(two(secondOfDay / 3_600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60))Z"
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date `days` after 1970-01-01 (H. Hinnant's algorithm).
    static func civil(daysSinceEpoch days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
