import Foundation
import SealDropCrypto
import SealDropFormat
import SealDropKeys
import SealDropServer
import SealDropTestSupport
import Testing

/// Seals `content` locally with metadata that claims the server sealed it on receipt: what a
/// source could forge to pass off a file as the server's.
func forgeServerSealed(_ content: [UInt8], to keys: [PublicKey], time: Date) throws -> [UInt8] {
    let writer = try EnvelopeWriter(recipients: keys, metadata: Metadata(name: "minutes.pdf", size: UInt64(content.count), time: time, sealedBy: .server))
    var out = writer.prefix
    content.withUnsafeBytes { bytes in writer.append(bytes) { out += $0 } }
    try writer.finish { out += $0 }
    return out
}

/// The record beside `receipt`, opened with the recipient's key.
func openRecord(_ drop: Drop, _ receipt: String) throws -> ProvenanceRecord {
    let path = drop.spool.submission(receipt).replacingOccurrences(of: ".sealdrop", with: ".record")
    return try ProvenanceRecord.open([UInt8](Data(contentsOf: URL(fileURLWithPath: path))), keys: [drop.recipient.secretKey])
}

/// BLAKE2b-256 of a file's envelope header and of what follows it.
func storedHashes(_ path: String) throws -> (header: [UInt8], payload: [UInt8], payloadBytes: UInt64) {
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    let header = try #require(try EnvelopeHeader.parse(prefix: Array(bytes.prefix(Layout.maxHeaderByteCount))))
    let payload = Array(bytes[header.bytes.count...])
    return (BLAKE2b.hash(header.bytes), BLAKE2b.hash(payload), UInt64(payload.count))
}

@Suite("Provenance records written by the daemon")
struct ProvenanceTests {
    @Test("PUT and SEALED each get a record: front door, server time, receipt, size and hashes of the stored bytes, signed by the drop key")
    func records() async throws {
        try await withDrop { drop in
            let before = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
            let put = try #require(receipt(try await drop.put(content(1, size: 300_000))))
            let forged = try forgeServerSealed(content(2, size: 90_000), to: [drop.recipient.publicKey], time: Date(timeIntervalSince1970: 1_000_000_000))
            let sealed = try #require(receipt(try await exchange(port: drop.port, request("SEALED", body: forged))))
            for (id, door) in [(put, "PUT"), (sealed, "SEALED")] {
                let record = try openRecord(drop, id)
                #expect(record.submission == id)
                #expect(record.door == door)
                #expect(record.dropKey == drop.dropKey.publicKey)
                #expect(record.received >= before && record.received <= Date())
                let stored = try storedHashes(drop.spool.submission(id))
                #expect(record.headerHash == stored.header)
                #expect(record.payloadHash == stored.payload)
                #expect(record.payloadBytes == stored.payloadBytes)
                #expect(record.bytes == UInt64(try Data(contentsOf: URL(fileURLWithPath: drop.spool.submission(id))).count))
                try record.check(id: id, size: record.bytes, headerBytes: record.bytes - record.payloadBytes,
                                 payloadHash: stored.payload, trusted: [drop.dropKey.publicKey])
            }
            // The forged claim stays inside the submission; the record says how it came.
            #expect(try drop.recipient.open(drop.spool.submission(sealed)).metadata.sealedBy == .server)
            #expect(try openRecord(drop, sealed).door == ProvenanceRecord.Door.sealed)
            // The record is as private as the submission: 0600, day times, nothing in the clear.
            let recordPath = drop.spool.submission(put).replacingOccurrences(of: ".sealdrop", with: ".record")
            let attributes = try FileManager.default.attributesOfItem(atPath: recordPath)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            let modified = try #require(attributes[.modificationDate] as? Date)
            #expect(Int(modified.timeIntervalSince1970) % 86_400 == 0)
            #expect(drop.spool.tempFiles().isEmpty)
            try await drop.expectNothingStoredAndStillServing(inboxBefore: drop.spool.inboxFiles())
        }
    }
}

/// The keyholder's view, through the real binaries: `sealdropd`, `nc`, `sealdropd drop-key`,
/// `keyholder trust-drop`, `show`, `list`, `verify`.
@Suite("Provenance through the real binaries")
struct ProvenanceCLITests {
    @Test("a forged 'sealed by the server' envelope uploaded with SEALED is shown as the source's claim, the record saying SEALED; a removed or altered record is flagged")
    func forgedServerClaim() async throws {
        let work = try TemporaryDirectory("provenance-cli")
        let key = try TestKey.make(in: work)
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = work.path
        let drop = try await RealDrop.start(extra: ["--recipient", key.publicKeyText])
        defer { Task { await drop.stop() } }

        // The source forges an envelope whose metadata says the server sealed it, a year ago.
        let forged = try forgeServerSealed(Array("the minutes, forged".utf8), to: [try PublicKey(text: key.publicKeyText)],
                                           time: Date(timeIntervalSince1970: 1_764_000_000))
        let forgedPath = work.file("forged.sealdrop")
        try Data(forged).write(to: URL(fileURLWithPath: forgedPath))
        let upload = try await blocking {
            try runProcess("/bin/sh", ["-c", "{ printf 'SEALDROP/1 SEALED %d\\n\\n' \"$(wc -c < \"$1\")\"; cat \"$1\"; } | nc -N 127.0.0.1 \"$2\"", "sh", forgedPath, "\(drop.port)"])
        }
        let forgedID = try #require(receipt(upload.stdout), "\(upload.stdout) \(upload.stderr)")
        let honest = try #require(receipt(try await drop.put(Array("sealed by the server, truly".utf8))))

        // Before a drop key is pinned: shown, marked unverified.
        let keyholder = TestBinaries.path("keyholder")
        let keys = ["--key", key.keyPath, "--passphrase-file", key.passphrasePath]
        let unpinned = try runProcess(keyholder, ["show"] + keys + [drop.spool.submission(forgedID)], environment: environment)
        #expect(unpinned.status == 0, "\(unpinned.stderr)")
        #expect(unpinned.stdout.contains("through SEALED (UNVERIFIED: no drop key is pinned)"), "\(unpinned.stdout)")
        #expect(unpinned.stderr.contains("keyholder trust-drop"), "\(unpinned.stderr)")

        // The keyholder pins the drop key that sealdropd drop-key --show prints.
        let shown = try runProcess(DaemonProcess.binary, ["drop-key", "--show", drop.spool.path + "/drop.key"])
        #expect(shown.status == 0, "\(shown.stderr)")
        let dropKey = try #require(shown.stdout.split(separator: "\n").last.map(String.init))
        #expect(dropKey.hasPrefix("sealdropdrop1"))
        let trust = try runProcess(keyholder, ["trust-drop", dropKey], environment: environment)
        #expect(trust.status == 0, "\(trust.stderr)")
        #expect(try runProcess(keyholder, ["trust-drop", drop.spool.path + "/drop.key"], environment: environment).status == 1,
                "a drop key is never read from a file")

        let show = try runProcess(keyholder, ["show"] + keys + [drop.spool.submission(forgedID)], environment: environment)
        #expect(show.status == 0, "\(show.stderr)")
        #expect(show.stdout.contains("through SEALED (the drop's signed record; the server's clock)"), "\(show.stdout)")
        #expect(show.stdout.contains("the submission claims: sealed by the server on receipt, 2025-11-24 16:00:00 UTC"), "\(show.stdout)")
        #expect(show.stdout.contains("the source sealed it and wrote that claim"), "\(show.stdout)")
        let honestShow = try runProcess(keyholder, ["show"] + keys + [drop.spool.submission(honest)], environment: environment)
        #expect(honestShow.stdout.contains("through PUT"), "\(honestShow.stdout)")
        #expect(honestShow.stdout.contains("sealed     by the server on receipt"), "\(honestShow.stdout)")

        let list = try runProcess(keyholder, ["list", "--json"] + keys + [drop.spool.inbox], environment: environment)
        #expect(list.status == 0, "\(list.stderr)")
        let forgedRow = try #require(list.stdout.split(separator: "\n").first { $0.contains(forgedID) })
        #expect(forgedRow.contains("\"record\":\"ok\"") && forgedRow.contains("\"door\":\"SEALED\"") && forgedRow.contains("\"sealed_by\":\"server\""), "\(forgedRow)")
        let verify = try runProcess(keyholder, ["verify"] + keys + [drop.spool.inbox], environment: environment)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")

        // The forged submission's record swapped for the honest one's: flagged, exit 1.
        let forgedRecord = drop.spool.submission(forgedID).replacingOccurrences(of: ".sealdrop", with: ".record")
        let honestRecord = drop.spool.submission(honest).replacingOccurrences(of: ".sealdrop", with: ".record")
        let original = try Data(contentsOf: URL(fileURLWithPath: forgedRecord))
        try FileManager.default.removeItem(atPath: forgedRecord)
        try FileManager.default.copyItem(atPath: honestRecord, toPath: forgedRecord)
        let swapped = try runProcess(keyholder, ["show"] + keys + [drop.spool.submission(forgedID)], environment: environment)
        #expect(swapped.status == 1)
        #expect(swapped.stdout.contains("record     BAD: the provenance record does not belong to this file: it is the record of submission \(honest)"), "\(swapped.stdout)")
        #expect(swapped.stdout.contains("the submission claims: sealed by the server on receipt, 2025-11-24 16:00:00 UTC (unverified)"))
        #expect(swapped.stderr.contains("keyholder: error:"), "\(swapped.stderr)")

        // Altered: one byte of the record flipped.
        var altered = [UInt8](original)
        altered[altered.count - 30] ^= 1
        try FileManager.default.removeItem(atPath: forgedRecord)
        try Data(altered).write(to: URL(fileURLWithPath: forgedRecord))
        let flipped = try runProcess(keyholder, ["verify"] + keys + [drop.spool.submission(forgedID)], environment: environment)
        #expect(flipped.status == 1)
        #expect(flipped.stderr.contains("the record does not open or verify"), "\(flipped.stderr)")

        // Removed: said plainly; the claim stays a claim.
        try FileManager.default.removeItem(atPath: forgedRecord)
        let removed = try runProcess(keyholder, ["show"] + keys + [drop.spool.submission(forgedID)], environment: environment)
        #expect(removed.status == 0)
        #expect(removed.stdout.contains("record     none: no provenance record beside this file"), "\(removed.stdout)")
        let removedList = try runProcess(keyholder, ["list"] + keys + [drop.spool.inbox], environment: environment)
        let row = try #require(removedList.stdout.split(separator: "\n").first { $0.contains(forgedID) })
        #expect(row.contains("server?") && row.contains("none"), "\(row)")

        // Another valid submission of the same size put in its place, under its name and beside
        // its intact record: it authenticates, and only the record's hash tells.
        try Data(original).write(to: URL(fileURLWithPath: forgedRecord))
        let twin = try #require(receipt(try await drop.put(Array("sealed by the server, false".utf8))))
        try FileManager.default.removeItem(atPath: drop.spool.submission(honest))
        try FileManager.default.copyItem(atPath: drop.spool.submission(twin), toPath: drop.spool.submission(honest))
        let substituted = try runProcess(keyholder, ["verify"] + keys + [drop.spool.submission(honest)], environment: environment)
        #expect(substituted.status == 1)
        #expect(substituted.stdout.contains(": ok"), "the substitute itself authenticates: \(substituted.stdout)")
        #expect(substituted.stderr.contains("the file's bytes are not the bytes the drop received (its payload differs)"), "\(substituted.stderr)")
    }
}
