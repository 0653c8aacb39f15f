import ArgumentParser
import Foundation
import SealDropCLISupport
import SealDropKeyholder

/// Options that choose the secret keys, shared by every command that opens submissions.
struct KeyOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("A secret key file to use; repeat for several. Without it, every *.key file in the keyring folder is used.", valueName: "keyfile"))
    var key: [String] = []

    @Option(help: ArgumentHelp("The keyring folder (default ~/.sealdrop/keys).", valueName: "dir"))
    var keyring: String?

    @Option(help: ArgumentHelp("Read passphrases from the first line of this file; keys it does not open are asked for on the terminal.", valueName: "file"))
    var passphraseFile: String?

    func validate() throws {
        if !key.isEmpty && keyring != nil {
            throw ValidationError("--key and --keyring exclude each other: --key uses only the keys it names")
        }
    }

    func makeKeyring() throws(CLIError) -> Keyring {
        try Keyring(keyPaths: key, folder: keyring, passphraseFile: passphraseFile) { diagnostics.note($0) }
    }
}

/// Where the archive is, and where submissions named by ID are looked up.
struct ArchiveOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The archive folder (default ~/.sealdrop/archive).", valueName: "dir"))
    var archive: String?

    @Option(name: .customLong("in"), help: ArgumentHelp("Look submission IDs up in this folder (an inbox, a spool root or a medium) instead of the archive; repeat for several.", valueName: "dir"))
    var inboxes: [String] = []

    /// The archive's path.
    var archivePath: String { archive ?? Archive.defaultPath }

    /// The archive's path when an archive exists there (nil before the first import).
    var existingArchivePath: String? { Archive.exists(at: archivePath) ? archivePath : nil }

    /// The archive, if there is one (nil when none exists and none was named).
    func existingArchive() throws(CLIError) -> Archive? {
        guard archive != nil || Archive.exists(at: archivePath) else { return nil }
        return try Archive.open(archivePath, create: false)
    }

    /// The folders IDs are looked up in: the `--in` folders, or else the archive.
    func searchFolders(_ archive: Archive?) throws(CLIError) -> [String] {
        if !inboxes.isEmpty { return inboxes }
        guard let archive else {
            throw CLIError("there is no archive at \(archivePath) to look submissions up in",
                           hint: "import a medium first (keyholder import MEDIA), or give paths, or --in DIR")
        }
        return [archive.submissionsPath]
    }

    /// The submissions `paths` name, or with none (and `allWhenEmpty`) every one of the
    /// `--in` folders or the archive.
    func files(_ paths: [String], archive: Archive?, allWhenEmpty: Bool) throws(CLIError) -> [SubmissionFile] {
        if paths.isEmpty && allWhenEmpty { return try Locator.all(in: searchFolders(archive)) }
        // Only an argument that could be an ID needs a folder to look it up in.
        let needsLookup = paths.contains { !fileExistsOrLink($0) && Locator.couldBeID($0) }
        return try Locator.resolve(paths, lookingIn: needsLookup ? try searchFolders(archive) : inboxes)
    }
}
