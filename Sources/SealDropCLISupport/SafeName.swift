import Foundation

/// Turns a source-supplied file name into one that is safe to create inside the output folder:
/// only the last path component survives (`/` and `\` both count as separators), control and
/// bidi characters are dropped, the name is put in Unicode NFC, leading dots, dashes and spaces are removed (no hidden files,
/// nothing that reads as an option), `.` and `..` vanish, and the result is cut to at most
/// `maxBytes` UTF-8 bytes, keeping a short extension. Nil when nothing usable is left: the
/// caller falls back to the submission ID.
public func safeFileName(_ untrusted: String?, maxBytes: Int = 200) -> String? {
    guard let untrusted else { return nil }
    let lastComponent = untrusted.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
    var cleaned = String(String.UnicodeScalarView(lastComponent.unicodeScalars.filter { !isDangerous($0) }))
    cleaned = cleaned.precomposedStringWithCanonicalMapping
    while let first = cleaned.first, first == "." || first == "-" || first == " " { cleaned.removeFirst() }
    while let last = cleaned.last, last == " " || last == "." { cleaned.removeLast() }
    guard !cleaned.isEmpty else { return nil }
    return truncateKeepingExtension(cleaned, maxBytes: maxBytes)
}

/// Cuts `name` to `maxBytes` UTF-8 bytes, keeping an extension of up to 16 bytes. It cuts
/// between Unicode scalars, not whole characters: one "character" can be hundreds of bytes (a
/// letter with hundreds of combining marks), and must not wipe out the whole stem. Nil when no
/// stem is left (never a bare extension, which would be a hidden file).
func truncateKeepingExtension(_ name: String, maxBytes: Int) -> String? {
    guard name.utf8.count > maxBytes else { return name }
    var stem = Substring(name), ext = ""
    if let dot = name.lastIndex(of: "."), dot != name.startIndex, name.utf8[dot...].count <= 16 {
        stem = name[..<dot]
        ext = String(name[dot...])
    }
    let budget = maxBytes - ext.utf8.count
    var cut = String.UnicodeScalarView()
    var used = 0
    for scalar in stem.unicodeScalars {
        let width = UTF8.width(scalar)
        if used + width > budget { break }
        cut.append(scalar)
        used += width
    }
    var result = String(cut)
    while let last = result.last, last == " " || last == "." { result.removeLast() }
    return result.isEmpty ? nil : result + ext
}

/// The `n`-th alternative for a name that is taken: `report.pdf` → `report (1).pdf`.
public func numberedVariant(of name: String, _ n: Int) -> String {
    if let dot = name.lastIndex(of: "."), dot != name.startIndex {
        return "\(name[..<dot]) (\(n))\(name[dot...])"
    }
    return "\(name) (\(n))"
}
