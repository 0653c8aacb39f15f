/// Makes untrusted text (names and messages from sources) safe to print on a terminal, in a log
/// or in JSON: control characters (C0, DEL, C1, so every ANSI escape), line and paragraph
/// separators, and bidirectional overrides and isolates are shown as `\u{…}` escapes; a
/// backslash is doubled so an escape cannot be faked. Everything else is printed as it is.
public func escapeForDisplay(_ text: String) -> String {
    // Most lines (a table of IDs and dates) need nothing: return them without copying.
    if !text.unicodeScalars.contains(where: { $0 == "\\" || isDangerous($0) }) { return text }
    var out = ""
    out.reserveCapacity(text.unicodeScalars.count)
    for scalar in text.unicodeScalars {
        if scalar == "\\" {
            out += "\\\\"
        } else if isDangerous(scalar) {
            out += "\\u{" + String(scalar.value, radix: 16) + "}"
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}

/// Characters that can move the cursor, change colours, reorder text or start a new line.
func isDangerous(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x00...0x1F, 0x7F...0x9F: true                 // C0, DEL, C1 (ESC, CSI, newline, ...)
    case 0x2028, 0x2029: true                            // line and paragraph separators
    case 0x200E, 0x200F, 0x061C: true                    // LRM, RLM, ALM
    case 0x202A...0x202E, 0x2066...0x2069: true          // bidi embeddings, overrides, isolates
    case 0xFEFF: true                                    // zero-width no-break space (BOM)
    default: false
    }
}
