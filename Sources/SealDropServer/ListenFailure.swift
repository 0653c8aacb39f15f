public import NIOCore
#if canImport(Glibc)
import Glibc
#endif

extension StartupError {
    /// The daemon could not listen on `host:port` (for `what`: "" for the TCP protocol, or
    /// "for the upload page"): the reason in words, not the library's, and what to do.
    ///
    /// - Parameters:
    ///   - setting: The setting that names the address (`listen`, `web-listen`), for the hint.
    package static func cannotListen(on host: String, port: Int, what: String = "", setting: String, error: any Error) -> StartupError {
        let address = DaemonConfiguration.listenText(host, port)
        let prefix = "cannot listen\(what.isEmpty ? "" : " \(what)") on \(address)"
        let code = (error as? IOError)?.errnoCode
        switch code {
        case EADDRINUSE:
            return StartupError("\(prefix): the port is already in use (another sealdropd, or another program, listens there)",
                                hint: "see what holds it with: ss -ltnp 'sport = :\(port)'; stop it, or give --\(setting) another port")
        case EADDRNOTAVAIL:
            return StartupError("\(prefix): \(host) is not an address of this machine",
                                hint: "give --\(setting) an address this machine has, normally 127.0.0.1 behind the onion service")
        case EACCES, EPERM:
            return StartupError("\(prefix): permission denied (ports below 1024 need privileges the daemon must not have)",
                                hint: "give --\(setting) a port above 1023; the onion service maps its public port to it (HiddenServicePort)")
        default:
            let reason = code.map { String(cString: strerror($0)) } ?? "\(error)"
            return StartupError("\(prefix): \(reason)",
                                hint: "give --\(setting) a free port on an address of this machine (port 0 lets the system choose)")
        }
    }
}
