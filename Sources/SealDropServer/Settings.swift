/// The table of the daemon's settings: for each, the YAML key (its raw value), the command-line
/// flag, the form of its value and one line of help. `sealdropd` builds its flags and their help
/// from it, ``DaemonConfiguration`` reads the YAML file by it, and a test checks
/// `Config/sealdropd.yaml` against it (every setting shown with its embedded default).
extension DaemonConfiguration.Setting {
    /// The command-line flag, without `--`: the YAML key, but `recipient` (repeated) for the
    /// `recipients` list.
    public var flag: String { self == .recipients ? "recipient" : rawValue }

    /// The setting whose flag is `flag` (without `--`).
    public init?(flag: String) {
        if flag == "recipient" { self = .recipients; return }
        guard flag != "recipients", let setting = Self(rawValue: flag) else { return nil }
        self = setting
    }

    /// The form of the value, for help texts.
    public var valueName: String {
        switch self {
        case .listen, .webListen: "host:port"
        case .spool: "dir"
        case .recipients: "pubkey"
        case .recipientsFile, .signedRecipients, .dropKey: "file"
        case .signingKey: "sealdropsign1..."
        case .recipientsPoll, .headerTimeout, .idleTimeout, .writeTimeout, .drainTimeout, .shutdownGrace, .partialExpiry, .partialIdleLimit,
             .retention, .retentionCheck: "duration"
        case .maxBodySize, .spoolQuota, .freeDiskReserve, .drainLimit, .minimumRate: "size"
        case .maxHeaderLine: "bytes"
        case .maxHeaderLines, .maxConnections, .freeInodeReserve, .maxPartialUploads: "n"
        case .logLevel: "level"
        }
    }

    /// One line of help (the default is added where the setting has one).
    public var help: String {
        switch self {
        case .listen: "Address to listen on; port 0 picks a free one"
        case .webListen: "Address of the no-JavaScript upload page (HTTP), off unless set; port 0 picks a free one"
        case .spool: "Spool folder, mode 0700, owned by the daemon's user"
        case .dropKey: "The drop key, which signs a provenance record for each submission (sealdropd drop-key); without it, drop.key in the spool, made on first start"
        case .recipients: "A public key to seal uploads to (repeatable)"
        case .recipientsFile: "File of public keys, one per line, # comments; re-read on SIGHUP and when it changes"
        case .signedRecipients: "Recipients list signed by the newsroom's offline signing key (keyholder sign-recipients); then the only source of recipients"
        case .signingKey: "The newsroom's signing public key, pinned: the signed list must be signed by it"
        case .recipientsPoll: "How often to check the recipients file or signed list for a change; 0: only on SIGHUP"
        case .maxBodySize: "Largest upload (at most 1T)"
        case .maxHeaderLine: "Longest request head line"
        case .maxHeaderLines: "Most header lines per request"
        case .maxConnections: "Connections served at once"
        case .spoolQuota: "What the spool may hold: inbox, kept and in-progress uploads, each file charged its blocks, at least an empty submission's, plus one for its inode"
        case .freeDiskReserve: "Space to keep free on the spool's disk"
        case .freeInodeReserve: "Inodes to keep free on the spool's file system"
        case .headerTimeout: "Time to receive the whole request head"
        case .idleTimeout: "Longest wait for body data"
        case .minimumRate: "Slowest accepted upload, bytes per second; 0 turns it off"
        case .writeTimeout: "Time to hand the reply to the client"
        case .drainTimeout: "Time to read and discard input after a reply"
        case .drainLimit: "Most bytes discarded after a reply"
        case .shutdownGrace: "Time uploads in progress get on shutdown"
        case .maxPartialUploads: "Resumable uploads open at once (CREATE then gets busy); 0 turns resumable uploads off"
        case .partialExpiry: "A resumable upload is removed this long after CREATE, complete or not"
        case .partialIdleLimit: "A resumable upload with no durable progress (and no connection) for this long is removed"
        case .retention: "How long submissions stay in the inbox, counted from their day of arrival, before the daemon removes them (at start and every retention-check); 0 keeps them until exported; else at least 1d"
        case .retentionCheck: "How often to look for submissions past their retention"
        case .logLevel: "trace, debug, info, notice, warning, error or critical"
        }
    }

    /// The setting's entry in `sealdropd --help`: the flag and its value, then the help and the
    /// default on lines of at most 78 columns, indented.
    public var helpLine: String {
        let defaultText = DaemonConfiguration().text(of: self).map { " (default \($0))" } ?? ""
        var lines = ["  --\(flag) <\(valueName)>"]
        var line = "      "
        for word in (help + defaultText + ".").split(separator: " ") {
            if line.count + word.count + 1 > 78, line.count > 6 {
                lines.append(line)
                line = "      "
            }
            line += (line.count > 6 ? " " : "") + word
        }
        lines.append(line)
        return lines.joined(separator: "\n")
    }
}
