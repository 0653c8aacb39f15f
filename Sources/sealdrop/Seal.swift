import ArgumentParser
import Foundation
import SealDropCLISupport
import SealDropCrypto
import SealDropFormat
import SealDropKeys

struct Seal: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Seal a file to the newsroom's public keys.",
        discussion: """
        The output can be opened only with a recipient's secret key. It records the file's base \
        name (unless --name replaces it or --no-name omits it), its size, the time by this \
        machine's clock (unless --no-time omits it), and an optional message, all inside the \
        encryption; its length is padded. An existing output file is never overwritten; the \
        output appears under its name only once complete.

        Example:
          sealdrop seal --recipients-file newsroom.txt --no-name --no-time -o upload.sealdrop report.pdf
        """
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("A newsroom public key (sealdrop1…); repeat for several.", valueName: "pubkey"))
    var recipient: [String] = []

    @Option(help: ArgumentHelp("A file of public keys, one per line ('#' starts a comment).", valueName: "file"))
    var recipientsFile: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the sealed file ('-' for standard output, never a terminal).", valueName: "out"))
    var output: String

    @Option(help: ArgumentHelp("Record this media type, e.g. application/pdf.", valueName: "type"))
    var type: String?

    @OptionGroup var recorded: MetadataOptions

    @Argument(help: ArgumentHelp("The file to seal ('-' reads standard input).", valueName: "file"))
    var file: String

    func validate() throws {
        if recipient.isEmpty && recipientsFile == nil { throw ValidationError("give at least one --recipient or a --recipients-file") }
    }

    func run() throws {
        try reportingErrors { () throws(CLIError) in
            let recipients = try loadRecipients()
            let input = try FileReader(path: file)
            let metadata = Metadata(name: recorded.recordedName(for: file), mediaType: type, size: input.regularFileSize(),
                                    time: recorded.recordedTime, message: try recorded.readMessage(), sealedBy: .source)
            let writer: EnvelopeWriter
            do throws(SealingError) { writer = try EnvelopeWriter(recipients: recipients, metadata: metadata) } catch {
                switch error {
                case .timeOutOfRange: throw CLIError(error.description, hint: "set this machine's clock, or seal with --no-time")
                case .metadataTooLarge: throw CLIError(error.description, hint: "shorten the message or the name")
                default: throw CLIError(error.description)
                }
            }
            if output == "-" {
                guard !isTerminal(1) else {
                    throw CLIError("refusing to write a sealed file to a terminal", hint: "redirect standard output, or use --output FILE")
                }
                try seal(input, with: writer, to: 1)
                return
            }
            try refuseSameFile(input)
            let path = URL(fileURLWithPath: output)
            if FileManager.default.fileExists(atPath: output) || (try? FileManager.default.destinationOfSymbolicLink(atPath: output)) != nil {
                throw CLIError("\(output) already exists", hint: "sealdrop never overwrites a file; choose another --output")
            }
            let folder = try OutputFolder(path: path.deletingLastPathComponent().path)
            // Ctrl-C (or SIGTERM, SIGHUP) while sealing removes the unfinished file.
            let file = try PartialFileGuard.createGuarded(in: folder)
            defer { PartialFileGuard.disarm() }
            do throws(CLIError) {
                try seal(input, with: writer, to: file.fd)
                guard fsync(file.fd) == 0 else { throw CLIError("cannot sync \(output): \(errnoText())") }
                do throws(CLIError) { try folder.publish(file, exactlyAs: path.lastPathComponent) } catch {
                    throw CLIError("cannot create \(output): \(error.message)", hint: "sealdrop never overwrites a file; choose another --output")
                }
            } catch {
                folder.discard(file)
                throw error
            }
            diagnostics.note("sealed \(writer.contentByteCount) bytes to \(recipients.count) recipient(s) (key ID \(recipients.map { $0.keyID.description }.joined(separator: ", "))) into \(output)")
        }
    }

    private func loadRecipients() throws(CLIError) -> [PublicKey] {
        var keys: [PublicKey] = []
        for text in recipient {
            do { keys.append(try PublicKey(text: text)) } catch {
                throw CLIError("--recipient \(String(text.prefix(80))): \(error)", hint: "copy the newsroom's public key again, exactly as published")
            }
        }
        if let recipientsFile {
            let bytes = try readSmallFile(recipientsFile)
            do { keys += try Recipients.parse(bytes: bytes) } catch {
                throw CLIError("\(recipientsFile): \(error)", hint: "one public key (sealdrop1…) per line; '#' starts a comment")
            }
        }
        var unique: [PublicKey] = []
        for key in keys where !unique.contains(key) { unique.append(key) }
        guard unique.count <= Layout.maxRecipients else {
            throw CLIError("too many recipients (\(unique.count); at most \(Layout.maxRecipients))")
        }
        return unique
    }

    private func refuseSameFile(_ input: FileReader) throws(CLIError) {
        var info = stat()
        guard let source = input.identity(), stat(output, &info) == 0 else { return }
        if UInt64(info.st_dev) == source.device && UInt64(info.st_ino) == source.inode {
            throw CLIError("the output is the input file itself", hint: "choose another --output")
        }
    }

    /// Streams `input` through the writer into `fd`, 1 MiB at a time, on three threads: one reads
    /// ahead (``ReadAhead``), this one seals, one writes behind (``BackgroundWriter``).
    private func seal(_ input: FileReader, with writer: EnvelopeWriter, to fd: Int32) throws(CLIError) {
        let source = ReadAhead(input, zeroAfterUse: true)
        let output = BackgroundWriter(fd: fd, zeroAfterWriting: false)
        // The writing thread has ended before the caller closes the descriptor, whatever happens.
        defer { output.stop() }
        try output.write(writer.prefix)
        do {
            while try source.nextBlock({ content in try writer.append(content) { sealed in try output.write(sealed) } }) {}
            try writer.finish { sealed in try output.write(sealed) }
            try output.finish()
        } catch let error as CLIError {
            throw error
        } catch let error as SealingError {
            throw CLIError(error.description, hint: "do not change the file while it is being sealed")
        } catch {
            throw CLIError("\(error)")
        }
    }
}
