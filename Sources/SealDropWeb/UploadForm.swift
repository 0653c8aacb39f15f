import Foundation
import NIOCore

/// The upload form's rules, over the parts a ``MultipartScanner`` reads: an optional `message`
/// field, then one `file` field, and nothing after it. The message comes first so that it is
/// known when the upload begins (it is sealed in the submission's metadata, before the file);
/// a form that sends the file first is refused, as are a second file, parts after the file,
/// unknown fields and nested multipart bodies.
struct UploadForm {
    /// The longest message accepted, in bytes of UTF-8.
    static let maxMessageBytes = 32 * 1024

    /// What the form asks for next, in order.
    enum Step: Equatable {
        /// The file part begins: begin the upload with what the form said about it.
        case beginFile(name: String, mediaType: String?, message: String?)
        /// Bytes of the file.
        case fileBytes(ByteBuffer)
    }

    /// Why the form was refused. Each has its words in ``WebTexts``.
    enum Failure: Error, Equatable {
        /// The request is not `multipart/form-data` with one valid boundary.
        case notAForm
        /// The body is not multipart as the scanner reads it.
        case malformed(MultipartScanner.Failure)
        /// A part without `Content-Disposition: form-data; name=...`, or with it malformed.
        case badDisposition
        /// A part that is neither the message nor the file, or one of them twice.
        case unexpectedField
        /// A part after the file (including the message, sent after it).
        case partAfterFile
        /// A multipart body inside a part.
        case nested
        /// The form has no file part, or the file part names no file (none was chosen).
        case noFile
        /// The message is longer than ``UploadForm/maxMessageBytes``.
        case messageTooLong
        /// The message is not UTF-8.
        case badMessage
    }

    private enum Part { case none, message, file, afterFile }

    private var scanner: MultipartScanner
    private var part = Part.none
    private var message: [UInt8]?
    private var sawFile = false

    /// A reader for a request whose `Content-Type` is `contentType`.
    init(contentType: String?, maxHeadBytes: Int, maxHeadLines: Int) throws(Failure) {
        guard let contentType, let boundary = Self.boundary(contentType: contentType) else { throw .notAForm }
        scanner = MultipartScanner(boundary: boundary, maxHeadBytes: maxHeadBytes, maxHeadLines: maxHeadLines)
    }

    /// Reads the next bytes of the body; returns what they ask for.
    mutating func feed(_ buffer: ByteBuffer) throws(Failure) -> [Step] {
        let events: [MultipartScanner.Event]
        do { events = try scanner.feed(buffer) } catch { throw .malformed(error) }
        var steps: [Step] = []
        for event in events {
            switch event {
            case .head(let fields):
                if let step = try begin(fields) { steps.append(step) }
            case .body(let bytes):
                switch part {
                case .message:
                    guard (message?.count ?? 0) + bytes.readableBytes <= Self.maxMessageBytes else { throw .messageTooLong }
                    message?.append(contentsOf: bytes.readableBytesView)
                case .file:
                    steps.append(.fileBytes(bytes))
                case .none, .afterFile:
                    break
                }
            case .partEnd:
                part = part == .file ? .afterFile : .none
            case .end:
                break
            }
        }
        return steps
    }

    /// Checks that the body is complete and held a file.
    func finish() throws(Failure) {
        do { try scanner.finish() } catch { throw .malformed(error) }
        guard sawFile else { throw .noFile }
    }

    private mutating func begin(_ fields: [MultipartScanner.HeaderField]) throws(Failure) -> Step? {
        guard part != .afterFile else { throw .partAfterFile }
        guard let disposition = Self.unique("content-disposition", in: fields),
              let parameters = HeaderParameters(disposition), parameters.value.lowercased() == "form-data",
              let name = parameters["name"]
        else { throw .badDisposition }
        let type = Self.unique("content-type", in: fields)
        if let type, type.lowercased().hasPrefix("multipart/") { throw .nested }
        switch (name, parameters["filename"]) {
        case ("message", nil) where message == nil:
            part = .message
            message = []
            return nil
        case ("file", let fileName?):
            guard !fileName.isEmpty else { throw .noFile }
            let text: String?
            if let message {
                guard let decoded = String(validating: message, as: UTF8.self) else { throw .badMessage }
                text = decoded.isEmpty ? nil : decoded
            } else {
                text = nil
            }
            part = .file
            sawFile = true
            return .beginFile(name: fileName, mediaType: type.flatMap(Self.mediaType), message: text)
        default:
            throw .unexpectedField
        }
    }

    /// The value of the field `name`, if it appears exactly once.
    private static func unique(_ name: String, in fields: [MultipartScanner.HeaderField]) -> String? {
        let matching = fields.filter { $0.name == name }
        return matching.count == 1 ? matching[0].value : nil
    }

    /// The boundary of a `multipart/form-data` content type: present once, 1 to 70 of RFC
    /// 2046's characters, not ending in a space.
    static func boundary(contentType: String) -> String? {
        guard let parameters = HeaderParameters(contentType), parameters.value.lowercased() == "multipart/form-data",
              let boundary = parameters["boundary"], (1...70).contains(boundary.utf8.count), boundary.last != " ",
              boundary.unicodeScalars.allSatisfy({ $0.isASCII && (Self.boundaryCharacters.contains($0) || $0.properties.isAlphabetic || ("0"..."9").contains($0)) })
        else { return nil }
        return boundary
    }

    private static let boundaryCharacters = Set("'()+_,-./:=? ".unicodeScalars)

    /// A part's media type as the metadata keeps it: `type/subtype` of token characters, else
    /// none (the file is stored all the same).
    private static func mediaType(_ value: String) -> String? {
        let essence = value.split(separator: ";", maxSplits: 1)[0].trimmingCharacters(in: .spacesAndTabs)
        let halves = essence.split(separator: "/", omittingEmptySubsequences: false)
        let token = { (text: Substring) in
            !text.isEmpty && text.count <= 127 && text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "!#$&^_.+-".unicodeScalars.contains($0)) }
        }
        return halves.count == 2 && token(halves[0]) && token(halves[1]) ? essence.lowercased() : nil
    }
}

/// A header value with parameters, `value; key=token; key="quoted string"` (RFC 9110 §5.6.6).
/// Parameter names are case-insensitive; a repeated parameter makes the whole value invalid.
struct HeaderParameters {
    /// The value before the first `;`, trimmed.
    let value: String
    private let parameters: [String: String]

    /// Parses `text`; nil if it is malformed or repeats a parameter.
    init?(_ text: String) {
        var scalars = Substring(text).unicodeScalars[...]
        func skipSpaces() { while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() } }
        var head = ""
        while let first = scalars.first, first != ";" { head.unicodeScalars.append(scalars.removeFirst()) }
        value = head.trimmingCharacters(in: .spacesAndTabs)
        var parameters: [String: String] = [:]
        while scalars.first == ";" {
            scalars.removeFirst()
            skipSpaces()
            if scalars.isEmpty { break }
            var key = ""
            while let first = scalars.first, first != "=", first != ";", first != " ", first != "\t" { key.unicodeScalars.append(scalars.removeFirst()) }
            skipSpaces()
            guard !key.isEmpty, scalars.first == "=" else { return nil }
            scalars.removeFirst()
            skipSpaces()
            var parameter = ""
            if scalars.first == "\"" {
                scalars.removeFirst()
                var closed = false
                while let next = scalars.first {
                    scalars.removeFirst()
                    if next == "\"" { closed = true; break }
                    if next == "\\" {
                        guard let escaped = scalars.first else { return nil }
                        scalars.removeFirst()
                        parameter.unicodeScalars.append(escaped)
                    } else {
                        parameter.unicodeScalars.append(next)
                    }
                }
                guard closed else { return nil }
            } else {
                while let first = scalars.first, first != ";", first != " ", first != "\t" { parameter.unicodeScalars.append(scalars.removeFirst()) }
            }
            skipSpaces()
            guard scalars.isEmpty || scalars.first == ";" else { return nil }
            let lowered = key.lowercased()
            guard parameters[lowered] == nil else { return nil }
            parameters[lowered] = parameter
        }
        guard scalars.isEmpty else { return nil }
        self.parameters = parameters
    }

    /// The parameter `key` (case-insensitive).
    subscript(key: String) -> String? { parameters[key.lowercased()] }
}

extension CharacterSet {
    /// What HTTP calls optional white space around a header value: spaces and tabs.
    static let spacesAndTabs = CharacterSet(charactersIn: " \t")
}
