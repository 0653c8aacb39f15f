import Foundation
import SealDropTestSupport
import Testing

/// The module boundaries the design promises, checked on the sources and the built binaries.
@Suite("Architecture")
struct ArchitectureTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Sources")

    /// Every Swift file under Sources whose text contains `needle`, relative to Sources.
    func files(containing needle: String) throws -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: Self.sources.path)!
        return try enumerator.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }.filter {
            try String(contentsOf: Self.sources.appendingPathComponent($0), encoding: .utf8).contains(needle)
        }
    }

    @Test("only SealDropCrypto imports CSodium")
    func onlyCryptoImportsSodium() throws {
        let importers = try files(containing: "import CSodium")
        #expect(!importers.isEmpty)
        #expect(importers.allSatisfy { $0.hasPrefix("SealDropCrypto/") }, "\(importers)")
    }

    @Test("keyholder neither imports nor links NIO; sealdrop reaches the network only through SealDropClient")
    func offlineToolsHaveNoNetworkStack() throws {
        let importers = try files(containing: "import NIO")
        #expect(importers.filter { $0.hasPrefix("keyholder/") || $0.hasPrefix("SealDropKeyholder/") || $0.hasPrefix("sealdrop/") }.isEmpty, "\(importers)")
        #expect(importers.contains { $0.hasPrefix("SealDropClient/") })
        let symbols = try runProcess("/usr/bin/env", ["nm", "-C", TestBinaries.path("keyholder")])
        #expect(symbols.status == 0)
        #expect(symbols.stdout.contains("SealDropFormat"))  // the check sees real symbols
        #expect(!symbols.stdout.contains("NIOCore"), "keyholder links NIO")
        let libraries = try runProcess("/usr/bin/env", ["ldd", TestBinaries.path("keyholder")])
        #expect(!libraries.stdout.lowercased().contains("nio"))
        // The same check finds NIO where it is: in sealdrop, for send.
        #expect(try runProcess("/usr/bin/env", ["nm", "-C", TestBinaries.path("sealdrop")]).stdout.contains("NIOCore"))
    }

    @Test("only SealDropWeb imports Hummingbird: the upload page is a module of its own, which the daemon's core does not know")
    func onlyTheWebModuleImportsHummingbird() throws {
        let importers = try files(containing: "import Hummingbird")
        #expect(!importers.isEmpty)
        #expect(importers.allSatisfy { $0.hasPrefix("SealDropWeb/") }, "\(importers)")
        #expect(try files(containing: "import SealDropWeb") == ["sealdropd/SealDropD.swift"])
    }

    @Test("the daemon never sees a secret key: SealDropServer does not use key files")
    func daemonHasNoSecretKeys() throws {
        let uses = try files(containing: "KeyFile").filter { $0.hasPrefix("SealDropServer/") || $0.hasPrefix("sealdropd/") }
        #expect(uses.allSatisfy { path in
            (try? String(contentsOf: Self.sources.appendingPathComponent(path), encoding: .utf8))?
                .contains("unlock(") == false
        }, "\(uses)")
    }
}
