import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Tells systemd how the daemon is doing, as `Type=notify` expects (`sd_notify(3)`), without
/// linking libsystemd: one datagram to the `AF_UNIX` socket named in `NOTIFY_SOCKET` (a leading
/// `@` names the abstract namespace). Without `NOTIFY_SOCKET` (not started by systemd) it does
/// nothing.
package struct ServiceManagerNotifier: Sendable {
    private let socketPath: String?

    /// The notifier for this process's `NOTIFY_SOCKET`, if any.
    package init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The daemon listens and serves (`READY=1`), with a status line for `systemctl status`.
    package func ready(status: String) { send("READY=1\nSTATUS=\(status)") }

    /// A reload began (`RELOADING=1`); ``ready(status:)`` ends it.
    package func reloading() { send("RELOADING=1") }

    /// The daemon is shutting down (`STOPPING=1`).
    package func stopping() { send("STOPPING=1") }

    /// Sends `message` as one datagram; false when there is no socket or it failed.
    @discardableResult
    package func send(_ message: String) -> Bool {
        guard let socketPath, socketPath.hasPrefix("/") || socketPath.hasPrefix("@") else { return false }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        if path[0] == UInt8(ascii: "@") { path[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (path[0] == 0 ? 0 : 1))
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(message.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
                sendto(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL), sockaddrPointer, length)
            }
        }
        return sent == bytes.count
    }
}
