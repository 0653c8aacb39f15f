public import Foundation

/// Encodes `value` as one line of JSON (keys sorted, no white space, `/` not escaped) that is
/// safe to print on a terminal: besides what JSON itself escapes, every character that
/// ``escapeForDisplay(_:)`` would escape (C1 controls, DEL, bidi overrides and isolates, line
/// separators, BOM) is written as a `\uXXXX` escape. Such characters can only occur inside JSON
/// strings, so the result is still valid JSON and decodes to exactly the same value.
///
/// With `preciseDates`, times are written with milliseconds (`2026-11-30T05:00:00.123Z`), for
/// records whose order matters within a second.
public func jsonLine(_ value: some Encodable, preciseDates: Bool = false) throws(CLIError) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    if preciseDates {
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(preciseDateFormatter().string(from: date))
        }
    } else {
        encoder.dateEncodingStrategy = .iso8601
    }
    let data: Data
    do { data = try encoder.encode(value) } catch { throw CLIError("cannot encode JSON: \(error)") }
    return escapeJSONText(String(decoding: data, as: UTF8.self))
}

/// Replaces every dangerous character of a JSON text with its `\uXXXX` escape (UTF-16, so a
/// character beyond the BMP would become a surrogate pair; none of the dangerous ones is).
func escapeJSONText(_ json: String) -> String {
    var out = ""
    out.reserveCapacity(json.utf8.count)
    for scalar in json.unicodeScalars {
        if isDangerous(scalar) {
            for unit in String(scalar).utf16 {
                out += "\\u" + String(unit, radix: 16).leftPadded(4)
            }
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}

/// Times with milliseconds, in UTC.
func preciseDateFormatter() -> ISO8601DateFormatter {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter
}

/// A JSON decoder for records written by ``jsonLine(_:preciseDates:)``: times with or without
/// milliseconds.
public func recordDecoder() -> JSONDecoder {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .custom { decoder in
        let text = try decoder.singleValueContainer().decode(String.self)
        if isRecordTime(text), let date = preciseDateFormatter().date(from: text) ?? ISO8601DateFormatter().date(from: text) { return date }
        throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an ISO 8601 time: \(text)"))
    }
    return decoder
}

/// Whether `text` has the shape of the times records hold: `2026-11-30T18:31:11Z`, with at most
/// nine digits of fractional seconds, in UTC. Checked before `ISO8601DateFormatter` sees it: ICU's
/// parser behind it dies with SIGFPE on a fraction of a hundred digits (found by
/// FuzzKeyholderRecords; `Tests/Fuzz/Regressions/FuzzKeyholderRecords`).
func isRecordTime(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    let shape = Array("0000-00-00T00:00:00".utf8)
    guard bytes.count >= shape.count + 1, bytes.count <= shape.count + 11, bytes.last == UInt8(ascii: "Z") else { return false }
    let isDigit = { (byte: UInt8) in (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
    for (byte, expected) in zip(bytes, shape) where expected == UInt8(ascii: "0") ? !isDigit(byte) : byte != expected {
        return false
    }
    let fraction = bytes[shape.count..<(bytes.count - 1)]
    guard let point = fraction.first else { return true }
    return point == UInt8(ascii: ".") && (2...10).contains(fraction.count) && fraction.dropFirst().allSatisfy(isDigit)
}
