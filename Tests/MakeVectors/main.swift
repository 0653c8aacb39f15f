// Writes the format v1 test vectors: `swift run MakeVectors Tests/SealDropFormatTests/Vectors`.
//
// Each vector is a file: `key: value` lines (expect, keys, payload, comment), a blank line, then
// the submission's bytes (FormatV1.md, "Test vectors"). `expect` is one of: success, no match,
// header failure, payload failure, bad metadata. `payload` is the BLAKE2b-256 (hex) of the
// content a success must yield. `keys` names the key files in keys/ to open it with (their
// passphrase is keys/passphrase). The files are committed: a vector file that already exists is
// left exactly as it is (file keys, nonces and sealed boxes are random, so writing it again
// would change every byte); delete a file to make it anew.
import Foundation
import SealDropCrypto
import SealDropFormat
import SealDropKeys

let folder = CommandLine.arguments.dropFirst().first ?? "Tests/SealDropFormatTests/Vectors"
let keysFolder = folder + "/keys"
try FileManager.default.createDirectory(atPath: keysFolder, withIntermediateDirectories: true)
let passphraseText = "sealdrop test vectors"
try Data((passphraseText + "\n").utf8).write(to: URL(fileURLWithPath: keysFolder + "/passphrase"))
let passphrase = Array(passphraseText.utf8).withUnsafeBytes { SecureBytes(copying: $0) }

/// Makes (or reuses) the named vector key.
@MainActor
func vectorKey(_ name: String) throws -> SecretKey {
    let path = "\(keysFolder)/\(name).key"
    if let text = try? String(contentsOfFile: path, encoding: .utf8) {
        return try KeyFile(text: text).unlock(passphrase: passphrase)
    }
    let key = SecretKey.generate()
    try KeyFile.protect(key, passphrase: passphrase).text.write(toFile: path, atomically: true, encoding: .utf8)
    return key
}

let a = try vectorKey("a"), b = try vectorKey("b"), c = try vectorKey("c")
let fixedTime = Date(timeIntervalSince1970: 1_790_000_000)

/// A submission sealed by the real writer, kept as its prefix and its chunks.
struct Sealed {
    var prefix: [UInt8]
    var chunks: [[UInt8]]
    let header: EnvelopeHeader
    var bytes: [UInt8] { prefix + chunks.flatMap { $0 } }
    var headerLength: Int { header.bytes.count }
}

func seal(_ content: [UInt8], to recipients: [PublicKey], name: String? = "evidence.pdf") throws -> Sealed {
    try seal(content, to: recipients, metadata: Metadata(name: name, mediaType: "application/pdf", size: UInt64(content.count),
                                                         time: fixedTime, message: "from the vectors", sealedBy: .source))
}

func seal(_ content: [UInt8], to recipients: [PublicKey], metadata: Metadata) throws -> Sealed {
    let writer = try EnvelopeWriter(recipients: recipients, metadata: metadata)
    var chunks: [[UInt8]] = []
    content.withUnsafeBytes { bytes in writer.append(bytes) { chunks.append(Array($0)) } }
    try writer.finish { chunks.append(Array($0)) }
    return Sealed(prefix: writer.prefix, chunks: chunks, header: writer.header)
}

/// A submission whose payload chunks are given as raw plaintexts (length field included) and
/// tags: for layouts the real writer never produces.
func custom(_ chunks: [(plaintext: [UInt8], tag: SecretStreamTag)], to recipients: [PublicKey]) throws -> [UInt8] {
    let fileKey = FileKey()
    let metadata = Metadata(name: "custom.bin", time: fixedTime, sealedBy: .source)
    let json = try metadata.encoded()
    let pusher = SecretStreamPusher(key: fileKey.streamKey)
    let header = try EnvelopeHeader.make(fileKey: fileKey, recipients: recipients, metadataLength: 4096, streamHeader: pusher.header)
    var out = header.bytes + pusher.header.bytes
    func push(_ plaintext: [UInt8], _ tag: SecretStreamTag) {
        var sealed = [UInt8](repeating: 0, count: plaintext.count + SecretStream.chunkOverhead)
        _ = plaintext.withUnsafeBytes { p in sealed.withUnsafeMutableBytes { pusher.push(p, tag: tag, into: $0) } }
        out += sealed
    }
    push(bigEndian32(UInt32(json.count)) + json + [UInt8](repeating: 0, count: 4096 - 4 - json.count), .message)
    for chunk in chunks { push(chunk.plaintext, chunk.tag) }
    return out
}

func chunk(content: [UInt8], plaintextLength: Int) -> [UInt8] {
    bigEndian32(UInt32(content.count)) + content + [UInt8](repeating: 0, count: plaintextLength - 4 - content.count)
}

func pattern(_ count: Int, seed: UInt8 = 0) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) } }

func write(_ name: String, expect: String, keys: [String] = ["a"], content: [UInt8]? = nil, comment: String, bytes: [UInt8]) throws {
    let path = "\(folder)/\(name)"
    guard !FileManager.default.fileExists(atPath: path) else { return }
    var text = "expect: \(expect)\nkeys: \(keys.joined(separator: " "))\n"
    if let content { text += "payload: \(BLAKE2b.hash(content).hexString)\n" }
    text += "comment: \(comment)\n\n"
    try Data(Array(text.utf8) + bytes).write(to: URL(fileURLWithPath: path))
}

func flipped(_ bytes: [UInt8], at offset: Int) -> [UInt8] {
    var copy = bytes
    copy[offset] ^= 0x01
    return copy
}

let capacity = Layout.chunkCapacity
let many = pattern(140_000, seed: 7)

// Successes.
try write("empty", expect: "success", content: [], comment: "empty content", bytes: try seal([], to: [a.publicKey]).bytes)
try write("one_byte", expect: "success", content: [0x42], comment: "one byte", bytes: try seal([0x42], to: [a.publicKey]).bytes)
try write("one_chunk", expect: "success", content: pattern(1000), comment: "content in a single chunk", bytes: try seal(pattern(1000), to: [a.publicKey]).bytes)
for (label, count) in [("chunk_boundary_minus_1", capacity - 1), ("chunk_boundary", capacity), ("chunk_boundary_plus_1", capacity + 1)] {
    try write(label, expect: "success", content: pattern(count), comment: "content of \(count) bytes, around one chunk's capacity",
              bytes: try seal(pattern(count), to: [a.publicKey]).bytes)
}
try write("many_chunks", expect: "success", content: many, comment: "140000 bytes over three chunks", bytes: try seal(many, to: [a.publicKey]).bytes)
let several = try seal(pattern(5000), to: [b.publicKey, c.publicKey, a.publicKey])
try write("several_recipients_third", expect: "success", keys: ["a"], content: pattern(5000), comment: "three recipients, opened with the third", bytes: several.bytes)
try write("several_recipients_first", expect: "success", keys: ["b"], content: pattern(5000), comment: "three recipients, opened with the first", bytes: several.bytes)
try write("no_name", expect: "success", content: pattern(10), comment: "no file name recorded", bytes: try seal(pattern(10), to: [a.publicKey], name: nil).bytes)
try write("exact_padding_full_final", expect: "success", content: pattern(capacity * 2),
          comment: "content filling two chunks exactly (a short final chunk carries only padding)", bytes: try seal(pattern(capacity * 2), to: [a.publicKey]).bytes)

// No match.
try write("wrong_key", expect: "no match", keys: ["a"], comment: "sealed to b and c only", bytes: try seal(pattern(100), to: [b.publicKey, c.publicKey]).bytes)

// Header failures.
let base = try seal(many, to: [a.publicKey])
let h = base.headerLength
try write("flip_magic", expect: "header failure", comment: "first byte of the magic flipped", bytes: flipped(base.bytes, at: 0))
var version2 = base.bytes; version2[8] = 2
try write("unknown_version", expect: "header failure", comment: "version 2", bytes: version2)
try write("flip_recipient_count", expect: "header failure", comment: "recipient count 1 -> 0", bytes: flipped(base.bytes, at: 9))
try write("flip_metadata_length", expect: "header failure", comment: "metadata length changed (header MAC fails)", bytes: flipped(base.bytes, at: 12))
try write("flip_sealed_file_key", expect: "header failure", comment: "a byte of the sealed file key flipped", bytes: flipped(base.bytes, at: 14 + 8 + 40))
try write("flip_header_mac", expect: "header failure", comment: "last byte of the header MAC flipped", bytes: flipped(base.bytes, at: h - 1))
let other = try seal(many, to: [a.publicKey])
try write("spliced_header", expect: "header failure", comment: "header of another submission to the same key, this payload (the header MAC covers the stream header)",
          bytes: Array(other.bytes[0..<h]) + Array(base.bytes[h...]))
let twoRecipients = try seal(pattern(100), to: [a.publicKey, b.publicKey])
var edited = twoRecipients.bytes
edited.replaceSubrange((14 + 88)..<(14 + 176), with: try seal(pattern(1), to: [c.publicKey]).bytes[14..<(14 + 88)])
try write("edited_recipient_entry", expect: "header failure", comment: "second recipient entry replaced by an entry for c (header MAC fails)", bytes: edited)
try write("truncated_header", expect: "header failure", comment: "cut inside the header", bytes: Array(base.bytes[0..<(h - 10)]))

// No match when the key ID itself is flipped: the entry no longer names the key.
try write("flip_key_id", expect: "no match", comment: "the recipient's key ID flipped", bytes: flipped(base.bytes, at: 14))

// Payload failures.
try write("flip_stream_header", expect: "header failure", comment: "stream header flipped (the header MAC covers it)", bytes: flipped(base.bytes, at: h + 3))
try write("flip_metadata_chunk", expect: "payload failure", comment: "metadata chunk flipped", bytes: flipped(base.bytes, at: h + 24 + 100))
try write("flip_data_chunk", expect: "payload failure", comment: "a byte in the second data chunk flipped", bytes: flipped(base.bytes, at: base.prefix.count + base.chunks[0].count + 500))
try write("flip_last_byte", expect: "payload failure", comment: "last byte (final chunk's tag) flipped", bytes: flipped(base.bytes, at: base.bytes.count - 1))
try write("truncated_at_chunk_boundary", expect: "payload failure", comment: "final chunk removed (ends on a full chunk)",
          bytes: base.prefix + base.chunks.dropLast().flatMap { $0 })
try write("truncated_mid_chunk", expect: "payload failure", comment: "cut in the middle of the second chunk",
          bytes: Array(base.bytes[0..<(base.prefix.count + base.chunks[0].count + 30_000)]))
try write("truncated_after_metadata", expect: "payload failure", comment: "only header and metadata chunk", bytes: base.prefix)
try write("trailing_data", expect: "payload failure", comment: "one byte after the final chunk", bytes: base.bytes + [0])
try write("trailing_chunk", expect: "payload failure", comment: "a copy of the final chunk after it", bytes: base.bytes + base.chunks.last!)
var swapped = base; swapped.chunks.swapAt(0, 1)
try write("swapped_chunks", expect: "payload failure", comment: "first two data chunks swapped", bytes: swapped.bytes)
var duplicated = base; duplicated.chunks.insert(base.chunks[1], at: 1)
try write("duplicated_chunk", expect: "payload failure", comment: "second data chunk repeated", bytes: duplicated.bytes)
var removed = base; removed.chunks.remove(at: 1)
try write("removed_chunk", expect: "payload failure", comment: "second data chunk removed", bytes: removed.bytes)
try write("spliced_payload_chunk", expect: "payload failure", comment: "a chunk from another submission in place of the second",
          bytes: base.prefix + [base.chunks[0], other.chunks[1]] .flatMap { $0 } + base.chunks[2...].flatMap { $0 })
try write("two_final_chunks", expect: "payload failure", comment: "a final chunk followed by another final chunk",
          bytes: try custom([(chunk(content: [1, 2, 3], plaintextLength: 7), .final), (chunk(content: [], plaintextLength: 4), .final)], to: [a.publicKey]))
try write("no_final_tag", expect: "payload failure", comment: "a short last chunk with the message tag",
          bytes: try custom([(chunk(content: [1, 2, 3], plaintextLength: 7), .message)], to: [a.publicKey]))
try write("push_tag", expect: "payload failure", comment: "a chunk with the push tag",
          bytes: try custom([(chunk(content: [1], plaintextLength: 5), .push)], to: [a.publicKey]))
try write("content_after_end", expect: "payload failure", comment: "content in a chunk after a short (content-ending) chunk",
          bytes: try custom([(chunk(content: [1], plaintextLength: Layout.chunkPlaintextByteCount), .message), (chunk(content: [2], plaintextLength: 5), .final)], to: [a.publicKey]))
try write("nonzero_padding", expect: "payload failure", comment: "a padding byte that is not zero",
          bytes: try custom([(chunk(content: [1], plaintextLength: 5) + [9], .final)], to: [a.publicKey]))
try write("length_field_too_large", expect: "payload failure", comment: "a chunk's length field exceeds the chunk",
          bytes: try custom([(bigEndian32(100) + [1, 2], .final)], to: [a.publicKey]))

// Metadata that authenticates but breaks the format's rules (FormatV1.md, "Metadata").

/// A submission of `content` (under one chunk's capacity), laid out as the writer lays it out,
/// whose metadata chunk holds exactly `json`: for metadata the real writer never produces.
func withMetadata(_ json: [UInt8], content: [UInt8], to recipients: [PublicKey]) throws -> [UInt8] {
    precondition(content.count < capacity)
    let fileKey = FileKey()
    let metadataLength = (json.count + 4 + 4095) / 4096 * 4096
    let pusher = SecretStreamPusher(key: fileKey.streamKey)
    let header = try EnvelopeHeader.make(fileKey: fileKey, recipients: recipients, metadataLength: metadataLength, streamHeader: pusher.header)
    var out = header.bytes + pusher.header.bytes
    func push(_ plaintext: [UInt8], _ tag: SecretStreamTag) {
        var sealed = [UInt8](repeating: 0, count: plaintext.count + SecretStream.chunkOverhead)
        _ = plaintext.withUnsafeBytes { p in sealed.withUnsafeMutableBytes { pusher.push(p, tag: tag, into: $0) } }
        out += sealed
    }
    push(chunk(content: json, plaintextLength: metadataLength), .message)
    push(chunk(content: content, plaintextLength: 4 + Int(Layout.padme(UInt64(content.count)))), .final)
    return out
}

let small = pattern(100, seed: 3)
/// The writer's JSON for `small`, as a string to edit: {"message":…,"sealed_by":"source","size":100,"time":"2026-09-21T14:13:20Z",…}.
let writerJSON = String(decoding: try Metadata(name: "evidence.pdf", mediaType: "application/pdf", size: 100, time: fixedTime,
                                               message: "from the vectors", sealedBy: .source).encoded(), as: UTF8.self)
func edited(_ replace: String, with replacement: String) -> [UInt8] {
    precondition(writerJSON.contains(replace))
    return Array(writerJSON.replacingOccurrences(of: replace, with: replacement).utf8)
}
let stamp = "\"time\":\"2026-09-21T14:13:20Z\""

try write("metadata_as_written", expect: "success", content: small, comment: "the writer's metadata, laid out by hand as the other metadata vectors are (their control)",
          bytes: try withMetadata(Array(writerJSON.utf8), content: small, to: [a.publicKey]))
try write("metadata_no_time", expect: "success", content: small, comment: "no time member (sealdrop seal --no-time), sealed by the real writer",
          bytes: try seal(small, to: [a.publicKey], metadata: Metadata(name: "evidence.pdf", size: 100, time: nil, sealedBy: .source)).bytes)
try write("metadata_bom", expect: "bad metadata", comment: "the metadata starts with a UTF-8 byte order mark",
          bytes: try withMetadata([0xEF, 0xBB, 0xBF] + Array(writerJSON.utf8), content: small, to: [a.publicKey]))
try write("metadata_utf16", expect: "bad metadata", comment: "the metadata in UTF-16 (little-endian, no byte order mark)",
          bytes: try withMetadata(writerJSON.utf16.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }, content: small, to: [a.publicKey]))
try write("metadata_duplicate_member", expect: "bad metadata", comment: "member name appears twice (first-wins and last-wins readers would disagree)",
          bytes: try withMetadata(edited("\"name\":\"evidence.pdf\"", with: "\"name\":\"evidence.pdf\",\"name\":\"other.exe\""), content: small, to: [a.publicKey]))
try write("metadata_name_null", expect: "bad metadata", comment: "name is null, not a string",
          bytes: try withMetadata(edited("\"name\":\"evidence.pdf\"", with: "\"name\":null"), content: small, to: [a.publicKey]))
try write("metadata_time_offset", expect: "bad metadata", comment: "time with the offset +02:00 instead of Z",
          bytes: try withMetadata(edited(stamp, with: "\"time\":\"2026-09-21T16:13:20+02:00\""), content: small, to: [a.publicKey]))
try write("metadata_time_fraction", expect: "bad metadata", comment: "time with a fraction of a second",
          bytes: try withMetadata(edited(stamp, with: "\"time\":\"2026-09-21T14:13:20.5Z\""), content: small, to: [a.publicKey]))
try write("metadata_year_0000", expect: "bad metadata", comment: "time in year 0000",
          bytes: try withMetadata(edited(stamp, with: "\"time\":\"0000-01-01T00:00:00Z\""), content: small, to: [a.publicKey]))
try write("metadata_no_sealed_by", expect: "bad metadata", comment: "the required member sealed_by is missing",
          bytes: try withMetadata(edited("\"sealed_by\":\"source\",", with: ""), content: small, to: [a.publicKey]))
try write("metadata_invalid_json", expect: "bad metadata", comment: "not JSON: a comma before the closing brace",
          bytes: try withMetadata(Array(writerJSON.dropLast().utf8) + Array(",}".utf8), content: small, to: [a.publicKey]))
try write("metadata_size_larger", expect: "bad metadata", comment: "size 101 declared, 100 content bytes (found at the final chunk)",
          bytes: try withMetadata(edited("\"size\":100", with: "\"size\":101"), content: small, to: [a.publicKey]))
try write("metadata_size_smaller", expect: "bad metadata", comment: "size 99 declared, 100 content bytes (found before the chunk is released)",
          bytes: try withMetadata(edited("\"size\":100", with: "\"size\":99"), content: small, to: [a.publicKey]))
try write("metadata_lone_surrogate", expect: "bad metadata", comment: "the message holds the escape of a lone high surrogate",
          bytes: try withMetadata(edited("\"message\":\"from the vectors\"", with: "\"message\":\"from \\ud800 the vectors\""), content: small, to: [a.publicKey]))

// A file cut inside the 24-byte stream header: the payload's first field.
try write("truncated_stream_header", expect: "payload failure", comment: "cut after 10 of the 24 stream header bytes", bytes: Array(base.bytes[0..<(h + 10)]))

/// A valid header but for one thing: two entries with the key ID of `key`, both sealing the
/// file key to it (the writer refuses to make this; readers refuse it when parsing).
func twoEntries(for key: PublicKey, content: [UInt8]) throws -> [UInt8] {
    let fileKey = FileKey()
    let json = try Metadata(name: "twice.bin", size: UInt64(content.count), time: fixedTime, sealedBy: .source).encoded()
    let pusher = SecretStreamPusher(key: fileKey.streamKey)
    let first = try EnvelopeHeader.make(fileKey: fileKey, recipients: [key], metadataLength: 4096, streamHeader: pusher.header)
    let second = try EnvelopeHeader.make(fileKey: fileKey, recipients: [key], metadataLength: 4096, streamHeader: pusher.header)
    var header = Layout.magic + [Layout.version, 2] + bigEndian32(4096)
    header += first.bytes[14..<(14 + 88)] + second.bytes[14..<(14 + 88)]
    header += BLAKE2b.mac(header + pusher.header.bytes, key: fileKey.macKey)
    var out = header + pusher.header.bytes
    for (plaintext, tag) in [(chunk(content: json, plaintextLength: 4096), SecretStreamTag.message),
                             (chunk(content: content, plaintextLength: 4 + Int(Layout.padme(UInt64(content.count)))), .final)] {
        var sealed = [UInt8](repeating: 0, count: plaintext.count + SecretStream.chunkOverhead)
        _ = plaintext.withUnsafeBytes { p in sealed.withUnsafeMutableBytes { pusher.push(p, tag: tag, into: $0) } }
        out += sealed
    }
    return out
}
try write("duplicate_key_id", expect: "header failure", comment: "two recipient entries with a's key ID, both opening to the file key (MAC valid)",
          bytes: try twoEntries(for: a.publicKey, content: small))
print("wrote vectors to \(folder)")
