import Foundation
import SealDropCLISupport
import Testing

/// Escaping of untrusted text and the JSON keyholder prints.
@Suite("Escaping and JSON lines")
struct EscapingTests {
    static let escapeCases: [(String, String)] = [
        ("\u{1B}[31mred\u{1B}[0m", "\\u{1b}[31mred\\u{1b}[0m"),
        ("a\nb\rc\td", "a\\u{a}b\\u{d}c\\u{9}d"),
        ("\u{202E}fdp.exe", "\\u{202e}fdp.exe"),
        ("\u{2066}x\u{2069}", "\\u{2066}x\\u{2069}"),
        ("\u{9B}31m", "\\u{9b}31m"),
        ("line\u{2028}sep", "line\\u{2028}sep"),
        ("nul\u{0}byte", "nul\\u{0}byte"),
        ("del\u{7F}", "del\\u{7f}"),
        ("\u{FEFF}bom", "\\u{feff}bom"),
        ("back\\slash", "back\\\\slash"),
        ("plain café 報告.pdf", "plain café 報告.pdf"),
    ]

    @Test("control characters, ANSI escapes, bidi controls and line breaks are escaped", arguments: escapeCases)
    func escapes(_ input: String, _ expected: String) {
        #expect(escapeForDisplay(input) == expected)
    }

    @Test("an escape cannot be faked: a literal backslash-u is doubled")
    func noFakeEscapes() {
        #expect(escapeForDisplay("\\u{1b}") == "\\\\u{1b}")
        #expect(escapeForDisplay("\\u{1b}") != escapeForDisplay("\u{1B}"))
    }

    struct Sample: Codable, Equatable {
        var name: String
        var size: Int
    }

    @Test("JSON lines hold no raw dangerous character and decode to the exact original", arguments: [
        "\u{1B}[2J\u{1B}[31mgotcha", "\u{202E}gpj.exe", "two\nlines", "c1\u{85}\u{9B}", "ls\u{2028}ps\u{2029}",
        "nul\u{0}", "quote\"back\\slash/", "emoji 🙂 and é",
    ])
    func jsonIsSafeAndLossless(_ name: String) throws {
        let line = try jsonLine(Sample(name: name, size: 3))
        #expect(!line.contains("\n"))
        #expect(line.unicodeScalars.allSatisfy { scalar in
            !(scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || [0x2028, 0x2029, 0x202E, 0xFEFF].contains(scalar.value))
        }, "\(line)")
        let decoded = try JSONDecoder().decode(Sample.self, from: Data(line.utf8))
        #expect(decoded == Sample(name: name, size: 3))
    }

    @Test("JSON lines sort their keys and leave slashes alone")
    func jsonShape() throws {
        #expect(try jsonLine(Sample(name: "a/b", size: 1)) == #"{"name":"a/b","size":1}"#)
    }
}

/// Source-supplied file names reduced to safe base names.
@Suite("Safe file names")
struct SafeNameTests {
    static let cases: [(String, String)] = [
        ("../../etc/passwd", "passwd"),
        ("/etc/shadow", "shadow"),
        ("..\\..\\windows\\system.ini", "system.ini"),
        ("a\u{0}b.txt", "ab.txt"),
        ("\u{1B}[31mred.txt", "[31mred.txt"),
        ("\u{202E}fdp.exe", "fdp.exe"),
        ("two\nlines.txt", "twolines.txt"),
        ("...hidden", "hidden"),
        ("-rf", "rf"),
        ("trailing. . ", "trailing"),
        ("dir/", "dir"),
        ("cafe\u{301}.txt", "caf\u{E9}.txt"),
    ]

    @Test("path parts, control characters, leading dots and dashes are removed", arguments: cases)
    func reduces(_ input: String, _ expected: String) {
        #expect(safeFileName(input) == expected)
    }

    @Test("nothing usable left gives nil (the caller uses the submission ID)", arguments: ["", ".", "..", "/", "//", "../..", "\u{0}", "\u{1B}", " . ", "...", "-"])
    func nothingLeft(_ input: String) {
        #expect(safeFileName(input) == nil)
    }

    @Test("no name at all gives nil")
    func absent() {
        #expect(safeFileName(nil) == nil)
    }

    @Test("long names are cut at a character boundary to 200 bytes, keeping the extension")
    func longNames() throws {
        let name = String(repeating: "é", count: 200) + ".pdf"
        let safe = try #require(safeFileName(name))
        #expect(safe.utf8.count <= 200)
        #expect(safe.hasSuffix(".pdf"))
        #expect(safe.dropLast(4).allSatisfy { $0 == "é" })
        let plain = try #require(safeFileName(String(repeating: "x", count: 1000)))
        #expect(plain.utf8.count == 200)
        // A numbered variant still fits in a 255-byte file name.
        #expect(numberedVariant(of: safe, 9999).utf8.count <= 255)
    }

    @Test("one character of hundreds of bytes (combining marks) cannot empty the name or leave a bare extension")
    func hugeCharacters() throws {
        let heavy = "a" + String(repeating: "\u{301}", count: 300)
        for name in [heavy, heavy + ".sh", heavy + ".pdf", String(repeating: heavy, count: 3)] {
            let safe = try #require(safeFileName(name), "\(name.utf8.count) bytes")
            #expect(!safe.isEmpty && !safe.hasPrefix("."))
            #expect(safe.utf8.count <= 200)
            #expect(safe.unicodeScalars.first == "a" || safe.unicodeScalars.first == "\u{E1}")
        }
        #expect(safeFileName(heavy + ".sh").map { String($0.unicodeScalars.suffix(3)) } == ".sh")
    }

    @Test("numbered variants go before the extension")
    func variants() {
        #expect(numberedVariant(of: "report.pdf", 1) == "report (1).pdf")
        #expect(numberedVariant(of: "archive.tar.gz", 2) == "archive.tar (2).gz")
        #expect(numberedVariant(of: "README", 3) == "README (3)")
    }
}

/// Numbers and times for people.
@Suite("Formatting")
struct FormattingTests {
    static let byteCountCases: [(UInt64, String)] = [
        (0, "0 B"), (1, "1 B"), (1023, "1023 B"), (1024, "1.00 KiB"), (1536, "1.50 KiB"),
        (10 * 1024, "10.0 KiB"), (150 * 1024, "150 KiB"), (1 << 20, "1.00 MiB"), (1 << 30, "1.00 GiB"),
        (5 << 40, "5.00 TiB"),
    ]

    @Test("byte counts", arguments: byteCountCases)
    func byteCounts(_ count: UInt64, _ text: String) {
        #expect(formatByteCount(count) == text)
    }

    @Test("durations")
    func durations() {
        #expect(formatDuration(0) == "0:00")
        #expect(formatDuration(7.4) == "0:07")
        #expect(formatDuration(754) == "12:34")
        #expect(formatDuration(3723) == "1:02:03")
        #expect(formatDuration(.infinity) == "--:--")
        #expect(formatDuration(-1) == "--:--")
    }

    @Test("UTC times")
    func times() {
        #expect(formatUTC(Date(timeIntervalSince1970: 0)) == "1970-01-01 00:00:00")
        #expect(formatUTC(Date(timeIntervalSince1970: 1_790_000_000.9)) == "2026-09-21 14:13:20")
    }

    @Test("the progress line shows percent, bar, bytes, rate and ETA within the width")
    func progressLine() {
        let line = ProgressBar.render(label: "report.pdf", done: 50 << 20, total: 100 << 20, elapsed: 2, width: 80)
        #expect(line.hasPrefix("report.pdf  50% ["))
        #expect(line.contains("  50.0 MiB of 100 MiB  25.0 MiB/s"))
        #expect(line.contains("ETA 0:02"))
        #expect(line.count <= 80)
        let done = ProgressBar.render(label: String(repeating: "x", count: 60), done: 10, total: 10, elapsed: 1, width: 80)
        #expect(done.contains("100% [" + String(repeating: "#", count: 10)))
        #expect(done.hasPrefix(String(repeating: "x", count: 23) + "…"))
        let start = ProgressBar.render(label: "a", done: 0, total: 10, elapsed: 0, width: 80)
        #expect(start.contains("ETA --:--"))
    }

    @Test("parent folders")
    func parents() {
        #expect(parentFolder(of: "a/b/c") == "a/b")
        #expect(parentFolder(of: "c") == ".")
        #expect(parentFolder(of: "/c") == "/")
        #expect(parentFolder(of: "a/b/") == "a")
        #expect(parentFolder(of: "/") == "/")
    }
}
