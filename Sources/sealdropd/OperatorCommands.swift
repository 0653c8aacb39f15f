import ArgumentParser
import Foundation
import SealDropServer

/// `sealdropd drop-key`: makes the drop key, or prints its public key again.
struct DropKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drop-key",
        abstract: "Make the drop's signing key, or show its public key.",
        discussion: """
            The drop key signs a provenance record for every submission: which front door \
            delivered it, the server's time, the receipt and a hash of the stored bytes. It opens \
            nothing. --output makes a new key file (mode 0600, never over an existing file); \
            --show reads one. Either prints the drop's public key as the last line of standard \
            output: the keyholder pins it once, on the air-gapped machine, with keyholder \
            trust-drop. Give the file to the daemon with --drop-key; without it the daemon makes \
            drop.key in its spool on first start.

            Example:
              sealdropd drop-key --output /etc/sealdrop/drop.key
              sealdropd drop-key --show /var/lib/sealdrop/drop.key

            Exit status: 0 on success; 1 when the file cannot be made or read; 64 for a usage error.
            """
    )

    @Option(help: ArgumentHelp("Make a new drop key file here.", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("Print the public key of this drop key file.", valueName: "file"))
    var show: String?

    func validate() throws {
        guard (output == nil) != (show == nil) else { throw ValidationError("give exactly one of --output FILE and --show FILE") }
    }

    func run() throws {
        let signer: DropSigner
        do {
            signer = if let output { try DropSigner.create(at: output) } else { try DropSigner.load(from: show!) }
        } catch {
            fail(error)
        }
        if let output { print("# drop key written to \(output) (mode 0600)") }
        print("# fingerprint: \(signer.publicKey.fingerprint)")
        print("# the keyholder pins it once: keyholder trust-drop \(signer.publicKey.text)")
        print(signer.publicKey.text)
    }
}

/// `sealdropd address`: prints the drop address.
struct Address: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the drop address sources use: onion host, port and the newsroom's signing key, with a checksum.",
        discussion: """
            Takes the daemon's settings (the same --config and flags), which must include a signed \
            recipients list (--signed-recipients, --signing-key): the address pins its signing \
            key. The host is the onion service's, from Tor's HiddenServiceDir/hostname \
            (--onion-hostname-file), with the service's virtual port (--onion-port, by default the \
            port the daemon listens on); --public-host takes a loopback HOST:PORT, for tests and \
            the demo. Nothing else can be published. The address is the last line of standard \
            output; print it, put it on the website, make a QR code of it (upper case fits QR's \
            alphanumeric mode).

            Example:
              sealdropd address --config /etc/sealdrop/sealdropd.yaml --onion-hostname-file /var/lib/tor/sealdrop/hostname --onion-port 80

            Exit status: 0 on success; 1 when no address can be made (no signed list, an expired \
            or unverifiable list, an unreadable hostname file, a host that is not an onion \
            service or loopback); 64 for a usage error.
            """
    )

    @Option(help: ArgumentHelp("Tor's HiddenServiceDir/hostname file.", valueName: "file"))
    var onionHostnameFile: String?

    @Option(help: ArgumentHelp("The onion service's virtual port (HiddenServicePort); default: the daemon's port.", valueName: "port"))
    var onionPort: Int?

    @Option(help: ArgumentHelp("A loopback HOST:PORT instead of an onion service (tests, the demo).", valueName: "host:port"))
    var publicHost: String?

    @OptionGroup var settings: DaemonSettings

    func run() async throws {
        do {
            let configuration = try await settings.resolved()
            let address = try configuration.dropAddress(onionHostnameFile: onionHostnameFile, onionPort: onionPort, publicHost: publicHost)
            print("# drop address: \(address.host.name) port \(address.port), signing key fingerprint \(address.signingKey.fingerprint)")
            print(address.text)
        } catch {
            fail(error)
        }
    }
}

/// `sealdropd check-config`: checks a configuration without starting the daemon.
struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check the configuration (and tor's) without starting the daemon or locking the spool.",
        discussion: """
            Reads the settings as the daemon would, loads the recipients (verifying a signed \
            list and its expiry), reads the drop key if one is configured, and checks the spool \
            folder (type, mode 0700, owned by this user), the free space and inodes on its disk \
            against the reserves, and the two listeners. With --torrc FILE it also reads tor's \
            configuration (following %include): an onion service whose HiddenServicePort lines \
            reach listen (and web-listen when the upload page is on), nothing forwarded off the \
            machine, SafeLogging not off. Run it as the daemon's user.

            Prints what it found, then "warning:" lines (a signed list that expires within 14 \
            days, a tor without stream limits or denial-of-service defences, …), then each \
            problem as a "sealdropd: error:" line with its "sealdropd: hint:" line on standard \
            error, all of them, not only the first. "configuration ok" only when there is none.

            Example:
              sealdropd check-config --config /etc/sealdrop/sealdropd.yaml --torrc /etc/tor/torrc

            Exit status: 0 when all is well (warnings or not); 1 when anything is wrong (an \
            expired list, a spool or disk the daemon would refuse, a torrc that does not reach \
            the daemon); 64 for a usage error.
            """
    )

    @Option(help: ArgumentHelp("Tor's configuration file, checked against the daemon's listeners.", valueName: "file"))
    var torrc: String?

    @OptionGroup var settings: DaemonSettings

    func run() async throws {
        let configuration: DaemonConfiguration
        do { configuration = try await settings.resolved() } catch { fail(error) }
        let found = configuration.check(torrc: torrc)
        for line in found.lines { print(line) }
        for warning in found.warnings { print("warning: \(warning)") }
        guard found.problems.isEmpty else {
            for problem in found.problems { report(problem) }
            print("\(found.problems.count) problem(s) found")
            throw ExitCode.failure
        }
        print("configuration ok")
    }
}
