/// Lowercase hexadecimal for values that are not secret (hashes, tokens on the wire, random
/// names). Secrets go through ``SecureBytes/hexDigits()`` and ``SecureBytes/fromHexDigits(_:byteCount:)``,
/// which keep them in guarded memory and work in constant time.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// `bytes` as two lowercase hex digits each.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of exactly `2 × byteCount` lowercase hex digits; nil for any other length, an
    /// upper-case digit or any other character.
    public static func decode(_ text: some StringProtocol, byteCount: Int) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count == byteCount * 2 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(byteCount)
        for pair in stride(from: 0, to: utf8.count, by: 2) {
            guard let high = value(utf8[pair]), let low = value(utf8[pair + 1]) else { return nil }
            out.append(high << 4 | low)
        }
        return out
    }

    private static func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
