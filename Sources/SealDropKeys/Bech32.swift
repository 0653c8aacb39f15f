/// Bech32 (BIP 173) text encoding: a human-readable prefix, a `1`, base-32 data and a
/// six-character checksum that catches any typo of up to four characters (in strings of at most
/// 90 characters; longer ones still miss a random error with a chance of about 2^-30). SealDrop
/// uses it for public keys (`sealdrop1…`, at most 90 characters) and for drop addresses
/// (`sealdropaddr1…`, longer, with an exact length per version); it is an encoding, not
/// cryptography.
enum Bech32 {
    private static let alphabet = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)
    private static let generator: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]

    enum DecodingError: Error, Equatable {
        case mixedCase, noSeparator, badCharacter, badChecksum, tooLong, badPadding
    }

    private static func polymod(_ values: [UInt8]) -> UInt32 {
        var checksum: UInt32 = 1
        for value in values {
            let top = checksum >> 25
            checksum = (checksum & 0x1ff_ffff) << 5 ^ UInt32(value)
            for i in 0..<5 where (top >> UInt32(i)) & 1 == 1 { checksum ^= generator[i] }
        }
        return checksum
    }

    private static func expand(_ prefix: [UInt8]) -> [UInt8] {
        prefix.map { $0 >> 5 } + [0] + prefix.map { $0 & 31 }
    }

    /// Regroups bits, e.g. 8-bit bytes into 5-bit groups and back.
    private static func convertBits(_ data: [UInt8], from: Int, to: Int, pad: Bool) throws(DecodingError) -> [UInt8] {
        var accumulator = 0, bits = 0
        var out: [UInt8] = []
        let maxValue = (1 << to) - 1
        for value in data {
            accumulator = (accumulator << from) | Int(value)
            bits += from
            while bits >= to {
                bits -= to
                out.append(UInt8((accumulator >> bits) & maxValue))
            }
        }
        if pad {
            if bits > 0 { out.append(UInt8((accumulator << (to - bits)) & maxValue)) }
        } else if bits >= from || (accumulator << (to - bits)) & maxValue != 0 {
            throw .badPadding
        }
        return out
    }

    static func encode(prefix: String, data: [UInt8]) -> String {
        let hrp = Array(prefix.utf8)
        let groups = try! convertBits(data, from: 8, to: 5, pad: true)
        let mod = polymod(expand(hrp) + groups + [0, 0, 0, 0, 0, 0]) ^ 1
        let checksum = (0..<6).map { UInt8((mod >> (5 * (5 - UInt32($0)))) & 31) }
        return prefix + "1" + String(decoding: (groups + checksum).map { alphabet[Int($0)] }, as: UTF8.self)
    }

    /// Decodes a Bech32 string of at most `maxLength` characters into its prefix (lowercased)
    /// and data bytes.
    static func decode(_ text: String, maxLength: Int = 90) throws(DecodingError) -> (prefix: String, data: [UInt8]) {
        let bytes = Array(text.utf8)
        guard bytes.count <= maxLength else { throw .tooLong }
        let hasLower = bytes.contains { (0x61...0x7a).contains($0) }
        let hasUpper = bytes.contains { (0x41...0x5a).contains($0) }
        guard !(hasLower && hasUpper) else { throw .mixedCase }
        let lower = bytes.map { (0x41...0x5a).contains($0) ? $0 + 32 : $0 }
        guard let separator = lower.lastIndex(of: UInt8(ascii: "1")), separator >= 1, lower.count - separator > 6 else {
            throw .noSeparator
        }
        let hrp = Array(lower[..<separator])
        guard hrp.allSatisfy({ (33...126).contains($0) }) else { throw .badCharacter }
        var values: [UInt8] = []
        for character in lower[(separator + 1)...] {
            guard let index = alphabet.firstIndex(of: character) else { throw .badCharacter }
            values.append(UInt8(index))
        }
        guard polymod(expand(hrp) + values) == 1 else { throw .badChecksum }
        let data = try convertBits(Array(values.dropLast(6)), from: 5, to: 8, pad: false)
        return (String(decoding: hrp, as: UTF8.self), data)
    }
}
