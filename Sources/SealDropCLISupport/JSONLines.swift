import Foundation

/// Encodes `value` as one line of JSON (keys sorted, no white space, `/` not escaped) that is
/// safe to print on a terminal: besides what JSON itself escapes, every character that
/// ``escapeForDisplay(_:)`` would escape (C1 controls, DEL, bidi overrides and isolates, line
/// separators, BOM) is written as a `\uXXXX` escape. Such characters can only occur inside JSON
/// strings, so the result is still valid JSON and decodes to exactly the same value.
public func jsonLine(_ value: some Encodable) throws(CLIError) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
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
