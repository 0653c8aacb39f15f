import Configuration
import Foundation
public import Logging
import SealDropFormat
import SystemPackage
import Yams

/// Everything `sealdropd` needs to start, from embedded defaults, an optional YAML file, and
/// command-line flags, in increasing order of precedence. <doc:Configuration> lists every
/// setting; `Config/sealdropd.yaml` is a commented sample.
public struct DaemonConfiguration: Sendable, Equatable {
    /// The address to listen on. Default `127.0.0.1`.
    public var host = "127.0.0.1"
    /// The port to listen on; 0 picks a free one. Default 7700.
    public var port = 7700
    /// Where the upload page listens, if it is on. Default: off.
    public var webListen: ListenAddress?
    /// The spool root. Default `/var/lib/sealdrop`.
    public var spool = "/var/lib/sealdrop"
    /// The drop key file; nil: `drop.key` in the spool, made on first start.
    public var dropKey: String?
    /// Public keys given directly (the `recipients` list, or `--recipient` flags).
    public var recipients: [String] = []
    /// A file of public keys, one per line; re-read on SIGHUP.
    public var recipientsFile: String?
    /// The newsroom's signing public key (`sealdropsign1...`), pinned: a signed recipients list
    /// must be signed by it.
    public var signingKey: String?
    /// A recipients list signed by the newsroom's offline signing key (`keyholder
    /// sign-recipients`). When set it is the only source of recipients: ``recipients`` and
    /// ``recipientsFile`` must be empty, and ``signingKey`` is required.
    public var signedRecipients: String?
    /// How often the recipients file (or the signed list) is checked for a change, which is
    /// then loaded as on SIGHUP; zero checks only on SIGHUP. Default 2 s.
    public var recipientsPoll: Duration = .seconds(2)
    /// The limits.
    public var limits = ServerLimits()
    /// How long a submission stays in the inbox before the daemon removes it, counted from its
    /// day of arrival; zero (the default) keeps submissions until they are exported.
    public var retention: Duration = .zero
    /// How often the daemon looks for submissions past ``retention``. Default 1 h.
    public var retentionCheck: Duration = .seconds(3600)
    /// The least severe log level written. Default `info`.
    public var logLevel = Logger.Level.info

    /// The defaults.
    public init() {}

    /// A host and port to listen on (port 0: the system picks a free one).
    public struct ListenAddress: Sendable, Equatable {
        public var host: String
        public var port: Int

        /// The address `host:port`.
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    /// Settings by name, as written in the YAML file and (with `--` in front) on the command
    /// line. The value is a string in the forms ``apply(_:value:)`` accepts.
    public enum Setting: String, CaseIterable, Sendable {
        case listen
        case webListen = "web-listen"
        case spool
        case dropKey = "drop-key"
        case recipients
        case recipientsFile = "recipients-file"
        case signingKey = "signing-key"
        case signedRecipients = "signed-recipients"
        case recipientsPoll = "recipients-poll"
        case maxBodySize = "max-body-size"
        case maxHeaderLine = "max-header-line"
        case maxHeaderLines = "max-header-lines"
        case maxConnections = "max-connections"
        case spoolQuota = "spool-quota"
        case freeDiskReserve = "free-disk-reserve"
        case freeInodeReserve = "free-inode-reserve"
        case headerTimeout = "header-timeout"
        case idleTimeout = "idle-timeout"
        case minimumRate = "minimum-rate"
        case writeTimeout = "write-timeout"
        case drainTimeout = "drain-timeout"
        case drainLimit = "drain-limit"
        case shutdownGrace = "shutdown-grace"
        case maxPartialUploads = "max-partial-uploads"
        case partialExpiry = "partial-expiry"
        case partialIdleLimit = "partial-idle-limit"
        case retention
        case retentionCheck = "retention-check"
        case logLevel = "log-level"
    }

    /// Sets one setting from its text form.
    ///
    /// Sizes are a whole number of bytes, optionally followed by `K`, `M`, `G`, `T` (or `KiB`,
    /// `MiB`, `GiB`, `TiB`; powers of 1024). Durations are seconds, optionally with a fraction,
    /// or a number followed by `ms`, `s`, `m` or `h`. `listen` is `HOST:PORT` or `[IPv6]:PORT`.
    /// For `recipients` the value is one key (the list is given with ``recipients`` directly).
    public mutating func apply(_ setting: Setting, value: String) throws(StartupError) {
        let value = value.trimmingCharacters(in: .whitespaces)
        switch setting {
        case .listen: (host, port) = try Self.parseListen(value)
        case .webListen:
            let (host, port) = try Self.parseListen(value, setting: .webListen)
            webListen = ListenAddress(host: host, port: port)
        case .spool:
            guard !value.isEmpty else { throw Self.invalid(setting, value, "a folder path") }
            spool = value
        case .recipients: recipients = [value]
        case .recipientsFile:
            guard !value.isEmpty else { throw Self.invalid(setting, value, "a file path") }
            recipientsFile = value
        case .dropKey:
            guard !value.isEmpty else { throw Self.invalid(setting, value, "a file path") }
            dropKey = value
        case .signingKey:
            guard !value.isEmpty else { throw Self.invalid(setting, value, "a signing public key (sealdropsign1...)") }
            signingKey = value
        case .signedRecipients:
            guard !value.isEmpty else { throw Self.invalid(setting, value, "a file path") }
            signedRecipients = value
        case .recipientsPoll: recipientsPoll = try Self.parseDuration(value, setting, allowZero: true)
        case .maxBodySize:
            // 1 TiB: far beyond any upload through Tor, and far from where a sealed size overflows.
            let bytes = try Self.parseSize(value, setting)
            guard bytes <= Layout.maxContentLength else { throw Self.invalid(setting, value, "a size of at most 1T") }
            limits.maxBodyBytes = bytes
        case .maxHeaderLine:
            let bytes = try Self.parseInt(value, setting, in: 64...1_048_576)
            limits.maxHeaderLineBytes = bytes
        case .maxHeaderLines: limits.maxHeaderLines = try Self.parseInt(value, setting, in: 0...1024)
        case .maxConnections: limits.maxConnections = try Self.parseInt(value, setting, in: 1...1_000_000)
        case .spoolQuota: limits.spoolQuotaBytes = try Self.parseSize(value, setting)
        case .freeDiskReserve: limits.freeDiskReserveBytes = try Self.parseSize(value, setting)
        case .freeInodeReserve: limits.freeInodeReserve = UInt64(try Self.parseInt(value, setting, in: 0...Int(Int32.max)))
        case .headerTimeout: limits.headerTimeout = try Self.parseDuration(value, setting)
        case .idleTimeout: limits.idleTimeout = try Self.parseDuration(value, setting)
        case .minimumRate:
            let rate = try Self.parseSize(value, setting)
            guard rate <= UInt64(Int.max) else { throw Self.invalid(setting, value, "a rate in bytes per second") }
            limits.minimumBytesPerSecond = Int(rate)
        case .writeTimeout: limits.writeTimeout = try Self.parseDuration(value, setting)
        case .drainTimeout: limits.drainTimeout = try Self.parseDuration(value, setting, allowZero: true)
        case .drainLimit:
            let bytes = try Self.parseSize(value, setting)
            limits.drainMaxBytes = Int(min(bytes, UInt64(Int.max)))
        case .shutdownGrace: limits.shutdownGracePeriod = try Self.parseDuration(value, setting, allowZero: true)
        case .maxPartialUploads: limits.maxPartialUploads = try Self.parseInt(value, setting, in: 0...100_000)
        case .partialExpiry: limits.partialExpiry = try Self.parseDuration(value, setting)
        case .partialIdleLimit: limits.partialIdleLimit = try Self.parseDuration(value, setting)
        case .retention:
            // The spool keeps only each submission's day of arrival, so less than a day means nothing.
            let duration = try Self.parseDuration(value, setting, allowZero: true, maximumDays: 3650)
            guard duration == .zero || duration >= .seconds(86_400) else {
                throw Self.invalid(setting, value, "0 (off) or at least a day, such as 30d")
            }
            retention = duration
        case .retentionCheck: retentionCheck = try Self.parseDuration(value, setting)
        case .logLevel:
            guard let level = Logger.Level(rawValue: value.lowercased()) else {
                throw Self.invalid(setting, value, "one of trace, debug, info, notice, warning, error, critical")
            }
            logLevel = level
        }
    }

    /// A setting's current value in the text form ``apply(_:value:)`` accepts (`8G`, `30s`, ...);
    /// nil for an unset recipients file, signing key or signed list, and for `recipients` (a list).
    public func text(of setting: Setting) -> String? {
        switch setting {
        case .listen: Self.listenText(host, port)
        case .webListen: webListen.map { Self.listenText($0.host, $0.port) }
        case .spool: spool
        case .dropKey: dropKey
        case .recipients: nil
        case .recipientsFile: recipientsFile
        case .signingKey: signingKey
        case .signedRecipients: signedRecipients
        case .recipientsPoll: Self.durationText(recipientsPoll)
        case .maxBodySize: Self.sizeText(limits.maxBodyBytes)
        case .maxHeaderLine: "\(limits.maxHeaderLineBytes)"
        case .maxHeaderLines: "\(limits.maxHeaderLines)"
        case .maxConnections: "\(limits.maxConnections)"
        case .spoolQuota: Self.sizeText(limits.spoolQuotaBytes)
        case .freeDiskReserve: Self.sizeText(limits.freeDiskReserveBytes)
        case .freeInodeReserve: "\(limits.freeInodeReserve)"
        case .headerTimeout: Self.durationText(limits.headerTimeout)
        case .idleTimeout: Self.durationText(limits.idleTimeout)
        case .minimumRate: "\(limits.minimumBytesPerSecond)"
        case .writeTimeout: Self.durationText(limits.writeTimeout)
        case .drainTimeout: Self.durationText(limits.drainTimeout)
        case .drainLimit: Self.sizeText(UInt64(limits.drainMaxBytes))
        case .shutdownGrace: Self.durationText(limits.shutdownGracePeriod)
        case .maxPartialUploads: "\(limits.maxPartialUploads)"
        case .partialExpiry: Self.durationText(limits.partialExpiry)
        case .partialIdleLimit: Self.durationText(limits.partialIdleLimit)
        case .retention: Self.durationText(retention)
        case .retentionCheck: Self.durationText(retentionCheck)
        case .logLevel: logLevel.rawValue
        }
    }

    /// Whether `host` (a name or an address) names the loopback interface.
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host.hasPrefix("127.") || host == "::1"
    }

    static func listenText(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    static func sizeText(_ bytes: UInt64) -> String {
        for (shift, unit) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] where bytes > 0 && bytes % (1 << UInt64(shift)) == 0 {
            return "\(bytes >> UInt64(shift))\(unit)"
        }
        return "\(bytes)"
    }

    static func durationText(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if milliseconds > 0, milliseconds % 3_600_000 == 0 { return "\(milliseconds / 3_600_000)h" }
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(milliseconds)ms"
    }

    /// Reads the YAML file at `path` over the current values. Every key is optional; an unknown
    /// key, a value of the wrong kind or an unreadable file is an error.
    public mutating func load(yamlFile path: String) async throws(StartupError) {
        // A file of comments alone (like the sample) sets nothing; YAML calls it empty, not a mapping.
        let text = readTextFile(path, limit: 1 << 20)
        if let text, text.split(whereSeparator: \.isNewline).allSatisfy({ line in
               let trimmed = line.trimmingCharacters(in: .whitespaces)
               return trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed == "---"
           }) {
            return
        }
        let provider: FileProvider<YAMLSnapshot>
        do {
            provider = try await FileProvider<YAMLSnapshot>(filePath: FilePath(path))
        } catch {
            throw StartupError("cannot read configuration file \(path): \(error)",
                               hint: "check the path, and that the file is a YAML mapping of setting: value (sealdropd --help lists the settings)")
        }
        let unknown = try Self.unknownKeys(inYAML: text ?? "", file: path)
        guard unknown.isEmpty else {
            throw StartupError("configuration file \(path) has unknown settings: \(unknown.joined(separator: ", "))",
                               hint: "the settings are: \(Setting.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let reader = ConfigReader(provider: provider)
        for setting in Setting.allCases {
            let key = ConfigKey(setting.rawValue)
            if setting == .recipients {
                do {
                    if let list = try await reader.fetchStringArray(forKey: key) {
                        recipients = list
                    }
                } catch {
                    // A single key written as a scalar is accepted too.
                    guard let single = try? await reader.fetchString(forKey: key) else {
                        throw StartupError("configuration file \(path): recipients must be a list of public keys",
                                           hint: "write recipients: [sealdrop1..., sealdrop1...]")
                    }
                    recipients = [single]
                }
                continue
            }
            let text: String?
            do { text = try await reader.fetchString(forKey: key) } catch {
                throw StartupError("configuration file \(path): \(setting.rawValue) must be a single value",
                                   hint: "sealdropd --help lists every setting with the form of its value and its default")
            }
            guard let text else { continue }
            do { try apply(setting, value: text) } catch {
                throw StartupError("configuration file \(path): \(error.message)", hint: error.hint)
            }
        }
    }

    /// The top-level keys of a YAML mapping (the text of the file at `path`) that are not
    /// settings, read with Yams.
    private static func unknownKeys(inYAML text: String, file path: String) throws(StartupError) -> [String] {
        let node: Yams.Node?
        do { node = try Yams.compose(yaml: text) } catch {
            throw StartupError("configuration file \(path) is not valid YAML: \(error)", hint: "write one setting: value per line, as sealdropd --help lists them")
        }
        guard let node else { return [] }
        guard let mapping = node.mapping else {
            throw StartupError("configuration file \(path) is not a mapping of setting: value", hint: "write one setting: value per line, as sealdropd --help lists them")
        }
        let known = Set(Setting.allCases.map(\.rawValue))
        return mapping.keys.map { $0.string ?? "\($0)" }.filter { !known.contains($0) }.sorted()
    }

    // MARK: Value forms

    static func invalid(_ setting: Setting, _ value: String, _ expected: String) -> StartupError {
        StartupError("\(setting.rawValue): \"\(printable(value))\" is not \(expected)",
                     hint: "sealdropd --help lists every setting with the form of its value and its default")
    }

    private static func printable(_ value: String) -> String {
        String(value.unicodeScalars.prefix(64).map { (0x20...0x7E).contains($0.value) ? Character($0) : "?" })
    }

    static func parseListen(_ value: String, setting: Setting = .listen) throws(StartupError) -> (String, Int) {
        let host: Substring, portText: Substring
        if value.hasPrefix("[") {
            guard let close = value.firstIndex(of: "]"), value[value.index(after: close)...].hasPrefix(":") else {
                throw invalid(setting, value, "HOST:PORT or [IPv6]:PORT")
            }
            host = value[value.index(after: value.startIndex)..<close]
            portText = value[value.index(close, offsetBy: 2)...]
        } else {
            guard let colon = value.lastIndex(of: ":"), !value[..<colon].contains(":") else {
                throw invalid(setting, value, "HOST:PORT or [IPv6]:PORT")
            }
            host = value[..<colon]
            portText = value[value.index(after: colon)...]
        }
        guard !host.isEmpty, portText.allSatisfy(\.isASCII), let port = Int(portText), (0...65_535).contains(port) else {
            throw invalid(setting, value, "HOST:PORT with a port from 0 to 65535")
        }
        return (String(host), port)
    }

    static func parseInt(_ value: String, _ setting: Setting, in range: ClosedRange<Int>) throws(StartupError) -> Int {
        guard value.allSatisfy(\.isASCII), let number = Int(value), range.contains(number) else {
            throw invalid(setting, value, "a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    static func parseSize(_ value: String, _ setting: Setting) throws(StartupError) -> UInt64 {
        let digits = value.prefix(while: { $0.isASCII && $0.isNumber })
        let unit = value[digits.endIndex...].trimmingCharacters(in: .whitespaces)
        let multipliers: [String: UInt64] = [
            "": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20,
            "g": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tib": 1 << 40,
        ]
        guard !digits.isEmpty, let number = UInt64(digits), let multiplier = multipliers[unit.lowercased()] else {
            throw invalid(setting, value, "a size such as 1048576, 512K, 64MiB or 8G")
        }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { throw invalid(setting, value, "a size that fits in 64 bits") }
        return bytes
    }

    static func parseDuration(_ value: String, _ setting: Setting, allowZero: Bool = false, maximumDays: Double = 365) throws(StartupError) -> Duration {
        let number = value.prefix(while: { $0.isASCII && ($0.isNumber || $0 == ".") })
        let unit = value[number.endIndex...].trimmingCharacters(in: .whitespaces).lowercased()
        let scale: [String: Double] = ["": 1, "s": 1, "ms": 0.001, "m": 60, "h": 3600, "d": 86_400]
        guard let amount = Double(number), amount.isFinite, let factor = scale[unit] else {
            throw invalid(setting, value, "a duration such as 30, 30s, 500ms, 2m, 1h or 30d")
        }
        let seconds = amount * factor
        let limit = maximumDays == 365 ? "a year" : "\(Int(maximumDays)) days"
        guard seconds <= 86_400 * maximumDays, allowZero ? seconds >= 0 : seconds > 0 else {
            throw invalid(setting, value, allowZero ? "a duration from 0 to \(limit)" : "a duration above 0 and up to \(limit)")
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }
}

/// The text of the UTF-8 file at `path`, of at most `limit` bytes; nil when it cannot be read,
/// is larger, or is not UTF-8. Read through a file handle: Foundation's whole-file readers
/// (`String(contentsOfFile:)`, `Data(contentsOf:)`, `FileManager.contents(atPath:)`) leak 4 KiB
/// on Linux for every empty file they read (their zero-size path; found by `FuzzDaemonFiles`).
func readTextFile(_ path: String, limit: Int) -> String? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    guard let data = try? handle.read(upToCount: limit + 1) else { return "" }
    guard data.count <= limit else { return nil }
    return String(data: data, encoding: .utf8)
}
