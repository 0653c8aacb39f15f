import ArgumentParser
import Foundation
import SealDropCLISupport
import SealDropClient
import SealDropFormat
import SealDropKeys

struct Send: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Seal files on this machine and send them to a newsroom's drop through Tor.",
        discussion: """
        ADDRESS is the drop address the newsroom published (sealdropaddr1…). It names the drop's \
        onion service and pins the newsroom's signing key: the drop's list of the newsroom's keys \
        is checked against that key (signature and expiry) before a single byte of any file is \
        sent, and each file is sealed to those keys on this machine as it is sent, so the drop \
        never sees it readable. Nothing is written to disk: no sealed copy, no plaintext.

        Each file is its own submission and gets its own receipt, printed on standard output. \
        The exit status is 0 only when every file got a receipt.

        A broken connection does not start the upload over: the drop keeps every byte it \
        received, and sealdrop resumes from there by itself (up to 8 times in a row without \
        progress, waiting 1 s, 2 s, 4 s … up to a minute in between). To resume in a later run \
        too (after the computer slept, or the program was stopped), give --state FILE: it \
        records the upload and the keys to seal it again. That file shows that this computer \
        sent something to the drop: keep it in memory (on Tails, not in the Persistent \
        Storage, for example --state /tmp/upload.state); it is deleted once the receipt arrives.

        The drop is reached only through Tor: --tor (Tor Browser open, or the tor service \
        running), --proxy socks5h://HOST:PORT, or the SEALDROP_PROXY environment variable. Each \
        run logs in to Tor with new random credentials, so that its connections get circuits of \
        their own. Without a proxy, only a drop on this computer (127.x.y.z, for tests and the \
        demo) can be reached.

        Example:
          sealdrop send --tor --message-file note.txt sealdropaddr1… report.pdf photo.jpg
        """
    )

    @Argument(help: ArgumentHelp("The drop address the newsroom published (sealdropaddr1…).", valueName: "address"))
    var address: String

    @Argument(help: ArgumentHelp("The files to send ('-' reads standard input).", valueName: "file"))
    var files: [String]

    @Flag(help: "Send through Tor on this computer: the tor service (port 9050), else Tor Browser (port 9150).")
    var tor = false

    @Option(help: ArgumentHelp("Send through this SOCKS5 proxy (default: $SEALDROP_PROXY).", valueName: "socks5h://host:port"))
    var proxy: String?

    @OptionGroup var recorded: MetadataOptions

    @Flag(help: "Remove the files' embedded metadata with mat2 first, into a copy in memory.")
    var scrub = false

    @Option(help: ArgumentHelp("Record the upload in FILE, so that running the same command again resumes it (one file; deleted once sent).", valueName: "file"))
    var state: String?

    @Flag(help: "Send each file in one connection (SEALED), as tools without resumable uploads do: a broken connection then starts it over.")
    var noResume = false

    func validate() throws {
        if let state {
            if files.count != 1 { throw ValidationError("--state records one upload: send one file with it") }
            if files == ["-"] { throw ValidationError("standard input cannot be resumed in a later run: send a file with --state") }
            if scrub {
                throw ValidationError("--scrub makes a new cleaned copy each run, which could not resume the same upload: clean the file first (mat2 FILE, or Tails' Metadata Cleaner), then send the cleaned copy with --state")
            }
            if noResume { throw ValidationError("--state resumes an upload; --no-resume sends without one") }
            if state.isEmpty { throw ValidationError("--state needs a file path") }
        }
        if files.isEmpty { throw ValidationError("name at least one file to send") }
        if recorded.name != nil && files.count > 1 { throw ValidationError("--name names one file; send several files without it (or with --no-name)") }
        if tor && proxy != nil { throw ValidationError("give --tor or --proxy, not both") }
        if files.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input ('-') can be sent only once") }
    }

    func run() throws {
        try reportingErrors { () throws(CLIError) in
            let drop: DropAddress
            do { drop = try DropAddress(text: address) } catch {
                throw CLIError("\(error)", hint: "copy the drop address again, exactly as the newsroom published it")
            }
            let client: DropClient
            do throws(RouteError) { client = DropClient(address: drop, route: try Route.to(drop, proxies: try proxies())) } catch {
                throw error.explained
            }
            let note = try recorded.readMessage()
            let scrubber = scrub ? try Scrubber() : nil
            defer { scrubber?.removeFolder() }
            // Every file is opened (and scrubbed) before the drop is contacted: a mistyped name
            // stops the run before anything is sent.
            var inputs: [SendInput] = []
            for path in files {
                var input = try SendInput(path: path)
                if let scrubber { input = try scrubber.scrub(input) } else if input.mayCarryMetadata {
                    diagnostics.note("note: \(input.displayName) is a kind of file that often carries hidden details (author, device, place); --scrub removes them with mat2")
                }
                inputs.append(input)
            }
            let talking = isTerminal(2)
            if talking { diagnostics.note("checking the newsroom's keys (\(routeDescription(client.route)))…") }
            let list: SignedRecipients
            do throws(SendFailure) { list = try client.fetchRecipients() } catch { throw error.explained }
            if talking { diagnostics.note("keys verified: signed by the newsroom's key \(list.signingKey.fingerprint), valid until \(formatUTC(list.expires)) UTC") }

            var received = 0, failed = 0
            // Until the drop says it takes no resumable uploads.
            var resumable = true
            for input in inputs {
                let metadata = Metadata(name: recorded.recordedName(for: input.path), size: input.size,
                                        time: recorded.recordedTime, message: note, sealedBy: .source)
                let bar = ProgressBar(label: escapeForDisplay(input.displayName), total: input.size)
                do throws(SendFailure) {
                    let receipt: String
                    if noResume || !resumable {
                        receipt = try client.send(input.reader, metadata: metadata, to: list.recipients) { bar.update($0) }
                    } else {
                        do throws(SendFailure) {
                            receipt = try sendResumably(input, metadata: metadata, recipients: list.recipients, client: client,
                                                        stateFile: state.map(StateFile.init), bar: bar)
                        } catch where error.resumption == .unsupported && state == nil {
                            bar.finish()
                            diagnostics.note("this drop takes no resumable uploads: sending each file in one connection (a broken connection starts it over)")
                            resumable = false
                            receipt = try client.send(input.reader, metadata: metadata, to: list.recipients) { bar.update($0) }
                        }
                    }
                    bar.finish()
                    received += 1
                    printLine(isTerminal(1) ? "\(receipt)  \(input.displayName)" : receipt)
                    flushStandardOutput()
                } catch {
                    bar.finish()
                    failed += 1
                    let explained = error.explained
                    diagnostics.report(CLIError("\(input.displayName): \(explained.message)", hint: explained.hint))
                    if !error.concernsOneFile { break }
                }
            }
            let unsent = inputs.count - received
            if talking && received > 0 {
                diagnostics.note("A receipt lets you ask the newsroom about what you sent; keep it only where nobody else will find it, because it also shows that you sent something to this drop.")
            }
            if unsent > 0 {
                throw CLIError("\(unsent) of \(inputs.count) file(s) got no receipt and did not arrive", hint: failed < unsent ? "the files after the failure were not tried; run the command again for them" : "send them again later")
            }
        }
    }

    /// `--proxy`, else `--tor`, else `$SEALDROP_PROXY`; none means only loopback can be reached.
    private func proxies() throws(RouteError) -> [SOCKSProxy] {
        if let proxy { return [try SOCKSProxy(url: proxy)] }
        if tor { return SOCKSProxy.torCandidates }
        if let text = ProcessInfo.processInfo.environment["SEALDROP_PROXY"], !text.isEmpty { return [try SOCKSProxy(url: text)] }
        return []
    }

    private func routeDescription(_ route: Route) -> String {
        switch route {
        case .direct: "straight to this computer"
        case .socks(let proxies, _): "through " + proxies.map(\.description).joined(separator: " or ")
        }
    }
}
