import ArgumentParser
import Foundation
import SealDropFormat
import SealDropServer

/// `sealdropd export`: copies the inbox to removable media with a signed manifest, and with
/// `--move` removes the exported submissions once the operator types back the manifest's digest.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the inbox to removable media with a signed manifest; with --move, then remove what was exported.",
        usage: "sealdropd export --to <dir> [--move] [--config <file>] [--<setting> <value> ...]",
        discussion: """
            Takes the daemon's settings (the same --config and flags) and runs beside the daemon. \
            Copies every complete submission in the spool's inbox (<id>.sealdrop with its \
            provenance record <id>.record; never an upload in progress) into DIR, each file \
            synced, then writes sealdrop-export.manifest last: each submission's ID, size and \
            BLAKE2b-256 hash and its record's, the export's sequence number and the hash of the \
            previous export's manifest, signed with the drop key. No times and no names. The \
            server keeps only the last manifest's hash and sequence number (export-chain in the \
            spool), never an old manifest. DIR is made if missing; one that already holds an \
            export is refused. Prints the counts, the sequence number and the manifest's digest.

            On the air-gapped machine, keyholder import DIR checks the manifest against the pinned \
            drop key and the chain against the last export imported, imports only if everything \
            holds, and prints the same digest. With --move, sealdropd waits for that digest to be \
            typed back (any case, dashes and spaces optional) and only then removes from the inbox \
            exactly the submissions the manifest lists (a submission that arrived since stays); \
            anything else removes nothing.

            Example:
              sealdropd export --config /etc/sealdrop/sealdropd.yaml --to /media/usb/export-2026-11-30 --move

            Exit status: 0 on success; 1 when the export could not be made (settings, drop key, \
            spool, a DIR that already holds an export, the medium) or, with --move, when the \
            digest typed back does not match (nothing was removed); 64 for a usage error.
            """
    )

    @Option(help: ArgumentHelp("The folder on the mounted medium to export into (new or empty).", valueName: "dir"))
    var to: String

    @Flag(help: "After the export, remove the exported submissions from the inbox once the manifest's digest is typed back.")
    var move = false

    @OptionGroup var settings: DaemonSettings

    func run() async throws {
        let configuration: DaemonConfiguration, signer: DropSigner
        do {
            configuration = try await settings.resolved()
            signer = try DropSigner.forExport(configured: configuration.dropKey, spoolRoot: configuration.spool)
        } catch {
            fail(error)
        }
        let exporter: Exporter, result: ExportResult
        do throws(StartupError) {
            exporter = try Exporter(spoolRoot: configuration.spool, signer: signer)
            result = try exporter.export(to: to)
        } catch {
            fail(error)
        }
        let count = result.manifest.entries.count
        print("exported \(count) submission\(count == 1 ? "" : "s") (\(result.totalBytes) bytes with their provenance records) to \(to)")
        let sequence = result.manifest.sequence
        print("export \(sequence) of this drop (\(sequence == 1 ? "the first" : "it follows export \(sequence - 1)"))")
        print("manifest digest: \(result.digest)")
        if result.withoutRecord > 0 {
            note("warning: \(result.withoutRecord) submission(s) in the inbox have no provenance record and were not exported")
        }
        if result.leftForNext > 0 {
            note("\(result.leftForNext) submission(s) were left for the next export (a manifest lists at most \(ExportManifest.maximumEntries))")
        }
        guard move else { return }
        fflush(nil)
        note("after keyholder import has verified this medium, type the digest it printed to remove these \(count) submission(s) from the server (anything else removes nothing):")
        let typed = readLine(strippingNewline: true) ?? ""
        guard ExportManifest.digest(result.digest, matchesTyped: typed) else {
            fail(StartupError("the digest typed does not match this export's manifest digest: nothing was removed from the inbox",
                              hint: "the export on the medium is complete; compare the digest keyholder import printed with \(result.digest), and if they differ, do not trust the medium"))
        }
        do throws(StartupError) {
            let (removed, notRemoved) = try exporter.removeExported(result)
            print("removed \(removed) submission\(removed == 1 ? "" : "s") from the inbox")
            if notRemoved > 0 {
                note("warning: \(notRemoved) listed submission(s) were no longer the files exported and were left in the inbox")
            }
        } catch {
            fail(error)
        }
    }

    private func note(_ text: String) {
        FileHandle.standardError.write(Data("sealdropd: \(text)\n".utf8))
    }
}
