import NIOCore
@testable import SealDropWire
import Testing

/// Builds random requests, mostly almost valid, from the grammar's pieces and their usual
/// mistakes, then mutates some of them byte-wise.
struct RequestFuzzer {
    var rng: SeededGenerator

    mutating func pick<T>(_ choices: [T]) -> T {
        choices[Int.random(in: 0..<choices.count, using: &self.rng)]
    }

    mutating func chance(_ percent: Int) -> Bool {
        Int.random(in: 0..<100, using: &self.rng) < percent
    }

    mutating func randomBytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self.rng) }
    }

    mutating func lineEnd() -> [UInt8] {
        self.chance(90) ? self.pick(["\n".bytes, "\r\n".bytes]) : self.pick(["\r".bytes, "\n\r".bytes, "\r\r\n".bytes])
    }

    mutating func requestLine() -> (bytes: [UInt8], declared: Int) {
        let magic = self.chance(85)
            ? "SEALDROP/1".bytes
            : self.pick(["SEALDROP/2", "SEALDROP/", "SEALDROP/1x", "sealdrop/1", "GET / HTTP/1.1", "SEALDROP/01", ""]).bytes
        let verb = self.chance(90)
            ? self.pick(["PUT", "SEALED", "KEYS", "PUT", "SEALED", "CREATE", "OFFSET", "APPEND"]).bytes
            : self.pick(["put", "GET", "PUTS", "", "K\u{1B}EYS", "append"]).bytes
        let declared = self.chance(80) ? Int.random(in: 0...40, using: &self.rng) : Int.random(in: 0...2000, using: &self.rng)
        var length: [UInt8]
        switch Int.random(in: 0..<10, using: &self.rng) {
        case 0: length = self.pick(["-1", "+5", "12a", "007", "", "18446744073709551616", "18446744073709551615"]).bytes
        case 1: length = self.randomBytes(Int.random(in: 0...25, using: &self.rng))
        case 2: length = [UInt8](repeating: UInt8(ascii: "9"), count: Int.random(in: 15...45, using: &self.rng))
        default: length = String(declared).bytes
        }
        var line = magic + " ".bytes + verb
        let takesLength = verb != "KEYS".bytes && verb != "OFFSET".bytes
        if takesLength || self.chance(5) {
            line += (self.chance(95) ? " " : self.pick(["  ", "\t", ""])).bytes + length
        }
        // CREATE's length is the upload's, not a body's.
        return (line + self.lineEnd(), takesLength && verb != "CREATE".bytes ? declared : 0)
    }

    mutating func headerValue() -> [UInt8] {
        switch Int.random(in: 0..<12, using: &self.rng) {
        case 0: return self.randomBytes(Int.random(in: 0...20, using: &self.rng))
        case 1: return "Überweisung 日本語 📄".bytes
        case 2: return self.pick([[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xC2, 0x85], [0x1B, 0x5B], [0x00], [0x7F], [0x09]])
        case 3: return [UInt8](repeating: UInt8(ascii: "v"), count: Int.random(in: 40...90, using: &self.rng))
        case 4: return " \t padded \t ".bytes
        default: return "value-\(Int.random(in: 0...999, using: &self.rng))".bytes
        }
    }

    /// A request without deliberate mistakes: any verb, line ends, known and unknown headers
    /// in any case, UTF-8 values, and an exact body.
    mutating func validRequest() -> [UInt8] {
        let verb = self.pick(Verb.allCases)
        let length = verb.takesLength ? Int.random(in: 0...300, using: &self.rng) : 0
        let declared = verb.hasBody ? length : 0
        var bytes = "SEALDROP/1 \(verb.rawValue)".bytes
        if verb.takesLength {
            bytes += " \(length)".bytes
        }
        bytes += self.pick(["\n".bytes, "\r\n".bytes])
        var names = ["Name", "Message", "Type", "Upload", "Token", "Offset", "X-Foo", "X-Bar"].filter { _ in self.chance(50) }
        names.shuffle(using: &self.rng)
        for name in names {
            let spelled = self.chance(50) ? name : name.uppercased()
            // An Offset is a number; the other values are any text.
            let value = name == "Offset" ? self.pick(["0", "65553", " 42 "]) : self.pick(["leak.pdf", " \t padded \t ", "Überweisung 日本語 📄", "", "a\tb"])
            bytes += "\(spelled):\(value)".bytes + self.pick(["\n".bytes, "\r\n".bytes])
        }
        bytes += self.pick(["\n".bytes, "\r\n".bytes])
        return bytes + self.randomBytes(declared)
    }

    mutating func request() -> [UInt8] {
        if self.chance(30) {
            var bytes = self.validRequest()
            if self.chance(20) {
                self.mutate(&bytes)
            }
            return bytes
        }
        let (line, declared) = self.requestLine()
        var bytes = line
        for _ in 0..<Int.random(in: 0...6, using: &self.rng) {
            let name = self.pick(["Name", "name", "NAME", "Message", "Type", "Upload", "TOKEN", "Offset", "X-Foo", "X Foo", "", "Näme", "Name ", "Ty\u{0}pe"])
            let separator = self.chance(90) ? ": " : self.pick([":", " ", "", "::"])
            bytes += name.bytes + separator.bytes + self.headerValue() + self.lineEnd()
        }
        bytes += self.lineEnd()
        // Sometimes short (truncated) or long (trailing data).
        let bodyCount = max(0, declared + (self.chance(70) ? 0 : Int.random(in: -5...5, using: &self.rng)))
        bytes += self.randomBytes(bodyCount)
        if self.chance(30) {
            self.mutate(&bytes)
        }
        return bytes
    }

    mutating func mutate(_ bytes: inout [UInt8]) {
        for _ in 0..<Int.random(in: 1...4, using: &self.rng) {
            guard !bytes.isEmpty else { return }
            let index = Int.random(in: 0..<bytes.count, using: &self.rng)
            switch Int.random(in: 0..<5, using: &self.rng) {
            case 0: bytes[index] ^= UInt8(1) << UInt8.random(in: 0...7, using: &self.rng)
            case 1: bytes[index] = self.pick([0x00, 0x0A, 0x0D, 0x20, 0x3A, 0x7F, 0xFF])
            case 2: bytes.remove(at: index)
            case 3: bytes.insert(contentsOf: self.randomBytes(Int.random(in: 1...8, using: &self.rng)), at: index)
            default:
                let end = min(bytes.count, index + Int.random(in: 1...30, using: &self.rng))
                bytes.insert(contentsOf: bytes[index..<end], at: index)
            }
        }
    }
}

@Suite("Fuzzed heads (BAD-INPUTS 12)")
struct FuzzTests {
    @Test("Random and mutated requests: no trap, a valid part sequence or a ProtocolError, the same for every split")
    func fuzz() throws {
        // Small limits so that the limit paths are reached often.
        let limits = WireLimits(maxHeaderLineBytes: 64, maxHeaderLines: 4, maxBodyBytes: 1000)
        var fuzzer = RequestFuzzer(rng: SeededGenerator(seed: 0xF0CC_AC1A))
        var splitRNG = SeededGenerator(seed: 0x0DDB_A11)
        var seenCodes: Set<ErrorCode> = []
        var completed = 0

        for round in 0..<3000 {
            let input = fuzzer.request()
            let (whole, waitingWhole) = decodeWithParser(Split.whole(input), limits: limits)
            let (single, waitingSingle) = decodeWithParser(Split.single(input), limits: limits)
            let (random, waitingRandom) = decodeWithParser(Split.random(input, using: &splitRNG), limits: limits)

            #expect(whole.isWellFormed, "round \(round): \(whole)")
            #expect(single == whole, "round \(round): byte by byte \(single) vs whole \(whole)")
            #expect(random == whole, "round \(round): random split \(random) vs whole \(whole)")
            #expect(max(waitingWhole, waitingSingle, waitingRandom) <= limits.maxHeaderLineBytes + 1)
            if let error = whole.error {
                #expect(decoderCodes.contains(error.code), "round \(round): \(error)")
                #expect(error.reason.utf8.allSatisfy { (0x20...0x7E).contains($0) }, "round \(round)")
                seenCodes.insert(error.code)
            } else {
                completed += 1
            }
            if round % 20 == 0 {
                // The same through the real handler.
                let (channel, _) = try decodeThroughChannel(Split.random(input, using: &splitRNG), limits: limits)
                #expect(channel == whole, "round \(round): channel \(channel) vs parser \(whole)")
            }
        }
        // The generator reaches the success path and every refusal the decoder can make.
        #expect(completed > 500)
        #expect(seenCodes == decoderCodes)
    }

    @Test("Purely random bytes: always refused or truncated, never a trap")
    func randomNoise() {
        var rng = SeededGenerator(seed: 0xBAD_5EED)
        for _ in 0..<1000 {
            let count = Int.random(in: 0...300, using: &rng)
            let input = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let (outcome, waiting) = decodeWithParser(Split.random(input, using: &rng))
            #expect(outcome.isWellFormed)
            #expect(outcome.error != nil)
            #expect(waiting <= WireLimits().maxHeaderLineBytes + 1)
        }
    }
}
