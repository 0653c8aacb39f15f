import ArgumentParser
import Foundation
import SealDropCLISupport

/// What a source chooses to record with a file, sealed inside the encryption: its name, the
/// time, and a message. Shared by `seal` and `send`.
struct MetadataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Record this name instead of the file's own.", valueName: "name"))
    var name: String?

    @Flag(help: "Record no file name at all.")
    var noName = false

    @Flag(help: "Record no time at all (the time is otherwise this machine's clock).")
    var noTime = false

    @Option(help: ArgumentHelp("A message for the newsroom, read from a file (it stays out of shell history and ps).", valueName: "file"))
    var messageFile: String?

    @Option(help: ArgumentHelp("A short message for the newsroom (it lands in shell history; prefer --message-file).", valueName: "text"))
    var message: String?

    func validate() throws {
        if noName && name != nil { throw ValidationError("--name and --no-name contradict each other") }
        if message != nil && messageFile != nil { throw ValidationError("give --message or --message-file, not both") }
    }

    /// The name to record for the file at `path` ('-' has none of its own).
    func recordedName(for path: String) -> String? {
        noName ? nil : (name ?? (path == "-" ? nil : (path as NSString).lastPathComponent))
    }

    /// The time to record: now, unless --no-time.
    var recordedTime: Date? { noTime ? nil : Date() }

    /// The message from --message, or read from --message-file (UTF-8, 32 KiB at most).
    func readMessage() throws(CLIError) -> String? {
        if let message { return message }
        guard let messageFile else { return nil }
        let bytes = try readSmallFile(messageFile, limit: 32 * 1024)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CLIError("\(messageFile) is not UTF-8 text", hint: "save the message as plain text (UTF-8)")
        }
        return text
    }
}
