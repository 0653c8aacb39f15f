import Foundation
import SealDropTestSupport

/// A TCP relay between `sealdrop send` and the drop that behaves like a Tor circuit that dies:
/// at given points of the bytes it has forwarded to the drop it resets the client's connection
/// and closes the drop's (as the onion service's tor does when a circuit ends). It counts the
/// bytes it received from the client and those it forwarded to the drop, optionally no faster
/// than a given rate. Python 3 from Debian, as a background program.
final class CuttingRelay {
    let port: Int
    private let stats: String
    private let program: BackgroundProgram

    /// What the relay counted.
    struct Counts: Decodable {
        /// Bytes the client sent to the relay.
        let received: UInt64
        /// Bytes the relay delivered to the drop.
        let forwarded: UInt64
        /// Connections from the client.
        let connections: Int
        /// Connections cut.
        let cuts: Int
    }

    init(to target: Int, cuttingAt cuts: [UInt64] = [], bytesPerSecond: Int = 0, in dir: TemporaryDirectory) throws {
        port = try freePort()
        stats = dir.file("relay-\(port).json")
        let script = dir.file("relay.py")
        try Data(Self.source.utf8).write(to: URL(fileURLWithPath: script))
        program = try BackgroundProgram("/usr/bin/python3", [script, "\(port)", "\(target)", stats, "\(bytesPerSecond)",
                                                             cuts.sorted().map(String.init).joined(separator: ",")],
                                        stderrTo: dir.file("relay-\(port).log"))
        guard waitForListener(port: port) else { throw TestSupportError.commandFailed("the relay did not start") }
    }

    /// The counts so far.
    func counts() throws -> Counts {
        try JSONDecoder().decode(Counts.self, from: Data(contentsOf: URL(fileURLWithPath: stats)))
    }

    /// Waits until the relay has forwarded at least `bytes` to the drop.
    func waitForForwarded(_ bytes: UInt64, timeout: Double = 60) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let counts = try? counts(), counts.forwarded >= bytes { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return false
    }

    private static let source = #"""
    import json, os, socket, struct, sys, threading, time

    listen_port, target_port, stats_path, rate = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    cuts = [int(x) for x in sys.argv[5].split(",")] if len(sys.argv) > 5 and sys.argv[5] else []
    lock = threading.Lock()
    stats = {"received": 0, "forwarded": 0, "connections": 0, "cuts": 0}
    started = time.monotonic()

    def save():
        tmp = stats_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(stats, f)
        os.replace(tmp, stats_path)

    def reset(sock):
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        sock.close()

    def downstream(upstream, client):
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                client.sendall(data)
            client.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def serve(client):
        with lock:
            stats["connections"] += 1
            save()
        try:
            upstream = socket.create_connection(("127.0.0.1", target_port))
        except OSError:
            reset(client)
            return
        threading.Thread(target=downstream, args=(upstream, client), daemon=True).start()
        try:
            while True:
                data = client.recv(1 << 18)
                if not data:
                    upstream.shutdown(socket.SHUT_WR)
                    return
                cut = False
                with lock:
                    stats["received"] += len(data)
                    if cuts and stats["forwarded"] + len(data) >= cuts[0]:
                        data = data[:cuts.pop(0) - stats["forwarded"]]
                        stats["cuts"] += 1
                        cut = True
                    stats["forwarded"] += len(data)
                if data:
                    upstream.sendall(data)
                with lock:
                    save()
                if cut:
                    # The circuit dies: the client sees a reset, the drop an orderly end after
                    # every byte forwarded.
                    reset(client)
                    upstream.close()
                    return
                if rate > 0:
                    ahead = stats["forwarded"] / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
        except OSError:
            reset(client)
            upstream.close()

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", listen_port))
    listener.listen(64)
    save()
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=serve, args=(connection,), daemon=True).start()
    """#
}
