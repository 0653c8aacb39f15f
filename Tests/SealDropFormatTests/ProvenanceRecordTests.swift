import Foundation
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import Testing

@Suite("Provenance records")
struct ProvenanceRecordTests {
    let drop = SigningSecretKey.generate()
    let keyholder = SecretKey.generate()
    var record: ProvenanceRecord {
        ProvenanceRecord(submission: "abcdefghijklmnopqrstuvwx", door: ProvenanceRecord.Door.sealed,
                         received: Date(timeIntervalSince1970: 1_800_000_000.7), bytes: 4470, headerHash: [UInt8](repeating: 1, count: 32),
                         payloadBytes: 4336, payloadHash: [UInt8](repeating: 2, count: 32), dropKey: DropPublicKey(drop.publicKey))
    }

    @Test("sealed to the recipients and signed by the drop key: it opens with a recipient's key and verifies")
    func roundTrip() throws {
        let envelope = try record.sealed(with: drop, to: [keyholder.publicKey])
        let opened = try ProvenanceRecord.open(envelope, keys: [keyholder])
        #expect(opened == record)
        #expect(opened.received == Date(timeIntervalSince1970: 1_800_000_000))
        // Nothing of it is readable without a key: the server's time is not on the disk in the clear.
        #expect(!String(decoding: envelope, as: UTF8.self).contains("2027-01-15"))
        #expect(throws: (any Error).self) { try ProvenanceRecord.open(envelope, keys: [SecretKey.generate()]) }
        let text = record.signed(with: drop)
        #expect(text.hasPrefix("SEALDROP-RECORD-1\nsubmission: abcdefghijklmnopqrstuvwx\ndoor: SEALED\nreceived: 2027-01-15T08:00:00Z\nbytes: 4470\n"))
    }

    @Test("an edited field breaks the signature; a record signed by another drop key names that key", arguments: [
        ("door: SEALED", "door: PUT"), ("received: 2027-01-15T08:00:00Z", "received: 2027-01-15T09:00:00Z"), ("bytes: 4470", "bytes: 4471"),
    ])
    func edited(field: String, replacement: String) throws {
        let text = record.signed(with: drop).replacingOccurrences(of: field, with: replacement)
        #expect(throws: ProvenanceError.badSignature) { try ProvenanceRecord.parse(text) }
    }

    @Test("a record is checked against the pinned drop keys, the submission's ID, its size and its payload's hash")
    func check() throws {
        let record = self.record, pinned = [DropPublicKey(drop.publicKey)]
        try record.check(id: "abcdefghijklmnopqrstuvwx", size: 4470, headerBytes: 134, trusted: pinned)
        try record.check(id: "abcdefghijklmnopqrstuvwx", size: 4470, headerBytes: 134, payloadHash: record.payloadHash, trusted: pinned)
        // Re-keyed in the archive for two recipients: another header and size, the same payload.
        try record.check(id: "abcdefghijklmnopqrstuvwx", size: 4336 + 222, headerBytes: 222, payloadHash: record.payloadHash, trusted: pinned)
        let other = DropPublicKey(SigningSecretKey.generate().publicKey)
        #expect(throws: ProvenanceError.untrustedDrop(record.dropKey)) {
            try record.check(id: "abcdefghijklmnopqrstuvwx", size: 4470, headerBytes: 134, trusted: [other])
        }
        #expect(throws: ProvenanceError.self) { try record.check(id: "bbcdefghijklmnopqrstuvwx", size: 4470, headerBytes: 134, trusted: pinned) }
        #expect(throws: ProvenanceError.self) { try record.check(id: "abcdefghijklmnopqrstuvwx", size: 4471, headerBytes: 134, trusted: pinned) }
        #expect(throws: ProvenanceError.self) {
            try record.check(id: "abcdefghijklmnopqrstuvwx", size: 4470, headerBytes: 134, payloadHash: [UInt8](repeating: 4, count: 32), trusted: pinned)
        }
    }

    @Test("only the one written form parses", arguments: [
        "SEALDROP-RECORD-1\n", "extra line\n", "\r\n",
    ])
    func malformed(suffix: String) throws {
        let text = record.signed(with: drop)
        let broken = suffix == "SEALDROP-RECORD-1\n" ? suffix + text : suffix == "\r\n" ? text.replacingOccurrences(of: "\n", with: "\r\n") : text + suffix
        #expect(throws: ProvenanceError.self) { try ProvenanceRecord.parse(broken) }
        #expect(throws: ProvenanceError.self) { try ProvenanceRecord.parse(String(text.dropLast())) }
    }
}
