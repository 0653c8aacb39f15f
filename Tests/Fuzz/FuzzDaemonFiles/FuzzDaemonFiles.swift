import Foundation
import FuzzSupport
import SealDropServer

/// The files the daemon and its commands read that an operator writes or the daemon leaves:
/// the YAML configuration, the torrc `check-config --torrc` reads, and `reload-outcome`. The
/// first byte picks which.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDaemonFiles(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = FuzzInput.bytes(data, size)
    guard let which = bytes.first else { return 0 }
    let content = Array(bytes.dropFirst())
    switch which % 3 {
    case 0:
        let path = FuzzInput.file("sealdropd.yaml", content)
        let done = DispatchSemaphore(value: 0)
        Task {
            var configuration = DaemonConfiguration()
            try? await configuration.load(yamlFile: path)
            done.signal()
        }
        done.wait()
    case 1:
        _ = try? TorConfiguration(path: FuzzInput.file("torrc", content))
    default:
        _ = FuzzInput.file(ReloadOutcome.fileName, content)
        _ = ReloadOutcome.read(spoolRoot: FuzzInput.scratch)
    }
    return 0
}
