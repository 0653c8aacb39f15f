import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work on a thread of its own, never on Swift's cooperative pool (which the
/// in-process daemon's connection tasks need to make progress).
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let thread = Thread { continuation.resume(with: Result(catching: body)) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

struct SocketError: Error, CustomStringConvertible {
    let operation: String
    let code: Int32
    var description: String { "\(operation): \(String(cString: strerror(code)))" }
}

/// A plain blocking TCP client, for the cases `nc` cannot express: byte-by-byte sends, resets,
/// half-closes, a chosen source address, a client that never reads.
final class TestSocket: @unchecked Sendable {
    private(set) var fd: Int32

    /// Connects to 127.0.0.1:`port`, optionally from `source` (e.g. 127.0.0.2). Receive and send
    /// time out after `timeout` seconds so a test never hangs. (A class's `deinit` runs even when
    /// its initializer throws, so a failed path must leave `fd` at -1 after closing it.)
    init(port: Int, source: String? = nil, receiveBuffer: Int? = nil, timeout: Double = 20) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError(operation: "socket", code: errno) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if var size = receiveBuffer.map(Int32.init) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        if let source {
            var local = Self.address(source, port: 0)
            let rc = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else { let code = errno; Glibc.close(fd); fd = -1; throw SocketError(operation: "bind", code: code) }
        }
        var remote = Self.address("127.0.0.1", port: port)
        let rc = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { let code = errno; Glibc.close(fd); fd = -1; throw SocketError(operation: "connect", code: code) }
    }

    private static func address(_ ip: String, port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, ip, &address.sin_addr)
        return address
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// Sends all of `bytes`; throws if the connection breaks.
    func send(_ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SocketError(operation: "send", code: errno)
            }
            done += n
        }
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Shuts the write side (what `nc -N` does at the end of its input).
    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Reads until the server closes, an error (a reset), or the receive timeout.
    func readToEnd() -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { if n < 0 && errno == EINTR { continue }; break }
            out += buffer[0..<n]
        }
        return out
    }

    /// The reply as text.
    func readReply() -> String { String(decoding: readToEnd(), as: UTF8.self) }

    /// Whether the server has closed the connection (EOF or reset) within `timeout` seconds,
    /// reading and dropping anything that arrives first.
    func waitForClose(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 100)
            if ready > 0 {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, Int32(MSG_DONTWAIT)) }
                if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) { return true }
            }
        }
        return false
    }

    /// Closes with SO_LINGER 0: the peer gets a reset, not an orderly end.
    func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        Glibc.close(fd)
        fd = -1
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}

/// A whole request: `SEALDROP/1 <verb> <length>`, headers, empty line, body.
func request(_ verb: String = "PUT", body: [UInt8], headers: [String] = []) -> [UInt8] {
    let line = verb == "KEYS" ? "SEALDROP/1 KEYS\n" : "SEALDROP/1 \(verb) \(body.count)\n"
    return Array((line + headers.map { $0 + "\n" }.joined() + "\n").utf8) + body
}

/// Sends `bytes` in one go, half-closes, and returns the reply (blocking, on its own thread).
func exchange(port: Int, _ bytes: [UInt8], source: String? = nil, halfClose: Bool = true) async throws -> String {
    try await blocking {
        let socket = try TestSocket(port: port, source: source)
        do {
            try socket.send(bytes)
            if halfClose { socket.shutdownWrite() }
        } catch let error as SocketError where error.code == EPIPE || error.code == ECONNRESET {
            // The daemon refused early and stopped reading; its reply is still there to read.
        }
        return socket.readReply()
    }
}

/// The receipt of an `OK <id>` reply, or nil.
func receipt(_ reply: String) -> String? {
    guard reply.hasPrefix("OK "), reply.hasSuffix("\n") else { return nil }
    let id = String(reply.dropFirst(3).dropLast())
    return id.count == 24 ? id : nil
}

/// The code of an `ERR <code> <reason>` reply, or nil.
func errorCode(_ reply: String) -> String? {
    guard reply.hasPrefix("ERR ") else { return nil }
    return reply.dropFirst(4).split(separator: " ", maxSplits: 1).first.map(String.init)
}
