public import Foundation
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
            guard let data = FileManager.default.contents(atPath: file), data.count < 1024,
                  let name = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines) else {
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

    /// Checks everything that can be checked without the spool's lock: the recipients (and
    /// the signed list's signature and expiry), the drop key file when one is configured, and
    /// the spool folder's type and mode. Returns what it found, one line each, and warnings
    /// (the list expires within 14 days); throws the first error (an expired list is one).
    public func check(now: Date = Date()) throws(StartupError) -> (lines: [String], warnings: [String]) {
        var lines: [String] = [], warnings: [String] = []
        switch try RecipientStore.source(for: self) {
        case .keys(let keys, let file):
            let store = try RecipientStore(keys: keys, file: file)
            let set = store.currentSet
            lines.append("recipients: \(set.keys.count) key(s), key ID \(set.keys.map(\.keyID.description).joined(separator: ", "))\(file.map { " (with \($0))" } ?? "")")
            warnings.append("no signed recipients list: sources' clients cannot verify the keys served, and sealdropd address refuses to make an address")
        case .signedList(let path, let signing):
            let (list, _) = try RecipientStore.loadSignedList(path, signingKey: signing)
            lines.append("recipients: signed list \(path), serial \(list.serial), \(list.recipients.count) key(s), key ID \(list.recipients.map(\.keyID.description).joined(separator: ", ")), signed by \(signing.fingerprint)")
            lines.append("recipients list expires: \(ISO8601DateFormatter().string(from: list.expires))")
            if let warning = SignedRecipients.expiryWarning(expires: list.expires, at: now) {
                if now >= list.expires {
                    throw StartupError(warning, hint: "keyholder sign-recipients --previous \(path) … on the air-gapped machine, then copy the new list here")
                }
                warnings.append(warning)
            }
        }
        if let dropKey {
            let signer = try DropSigner.load(from: dropKey)
            lines.append("drop key: \(dropKey), \(signer.publicKey.text) (fingerprint \(signer.publicKey.fingerprint))")
        } else {
            lines.append("drop key: \((spool as NSString).appendingPathComponent(DropSigner.spoolFileName)) (made on first start if missing)")
        }
        var info = stat()
        guard stat(spool, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw StartupError("the spool \(spool) is not a folder", hint: "install -d -m 0700 -o <daemon user> \(spool)")
        }
        if info.st_mode & 0o077 != 0 {
            throw StartupError("the spool \(spool) has mode \(String(info.st_mode & 0o777, radix: 8)); the daemon refuses anything but 0700",
                               hint: "chmod 700 \(spool)")
        }
        lines.append("spool: \(spool)")
        lines.append("listen: \(text(of: .listen) ?? "")")
        return (lines, warnings)
    }
}
