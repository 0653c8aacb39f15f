public import SealDropCLISupport
import SealDropWire

/// Why a send failed, said so that a frightened, non-technical source knows what happened and
/// what to do next (``explained``).
public enum SendFailure: Error, Sendable {
    /// The route was refused before any connection (see ``RouteError``).
    case refusedRoute(RouteError)
    /// No proxy answered: Tor is not running (or not where it was said to be).
    case proxyUnreachable(SOCKSProxy, tried: [SOCKSProxy])
    /// The proxy would not authenticate this client.
    case proxyRefusedAuthentication(SOCKSProxy, SOCKSAuthenticationError)
    /// The proxy answered, but could not reach the drop (the SOCKS5 reply code; Tor's own codes
    /// `F0`–`F7` for onion services).
    case proxyCouldNotReach(reply: UInt8)
    /// The proxy failed in some other way.
    case proxyFailed(SOCKSProxy, detail: String)
    /// Nothing answers at a loopback drop's address.
    case dropUnreachable(detail: String)
    /// The proxy or the drop did not answer in time.
    case timedOut
    /// The connection ended before the drop's reply.
    case connectionLost(detail: String)
    /// The drop answered before the upload was complete: it refused it (the reply line).
    case replyBeforeEnd(String)
    /// The drop's reply to a complete request (the reply line).
    case refused(String)
    /// The recipients list the drop served does not verify against the pinned key.
    case keysNotVerified(String)
    /// The file changed size while it was being sent.
    case fileChanged
    /// The file could not be read.
    case unreadable(String)
    /// A failure on this computer (the state file, sealing), already in plain words.
    case local(CLIError)

    /// Whether the failure concerns one file only, so that the next file may still be sent.
    public var concernsOneFile: Bool {
        switch self {
        case .fileChanged, .unreadable, .local: true
        case .replyBeforeEnd(let line), .refused(let line): Self.code(of: line) == .tooLarge
        default: false
        }
    }

    /// The message and the next step, in plain words.
    public var explained: CLIError {
        switch self {
        case .refusedRoute(let route): return route.explained
        case .proxyUnreachable(let proxy, let tried):
            if tried == SOCKSProxy.torCandidates {
                return CLIError("cannot reach Tor on this computer: nothing answers on port 9050 (the tor service) or 9150 (Tor Browser)",
                                hint: "start Tor Browser and leave it open, or start the tor service; then run the same command again")
            }
            return CLIError("cannot reach the proxy \(proxy): nothing answers there",
                            hint: "check that Tor is running and listening there (Tor Browser uses port 9150, the tor service 9050), or use --tor")
        case .proxyRefusedAuthentication(let proxy, let error):
            switch error {
            case .credentialsRefused, .noAcceptableMethod:
                return CLIError("the proxy \(proxy) will not take the separate login this program uses for each run",
                                hint: "use Tor's own SOCKS port (--tor: Tor Browser's 9150 or the tor service's 9050); a proxy that checks passwords is not Tor")
            case .protocolViolation:
                return CLIError("the program at \(proxy) does not speak SOCKS5", hint: "use Tor's SOCKS port: --tor, or --proxy socks5h://127.0.0.1:9050")
            }
        case .proxyCouldNotReach(let reply):
            switch reply {
            case 0xF6:
                return CLIError("Tor says the drop's onion address is not valid", hint: "stop, and get the drop address again from the newsroom")
            case 0xF0, 0xF1:
                return CLIError("Tor cannot find the drop: it may be offline, or the address may be wrong",
                                hint: "check the drop address with the newsroom, or try again in an hour")
            case 0xF2, 0xF3, 0xF7, 0x04, 0x06:
                return CLIError("Tor could not reach the drop just now", hint: "the drop may be offline or Tor slow; try again in a few minutes")
            default:
                return CLIError("the proxy could not connect to the drop (SOCKS reply \(reply))",
                                hint: "check that the proxy is Tor, with its network on; try again in a few minutes")
            }
        case .proxyFailed(let proxy, let detail):
            return CLIError("the connection through \(proxy) failed (\(detail))", hint: "try again in a few minutes; if it keeps failing, restart Tor")
        case .dropUnreachable(let detail):
            return CLIError("cannot reach the drop on this computer (\(detail))", hint: "is sealdropd running? A drop on 127.0.0.1 is for tests and the demo")
        case .timedOut:
            return CLIError("the drop did not answer in time", hint: "Tor may be slow or the drop offline; try again later")
        case .connectionLost(let detail):
            return CLIError("the connection to the drop was lost before it confirmed the upload (\(detail))",
                            hint: "without a receipt, assume nothing arrived: send the file again (a new run also gets a new Tor circuit)")
        case .replyBeforeEnd(let line), .refused(let line):
            return Self.explainReply(line)
        case .keysNotVerified(let why):
            return CLIError("stop: this may not be the newsroom's drop: its list of the newsroom's keys does not verify (\(why))",
                            hint: "nothing was sent; get the drop address again from the newsroom, through a channel you trust, before trying again")
        case .fileChanged:
            return CLIError("the file changed while it was being sent", hint: "nothing of it was stored; send it again once nothing is writing to it")
        case .unreadable(let why):
            return CLIError(why, hint: "nothing of it was stored; check the file and send it again")
        case .local(let error):
            return error
        }
    }

    static func code(of line: String) -> ErrorCode? {
        let words = line.split(separator: " ", maxSplits: 2)
        guard words.count >= 2, words[0] == "ERR" else { return nil }
        return ErrorCode(rawValue: String(words[1]))
    }

    private static func explainReply(_ line: String) -> CLIError {
        let shown = String(line.prefix(200))
        switch code(of: line) {
        case .busy?: return CLIError("the drop is busy", hint: "try again in a few minutes")
        case .quota?, .diskFull?:
            return CLIError("the drop cannot take more files right now: it is full (\(shown))", hint: "try again later, in a few hours or a day")
        case .tooLarge?: return CLIError("the file is larger than this drop accepts (\(shown))", hint: "ask the newsroom how to send something this large")
        case .notAddressed?:
            return CLIError("the newsroom changed its keys while you were sending (\(shown))", hint: "nothing of this file was kept; run the same command again")
        case .headerTimeout?, .idleTimeout?:
            return CLIError("the drop gave up waiting for data (\(shown))", hint: "the connection through Tor may be too slow just now; try again later")
        case .uploadExpired?, .unknownUpload?:
            return CLIError("the drop no longer has this upload: it expired, or made no progress for too long (\(shown))",
                            hint: "send the file again as a new upload")
        case .unknownVerb?:
            return CLIError("this drop takes no resumable uploads (\(shown))",
                            hint: "send without --state: sealdrop then sends the file in one connection")
        case .badToken?:
            return CLIError("the drop does not accept this upload's token (\(shown))",
                            hint: "the state file does not belong to this upload; delete it and send the file again as a new upload")
        case .serverError?: return CLIError("the drop could not store the file (\(shown))", hint: "nothing of it was kept; try again later")
        default: return CLIError("the drop refused the upload (\(shown))", hint: "this program and the drop may not match; get the current sealdrop from the newsroom")
        }
    }
}

extension RouteError {
    /// The message and the next step, in plain words.
    public var explained: CLIError {
        switch self {
        case .resolvesLocally(let url):
            return CLIError("refusing \(url): with socks5:// this computer would look up the drop's name itself, which can reveal where you are going",
                            hint: "use socks5h:// (the proxy looks up names), or --tor")
        case .notAProxyURL(let url):
            return CLIError("\(url) is not a proxy address", hint: "write it as socks5h://127.0.0.1:9050, or use --tor")
        case .proxyNameNotAddress(let host):
            return CLIError("the proxy must be given by its IP address, not by the name \(host)",
                            hint: "this program looks up no name itself; write it as socks5h://127.0.0.1:9050")
        case .credentialsInURL:
            return CLIError("the proxy address must not contain a user name or password", hint: "this program makes new ones for each run; remove the part before @")
        case .needsTor(let host):
            return CLIError("\(host) is reached only through Tor, and no proxy was given",
                            hint: "add --tor (with Tor Browser open, or the tor service running), or --proxy socks5h://127.0.0.1:9050")
        }
    }
}
