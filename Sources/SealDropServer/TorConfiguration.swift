public import Foundation

/// The parts of a torrc that `sealdropd check-config --torrc` reads: the onion services (each
/// `HiddenServiceDir` with its `HiddenServicePort` lines) and the options that decide whether
/// the drop is served safely. Read the way tor reads it: one option per line, keywords in any
/// case, `#` comments, a trailing backslash continuing a line, and `%include` of a file, a
/// folder or a pattern (up to 8 levels, at most 1 MiB a file).
public struct TorConfiguration: Sendable, Equatable {
    /// One `HiddenServicePort VIRTPORT [TARGET]` line.
    public struct PortMapping: Sendable, Equatable {
        /// The port onion clients connect to.
        public var virtualPort: Int
        /// Where tor forwards: `host` and `port`, or a `unix:` socket path (host nil).
        public var host: String?
        public var port: Int?
        public var unixPath: String?
        /// The line as written, for messages.
        public var text: String
    }

    /// One onion service: its `HiddenServiceDir` and port lines.
    public struct OnionService: Sendable, Equatable {
        public var directory: String
        public var ports: [PortMapping] = []
        /// Its other `HiddenService*` options, keyword in lower case → value.
        public var options: [String: String] = [:]
    }

    /// The onion services, in order.
    public var services: [OnionService] = []
    /// Options outside any service (keyword in lower case → last value).
    public var options: [String: String] = [:]
    /// Lines tor itself would refuse (`HiddenServicePort` before any `HiddenServiceDir`, a port
    /// line it cannot read): each a complete sentence.
    public var errors: [String] = []

    /// Reads `path` (and what it includes).
    public init(path: String) throws(StartupError) {
        try read(path, depth: 0)
    }

    private mutating func read(_ path: String, depth: Int) throws(StartupError) {
        guard depth < 8 else { throw StartupError("\(path): %include nests too deep", hint: "tor allows at most 8 levels of %include") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw StartupError("cannot read the torrc \(path)", hint: "give the file tor reads (often /etc/tor/torrc, which includes /etc/tor/torrc.d/*.conf); run check-config as a user who can read it")
        }
        let data = (try? handle.read(upToCount: 1 << 20 + 1)) ?? Data()
        try? handle.close()
        guard data.count <= 1 << 20, let text = String(data: data, encoding: .utf8) else {
            throw StartupError("the torrc \(path) is not a text file of at most 1 MiB", hint: "give tor's configuration file")
        }
        var pending = ""
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = String(rawLine)
            if let hash = line.firstIndex(of: "#") { line = String(line[..<hash]) }
            line = line.trimmingCharacters(in: .whitespaces)
            if line.hasSuffix("\\") {
                pending += line.dropLast() + " "
                continue
            }
            line = (pending + line).trimmingCharacters(in: .whitespaces)
            pending = ""
            guard !line.isEmpty else { continue }
            let parts = line.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
            let keyword = parts[0].lowercased()
            let value = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
            if keyword == "%include" {
                for included in Self.expand(value, relativeTo: path) { try read(included, depth: depth + 1) }
            } else {
                apply(keyword, value, line: line)
            }
        }
    }

    private mutating func apply(_ keyword: String, _ value: String, line: String) {
        switch keyword {
        case "hiddenservicedir":
            services.append(OnionService(directory: value))
        case "hiddenserviceport":
            guard !services.isEmpty else {
                errors.append("\"\(line)\" comes before any HiddenServiceDir (tor refuses it)")
                return
            }
            guard let mapping = Self.portMapping(value, line: line) else {
                errors.append("\"\(line)\" is not HiddenServicePort VIRTPORT [ADDRESS:]PORT")
                return
            }
            services[services.count - 1].ports.append(mapping)
        case _ where keyword.hasPrefix("hiddenservice") && !services.isEmpty:
            services[services.count - 1].options[keyword] = value
        default:
            options[keyword] = value
        }
    }

    /// `VIRTPORT`, `VIRTPORT PORT`, `VIRTPORT ADDR:PORT`, `VIRTPORT [IPv6]:PORT` or `VIRTPORT unix:PATH`.
    static func portMapping(_ value: String, line: String) -> PortMapping? {
        let words = value.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard (1...2).contains(words.count), let virtual = Int(words[0]), (1...65535).contains(virtual) else { return nil }
        guard words.count == 2 else { return PortMapping(virtualPort: virtual, host: "127.0.0.1", port: virtual, text: line) }
        let target = words[1]
        if target.lowercased().hasPrefix("unix:") {
            return PortMapping(virtualPort: virtual, unixPath: String(target.dropFirst(5)), text: line)
        }
        if let port = Int(target) {
            guard (1...65535).contains(port) else { return nil }
            return PortMapping(virtualPort: virtual, host: "127.0.0.1", port: port, text: line)
        }
        guard let (host, port) = try? DaemonConfiguration.parseListen(target), (1...65535).contains(port) else { return nil }
        return PortMapping(virtualPort: virtual, host: host, port: port, text: line)
    }

    /// The files an `%include` names: a file, every file of a folder (not hidden), or a pattern.
    static func expand(_ pattern: String, relativeTo path: String) -> [String] {
        let full = pattern.hasPrefix("/") ? pattern : ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(pattern)
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: full, isDirectory: &isFolder) {
            guard isFolder.boolValue else { return [full] }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: full)) ?? []
            return names.filter { !$0.hasPrefix(".") }.sorted().map { (full as NSString).appendingPathComponent($0) }
        }
        var matches = glob_t()
        defer { globfree(&matches) }
        guard glob(full, 0, nil, &matches) == 0 else { return [] }
        return (0..<Int(matches.gl_pathc)).compactMap { matches.gl_pathv[$0].map { String(cString: $0) } }.sorted()
    }

    /// Whether `mapping` forwards to `host:port`.
    static func mapping(_ mapping: PortMapping, reaches host: String, port: Int) -> Bool {
        guard let target = mapping.host, mapping.port == port else { return false }
        func canonical(_ name: String) -> String { name == "localhost" ? "127.0.0.1" : name }
        return canonical(target) == canonical(host)
    }
}
