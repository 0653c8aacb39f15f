import Foundation
import SealDropCLISupport
import SealDropCrypto
import SealDropFormat
import SealDropKeyholder
import SealDropKeys
import SealDropStore
import SealDropTestSupport
import Testing

/// Provenance records on the air-gapped machine, in-process: imported beside their submissions,
/// believed under a pinned drop key, and still followed after the archive's copy is re-keyed
/// (header only, or the whole payload with `--full`).
@Suite("Keyholder library: provenance records")
struct ProvenanceArchiveTests {
    /// Writes the record a drop would write for the submission at `path` (received through `door`).
    static func writeRecord(for path: String, door: String = ProvenanceRecord.Door.sealed, signedBy drop: SigningSecretKey) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let header = try #require(try EnvelopeHeader.parse(prefix: Array(bytes.prefix(Layout.maxHeaderByteCount))))
        let payload = Array(bytes[header.bytes.count...])
        let id = SubmissionFile(path: path, fromFolder: false).label
        let record = ProvenanceRecord(submission: id, door: door, received: Date(), bytes: UInt64(bytes.count), headerHash: BLAKE2b.hash(header.bytes),
                                      payloadBytes: UInt64(payload.count), payloadHash: BLAKE2b.hash(payload), dropKey: DropPublicKey(drop.publicKey))
        try Data(try record.sealed(with: drop, to: [try Fixture.publicKey("a")])).write(to: URL(fileURLWithPath: String(path.dropLast(".sealdrop".count)) + ".record"))
    }

    @Test("import checks and copies each record; list believes it under the pinned key; verify follows it through a re-key and a full re-encryption")
    func importRekeyVerify() throws {
        let fixture = try Fixture()
        let drop = SigningSecretKey.generate()
        let withRecord = try fixture.submit(testBytes(count: 150_000))
        try Self.writeRecord(for: withRecord, signedBy: drop)
        let withoutRecord = try fixture.submit(testBytes(count: 10_000))
        let swapped = try fixture.submit(testBytes(count: 20_000))
        try Self.writeRecord(for: withoutRecord, signedBy: drop)
        // The second's record is moved onto the third: it names another submission.
        try FileManager.default.moveItem(atPath: String(withoutRecord.dropLast(9)) + ".record", toPath: String(swapped.dropLast(9)) + ".record")

        #expect(try TrustedDrops.add(DropPublicKey(drop.publicKey), folder: fixture.keyring))
        #expect(try !TrustedDrops.add(DropPublicKey(drop.publicKey), folder: fixture.keyring))
        let record = try fixture.importMedium()
        let byID = Dictionary(uniqueKeysWithValues: record.entries.map { ($0.id, $0) })
        let idOf = { (path: String) in SubmissionFile(path: path, fromFolder: false).label }
        #expect(byID[idOf(withRecord)]?.record == "ok")
        #expect(byID[idOf(withoutRecord)]?.record == "none")
        #expect(byID[idOf(swapped)]?.record == "BAD")
        #expect(record.entries.allSatisfy { $0.action == .imported })
        let archived = try FileManager.default.contentsOfDirectory(atPath: fixture.archive.submissionsPath).filter { $0.hasSuffix(".record") }
        #expect(archived == ["\(idOf(withRecord)).record"], "only a record that holds is copied")

        let ring = try fixture.ring()
        let (rows, _) = try listing(try fixture.archive.submissionFiles(), ring: ring, archive: fixture.archive)
        let row = try #require(rows.first { $0.id == idOf(withRecord) })
        #expect(row.record == "ok" && row.door == "SEALED" && row.sealer == "source")
        #expect(rows.first { $0.id == idOf(withoutRecord) }?.sealer == "source?")

        let file = SubmissionFile(path: fixture.archive.path(for: try #require(SubmissionID(idOf(withRecord)))), fromFolder: false)
        #expect(try verify(file, ring: ring, archive: fixture.archive).row.record == "ok")
        let rekeyer = Rekeyer(archive: fixture.archive, ring: ring)
        let both = [try Fixture.publicKey("a"), try Fixture.publicKey("b")]
        // Re-keyed for two recipients: another header and size, the same payload.
        #expect(try rekeyer.rekey(file, to: both, full: false) == .rekeyed)
        #expect(try verify(file, ring: ring, archive: fixture.archive).row.record == "ok")
        #expect(try probe(file, ring: ring).row.record == "ok")
        // Re-encrypted: another payload; the archive's record of it leads back to the one received.
        #expect(try rekeyer.rekey(file, to: [try Fixture.publicKey("a")], full: true) == .rekeyed)
        #expect(try rekeyer.rekey(file, to: both, full: true) == .rekeyed)
        #expect(try verify(file, ring: ring, archive: fixture.archive).row.record == "ok")
        // Without the archive's record the new payload is not the one the drop received.
        let alone = try verify(file, ring: ring)
        #expect(alone.row.record == "BAD" && alone.row.recordError?.contains("not the bytes the drop received") == true)
    }
}
