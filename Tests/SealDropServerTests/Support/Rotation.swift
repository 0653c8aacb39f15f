import Foundation
import SealDropFormat
import SealDropKeys
import Testing

/// The document a `KEYS` request returns, byte for byte (the reply is `OK <n>`, then n bytes).
func fetchKeysDocument(port: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [UInt8] {
    let reply = try await blocking { () -> [UInt8] in
        let socket = try TestSocket(port: port)
        try socket.send(Array("SEALDROP/1 KEYS\n\n".utf8))
        socket.shutdownWrite()
        return socket.readToEnd()
    }
    let newline = try #require(reply.firstIndex(of: UInt8(ascii: "\n")), "no reply line: \(reply)", sourceLocation: sourceLocation)
    let line = String(decoding: reply[..<newline], as: UTF8.self)
    let count = try #require(line.hasPrefix("OK ") ? Int(line.dropFirst(3)) : nil, "not OK <n>: \(line)", sourceLocation: sourceLocation)
    let document = Array(reply[(newline + 1)...])
    #expect(document.count == count, "OK \(count) announced, \(document.count) bytes sent", sourceLocation: sourceLocation)
    return document
}

/// The key IDs a stored submission's header is sealed to.
func headerKeyIDs(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Set<KeyID> {
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    let header = try #require(try EnvelopeHeader.parse(prefix: bytes), "incomplete header in \(path)", sourceLocation: sourceLocation)
    return Set(header.keyIDs)
}

/// Whether `recipient`'s key alone opens the submission at `path` and gives back `content`;
/// false if the submission is not sealed to that key. Any other failure is thrown.
func opens(_ path: String, with recipient: Recipient, giving content: [UInt8]) throws -> Bool {
    do {
        return try recipient.open(path).content == content
    } catch let error as EnvelopeError where error.outcome == .noMatch {
        return false
    }
}

/// How many times `text` occurs in `haystack`.
func occurrences(of text: String, in haystack: String) -> Int {
    haystack.components(separatedBy: text).count - 1
}
