public import Foundation
import SealDropCrypto
public import SealDropKeys

/// What `sealdropd address` and `sealdropd check-config` compute from a configuration, without
/// starting the daemon or opening (and locking) the spool.
extension DaemonConfiguration {
    /// The drop address for this drop: its host (the onion service's name from Tor's
    /// `HiddenServiceDir/hostname`, or a loopback `HOST:PORT` for tests and the demo) and the
    /// signing key the signed recipients list is verified against. Refused without a signed
    /// recipients list (a client pins the key that signs it), when the list does not verify or
    /// has expired, and for a host that is neither an onion service nor loopback.
    ///
    /// - Parameters:
    ///   - onionHostnameFile: Tor's `hostname` file (`<56 characters>.onion`).
    ///   - onionPort: The onion service's virtual port (`HiddenServicePort`); default: the port
    ///     the daemon listens on.
    ///   - publicHost: `HOST:PORT` instead of an onion service: loopback only.
    public func dropAddress(onionHostnameFile: String?, onionPort: Int?, publicHost: String?, now: Date = Date()) throws(StartupError) -> DropAddress {
        guard let listPath = signedRecipients, let keyText = signingKey else {
            throw StartupError("sealdropd address needs a signed recipients list: the address pins the key that signs it",
                               hint: "give --signed-recipients FILE and --signing-key sealdropsign1… (keyholder sign-recipients makes the list)")
        }
        let signing = try RecipientStore.parseSigningKey(keyText)
        let (list, _) = try RecipientStore.loadSignedList(listPath, signingKey: signing)
        do { try list.checkNotExpired(at: now) } catch {
            throw StartupError("signed recipients list \(listPath): \(error)", hint: "sources' clients refuse an expired list; sign a new one first")
        }
        let host: DropAddress.Host, port: Int
        switch (onionHostnameFile, publicHost) {
        case (let file?, nil):
            guard let name = readTextFile(file, limit: 1024)?.trimmingCharacters(in: .whitespacesAndNewlines) else {
                throw StartupError("cannot read the onion service's hostname file \(file)", hint: "give Tor's HiddenServiceDir/hostname (readable by this user)")
            }
            do { host = try DropAddress.Host(name: name) } catch {
                throw StartupError("\(file): \(error)", hint: "give Tor's HiddenServiceDir/hostname, which holds <56 characters>.onion")
            }
            guard case .onion = host else {
                throw StartupError("\(file) does not hold an onion host name", hint: "give Tor's HiddenServiceDir/hostname")
            }
            port = onionPort ?? self.port
        case (nil, let text?):
            let (name, parsedPort) = try Self.parseListen(text)
            do { host = try DropAddress.Host(name: name) } catch {
                throw StartupError("--public-host \(text): \(error)", hint: "a drop is published only as an onion service; --public-host takes a loopback address, for tests and the demo")
            }
            port = parsedPort
        default:
            throw StartupError("give exactly one of --onion-hostname-file and --public-host",
                               hint: "--onion-hostname-file /var/lib/tor/sealdrop/hostname for a real drop; --public-host 127.0.0.1:PORT for a test")
        }
        guard (1...65535).contains(port) else {
            throw StartupError("port \(port) cannot be published", hint: "give the onion service's virtual port with --onion-port")
        }
        do { return try DropAddress(host: host, port: UInt16(port), signingKey: signing) } catch {
            throw StartupError("\(error)", hint: "check the port")
        }
    }

    /// What ``check(torrc:now:)`` found: one line per thing checked, warnings (the daemon would
    /// start, but something deserves a look), and problems, each with its hint.
    public struct CheckReport: Sendable {
        /// What was found, one line each.
        public var lines: [String] = []
        /// Things to look at; the configuration still works.
        public var warnings: [String] = []
        /// What is wrong, each its own message and hint.
        public var problems: [StartupError] = []
    }

    /// Checks everything that can be checked without the spool's lock, reporting every problem
    /// (not only the first): the recipients (and the signed list's signature and expiry), the
    /// drop key file when one is configured, the spool folder (type, mode, owner), free space
    /// and inodes against the reserves, the two listeners, and with `torrc` tor's configuration
    /// (``checkTorrc(_:into:)``).
    public func check(torrc: String? = nil, now: Date = Date()) -> CheckReport {
        var report = CheckReport()
        checkRecipients(into: &report, now: now)
        if let dropKey {
            do {
                let signer = try DropSigner.load(from: dropKey)
                report.lines.append("drop key: \(dropKey), \(signer.publicKey.text) (fingerprint \(signer.publicKey.fingerprint))")
            } catch { report.problems.append(error) }
        } else {
            report.lines.append("drop key: \((spool as NSString).appendingPathComponent(DropSigner.spoolFileName)) (made on first start if missing)")
        }
        checkSpool(into: &report)
        report.lines.append("listen: \(text(of: .listen) ?? "")" + (webListen.map { "; upload page: \(Self.listenText($0.host, $0.port))" } ?? ""))
        if let web = webListen, web.port == port, web.port != 0 {
            report.problems.append(StartupError("listen and web-listen both name port \(port): the TCP protocol and the upload page need a port each",
                                                hint: "give web-listen another port, such as 127.0.0.1:7780"))
        }
        if !DaemonConfiguration.isLoopback(host) {
            report.warnings.append("listen \(Self.listenText(host, port)) is not a loopback address: sources should reach the drop only through its onion service")
        }
        if retention > .zero {
            report.lines.append("retention: \(retention.components.seconds / 86_400) day(s), checked every \(Self.durationText(retentionCheck))")
        }
        if let torrc { checkTorrc(torrc, into: &report) }
        return report
    }

    /// The recipients this configuration names, read and verified as the daemon reads them at
    /// start (but without the spool, so a signed list's serial is not compared with the one
    /// recorded there): what `check-config` and `status` report.
    enum ConfiguredRecipients {
        case keys([PublicKey], file: String?)
        case signedList(SignedRecipients, path: String, signingKey: SigningPublicKey)

        /// The key IDs, in order.
        var keyIDs: [String] {
            switch self {
            case .keys(let keys, _): keys.map(\.keyID.description)
            case .signedList(let list, _, _): list.recipients.map(\.keyID.description)
            }
        }
    }

    func configuredRecipients() throws(StartupError) -> ConfiguredRecipients {
        switch try RecipientStore.source(for: self) {
        case .keys(let keys, let file):
            return .keys(try RecipientStore(keys: keys, file: file).currentSet.keys, file: file)
        case .signedList(let path, let signing):
            return .signedList(try RecipientStore.loadSignedList(path, signingKey: signing).0, path: path, signingKey: signing)
        }
    }

    private func checkRecipients(into report: inout CheckReport, now: Date) {
        do {
            let recipients = try configuredRecipients()
            switch recipients {
            case .keys(let keys, let file):
                report.lines.append("recipients: \(keys.count) key(s), key ID \(recipients.keyIDs.joined(separator: ", "))\(file.map { " (with \($0))" } ?? "")")
                report.warnings.append("no signed recipients list: sources' clients cannot verify the keys served, and sealdropd address refuses to make an address")
            case .signedList(let list, let path, let signing):
                report.lines.append("recipients: signed list \(path), serial \(list.serial), \(list.recipients.count) key(s), key ID \(recipients.keyIDs.joined(separator: ", ")), signed by \(signing.fingerprint)")
                report.lines.append("recipients list expires: \(ISO8601DateFormatter().string(from: list.expires))")
                if let warning = SignedRecipients.expiryWarning(expires: list.expires, at: now) {
                    if now >= list.expires {
                        report.problems.append(StartupError(warning, hint: "keyholder sign-recipients --previous \(path) … on the air-gapped machine, then copy the new list here"))
                    } else {
                        report.warnings.append(warning)
                    }
                }
            }
        } catch {
            report.problems.append(error)
        }
    }

    private func checkSpool(into report: inout CheckReport) {
        var info = stat()
        guard stat(spool, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            report.problems.append(StartupError("the spool \(spool) is not a folder", hint: "install -d -m 0700 -o <daemon user> \(spool)"))
            return
        }
        report.lines.append("spool: \(spool)")
        if info.st_mode & 0o077 != 0 {
            report.problems.append(StartupError("the spool \(spool) has mode \(String(info.st_mode & 0o777, radix: 8)); the daemon refuses anything but 0700",
                                                hint: "chmod 700 \(spool)"))
        }
        if info.st_uid != geteuid() {
            report.problems.append(StartupError("the spool \(spool) belongs to uid \(info.st_uid), not to this user (uid \(geteuid())); the daemon refuses a spool it does not own",
                                                hint: "run check-config as the daemon's user (sudo -u sealdrop sealdropd check-config …), or chown the spool to that user"))
        }
        var space = statvfs()
        guard statvfs(spool, &space) == 0 else { return }
        let freeBytes = UInt64(space.f_bavail) * UInt64(space.f_frsize), freeInodes = UInt64(space.f_favail)
        report.lines.append("free on the spool's disk: \(freeBytes) bytes, \(freeInodes) inodes")
        if freeBytes < limits.freeDiskReserveBytes {
            report.problems.append(StartupError("the spool's disk has \(freeBytes) bytes free, less than free-disk-reserve (\(Self.sizeText(limits.freeDiskReserveBytes))): every upload would be refused",
                                                hint: "free space on that disk (export submissions: sealdropd export), or lower free-disk-reserve"))
        } else if limits.spoolQuotaBytes > freeBytes - limits.freeDiskReserveBytes {
            report.warnings.append("spool-quota (\(Self.sizeText(limits.spoolQuotaBytes))) is more than the disk has free above its reserve: the disk fills before the quota")
        }
        if freeInodes <= limits.freeInodeReserve {
            report.problems.append(StartupError("the spool's file system has \(freeInodes) inodes free, not more than free-inode-reserve (\(limits.freeInodeReserve)): every upload would be refused",
                                                hint: "remove files on that file system, or lower free-inode-reserve"))
        }
    }

    /// Checks tor's configuration for this drop: an onion service (`HiddenServiceDir`) whose
    /// `HiddenServicePort` lines reach the TCP listener (and the upload page, when it is on),
    /// nothing forwarded off the machine, `SafeLogging` not turned off; and warns about a tor
    /// that also serves as a client (`SocksPort`), and about missing stream limits and
    /// denial-of-service defences.
    public func checkTorrc(_ path: String, into report: inout CheckReport) {
        let tor: TorConfiguration
        do { tor = try TorConfiguration(path: path) } catch {
            report.problems.append(error)
            return
        }
        for error in tor.errors {
            report.problems.append(StartupError("torrc \(path): \(error)", hint: "check it with: tor --verify-config -f \(path)"))
        }
        guard !tor.services.isEmpty else {
            report.problems.append(StartupError("torrc \(path) has no onion service (HiddenServiceDir)",
                                                hint: "add an onion service: HiddenServiceDir /var/lib/tor/sealdrop/ with HiddenServicePort 7700 127.0.0.1:7700 (the snippet Scripts/install puts in /etc/tor/torrc.d/sealdrop.conf)"))
            return
        }
        var listeners = [("listen", host, port)]
        if let web = webListen { listeners.append(("web-listen", web.host, web.port)) }
        var drop: TorConfiguration.OnionService?
        for (setting, host, port) in listeners {
            guard port != 0 else {
                report.problems.append(StartupError("\(setting) has port 0 (the system picks one at start), which no HiddenServicePort can name",
                                                    hint: "give \(setting) a fixed port, such as \(setting == "listen" ? "127.0.0.1:7700" : "127.0.0.1:7780")"))
                continue
            }
            let reaching = tor.services.first { $0.ports.contains { TorConfiguration.mapping($0, reaches: host, port: port) } }
            if let reaching {
                drop = drop ?? reaching
                let virtual = reaching.ports.filter { TorConfiguration.mapping($0, reaches: host, port: port) }.map { "\($0.virtualPort)" }
                report.lines.append("onion service \(reaching.directory): virtual port \(virtual.joined(separator: ", ")) reaches \(setting) \(Self.listenText(host, port))")
            } else {
                report.problems.append(StartupError("no HiddenServicePort in \(path) reaches \(setting) \(Self.listenText(host, port)): the onion service would not reach \(setting == "listen" ? "the daemon" : "the upload page")",
                                                    hint: "add HiddenServicePort \(setting == "listen" ? "7700" : "80") \(Self.listenText(host, port)) under HiddenServiceDir"))
            }
        }
        for service in tor.services where service == drop {
            for mapping in service.ports {
                if let host = mapping.host, !DaemonConfiguration.isLoopback(host) {
                    report.problems.append(StartupError("\"\(mapping.text)\" forwards the drop's onion traffic to \(host), off this machine",
                                                        hint: "forward only to 127.0.0.1, where the daemon listens"))
                }
            }
            if service.options["hiddenservicemaxstreams"] == nil {
                report.warnings.append("the onion service sets no HiddenServiceMaxStreams: one circuit can open any number of connections (add HiddenServiceMaxStreams 64 and HiddenServiceMaxStreamsCloseCircuit 1)")
            }
            if service.options["hiddenserviceenableintrodosdefense"] != "1" {
                report.warnings.append("the onion service's introduction-point defence is off (add HiddenServiceEnableIntroDoSDefense 1)")
            }
            if service.options["hiddenservicepowdefensesenabled"] != "1" {
                report.warnings.append("the onion service's proof-of-work defence is off (add HiddenServicePoWDefensesEnabled 1)")
            }
        }
        if tor.options["safelogging"] == "0" || tor.options["safelogging"]?.lowercased() == "relay" {
            report.problems.append(StartupError("torrc \(path) sets SafeLogging \(tor.options["safelogging"]!): tor would write addresses and onion names into its log",
                                                hint: "set SafeLogging 1"))
        }
        if let socks = tor.options["socksport"], socks != "0" {
            report.warnings.append("torrc \(path) opens SocksPort \(socks): the drop's tor need not be a client; SocksPort 0 keeps others from using it")
        } else if tor.options["socksport"] == nil {
            report.warnings.append("torrc \(path) does not set SocksPort: tor then listens for clients on 127.0.0.1:9050; SocksPort 0 turns that off")
        }
        report.lines.append("torrc: \(path), \(tor.services.count) onion service(s)")
    }
}
