import NIOCore
@testable import SealDropWeb
import Testing

/// A form body with `boundary`: each part is its head lines and its body.
private func formBody(_ parts: [(head: [String], body: [UInt8])], boundary: String = "XyZ") -> [UInt8] {
    var bytes: [UInt8] = []
    for part in parts {
        bytes += Array("--\(boundary)\r\n".utf8)
        for line in part.head { bytes += Array("\(line)\r\n".utf8) }
        bytes += Array("\r\n".utf8) + part.body + Array("\r\n".utf8)
    }
    return bytes + Array("--\(boundary)--\r\n".utf8)
}

private let messagePart = (head: ["Content-Disposition: form-data; name=\"message\""], body: Array("look at page 3".utf8))
private func filePart(_ content: [UInt8], name: String = "leak.pdf") -> (head: [String], body: [UInt8]) {
    (["Content-Disposition: form-data; name=\"file\"; filename=\"\(name)\"", "Content-Type: application/pdf"], content)
}

/// Feeds `bytes` to a form reader in pieces of the sizes `pieces` gives, cycling; returns the
/// steps, with the file's bytes joined.
private func read(_ bytes: [UInt8], pieces: [Int] = [1 << 20], contentType: String = "multipart/form-data; boundary=XyZ",
                  maxHeadBytes: Int = 8192) throws(UploadForm.Failure) -> (begin: UploadForm.Step?, file: [UInt8]) {
    var form = try UploadForm(contentType: contentType, maxHeadBytes: maxHeadBytes, maxHeadLines: 8)
    var begin: UploadForm.Step?
    var file: [UInt8] = []
    var offset = 0, index = 0
    while offset < bytes.count {
        let size = min(pieces[index % pieces.count], bytes.count - offset)
        for step in try form.feed(ByteBuffer(bytes: bytes[offset..<offset + size])) {
            switch step {
            case .beginFile: begin = step
            case .fileBytes(let buffer): file += buffer.readableBytesView
            }
        }
        offset += size
        index += 1
    }
    try form.finish()
    return (begin, file)
}

/// Content full of near-delimiters: CR, CRLF, CRLF--, CRLF--XyZ cut short, at every alignment.
private func trickyContent(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    var bytes: [UInt8] = []
    let traps: [[UInt8]] = [[13], [13, 10], Array("\r\n-".utf8), Array("\r\n--".utf8), Array("\r\n--X".utf8), Array("\r\n--Xy".utf8), Array("--XyZ".utf8)]
    while bytes.count < count {
        if Int.random(in: 0..<4, using: &generator) == 0 {
            bytes += traps.randomElement(using: &generator)!
        } else {
            bytes.append(UInt8.random(in: 0...255, using: &generator))
        }
    }
    return Array(bytes.prefix(count))
}

@Suite("the upload form's multipart reader")
struct MultipartTests {
    @Test("a message and a file, fed whole, a byte at a time and in uneven pieces, give the same file and message")
    func splitsAnywhere() throws {
        var content = trickyContent(300_000)
        // The whole delimiter must not occur in the content: break any that the traps formed.
        let delimiter = Array("\r\n--XyZ".utf8)
        var index = 0
        while index + delimiter.count <= content.count {
            if Array(content[index..<index + delimiter.count]) == delimiter { content[index + 1] = 0 }
            index += 1
        }
        let body = formBody([messagePart, filePart(content)])
        for pieces in [[1 << 20], [1], [7, 1, 4096, 3, 65_536, 2], [65_536]] {
            let (begin, file) = try read(body, pieces: pieces)
            #expect(begin == .beginFile(name: "leak.pdf", mediaType: "application/pdf", message: "look at page 3"))
            #expect(file == content, "pieces \(pieces)")
        }
    }

    @Test("a file without a message, an empty file, and a quoted file name with escapes")
    func variants() throws {
        #expect(try read(formBody([filePart([1, 2, 3])])).begin == .beginFile(name: "leak.pdf", mediaType: "application/pdf", message: nil))
        #expect(try read(formBody([filePart([])])).file == [])
        let quoted = formBody([(["content-disposition: form-data; filename=\"a \\\"b\\\".txt\"; name=file"], [9])])
        #expect(try read(quoted).begin == .beginFile(name: "a \"b\".txt", mediaType: nil, message: nil))
    }

    @Test("the form's order is enforced: file before message, two files, unknown fields, nested forms, no file")
    func formRules() {
        let file = filePart([1, 2, 3])
        #expect(throws: UploadForm.Failure.partAfterFile) { try read(formBody([file, messagePart])) }
        #expect(throws: UploadForm.Failure.partAfterFile) { try read(formBody([file, file])) }
        #expect(throws: UploadForm.Failure.unexpectedField) { try read(formBody([messagePart, messagePart, file])) }
        #expect(throws: UploadForm.Failure.unexpectedField) { try read(formBody([(["Content-Disposition: form-data; name=\"other\""], [1]), file])) }
        #expect(throws: UploadForm.Failure.unexpectedField) { try read(formBody([(["Content-Disposition: form-data; name=\"file\""], [1])])) }
        #expect(throws: UploadForm.Failure.nested) {
            try read(formBody([(["Content-Disposition: form-data; name=\"file\"; filename=\"a\"", "Content-Type: multipart/mixed; boundary=q"], Array("--q--".utf8))]))
        }
        #expect(throws: UploadForm.Failure.noFile) { try read(formBody([messagePart])) }
        #expect(throws: UploadForm.Failure.noFile) { try read(formBody([filePart([], name: "")])) }
        #expect(throws: UploadForm.Failure.badDisposition) { try read(formBody([(["Content-Type: text/plain"], [1])])) }
        #expect(throws: UploadForm.Failure.badDisposition) { try read(formBody([(["Content-Disposition: attachment; name=\"file\"; filename=\"a\""], [1])])) }
        #expect(throws: UploadForm.Failure.badDisposition) {
            try read(formBody([(["Content-Disposition: form-data; name=\"file\"; name=\"file\"; filename=\"a\""], [1])]))
        }
        #expect(throws: UploadForm.Failure.badMessage) { try read(formBody([(messagePart.head, [0xFF, 0xFE]), file])) }
        #expect(throws: UploadForm.Failure.messageTooLong) {
            try read(formBody([(messagePart.head, Array(repeating: 65, count: UploadForm.maxMessageBytes + 1)), file]))
        }
    }

    @Test("malformed bodies: a preamble, a cut-off body, a bad delimiter line, data after the end, oversized or malformed part heads")
    func malformed() {
        let good = formBody([messagePart, filePart([1, 2, 3])])
        #expect(throws: UploadForm.Failure.malformed(.noLeadingDelimiter)) { try read(Array("preamble\r\n".utf8) + good) }
        #expect(throws: UploadForm.Failure.malformed(.truncated)) { try read(Array(good.dropLast(4))) }
        #expect(throws: UploadForm.Failure.malformed(.truncated)) { try read([]) }
        #expect(throws: UploadForm.Failure.malformed(.badDelimiterLine)) { try read(Array("--XyZ  \r\n".utf8) + good) }
        #expect(throws: UploadForm.Failure.malformed(.dataAfterEnd)) { try read(good + Array(repeating: 65, count: 2000)) }
        let longHead = (head: ["Content-Disposition: form-data; name=\"file\"; filename=\"\(String(repeating: "a", count: 9000))\""], body: [UInt8]([1]))
        #expect(throws: UploadForm.Failure.malformed(.headTooLarge)) { try read(formBody([longHead])) }
        #expect(throws: UploadForm.Failure.malformed(.headTooLarge)) { try read(formBody([longHead]), pieces: [1]) }
        let manyLines = (head: filePart([1]).head + (0..<10).map { "X-\($0): y" }, body: [UInt8]([1]))
        #expect(throws: UploadForm.Failure.malformed(.tooManyHeadLines)) { try read(formBody([manyLines])) }
        #expect(throws: UploadForm.Failure.malformed(.badHeadLine)) { try read(formBody([(["no colon here"], [1])])) }
        #expect(throws: UploadForm.Failure.malformed(.badHeadLine)) { try read(formBody([([" folded: line"], [1])])) }
    }

    @Test("the boundary: present once, 1 to 70 allowed characters, quoted or not")
    func boundaries() {
        #expect(UploadForm.boundary(contentType: "multipart/form-data; boundary=----WebKitFormBoundaryAbC123") == "----WebKitFormBoundaryAbC123")
        #expect(UploadForm.boundary(contentType: "Multipart/Form-Data; BOUNDARY=\"a b'c\"") == "a b'c")
        #expect(UploadForm.boundary(contentType: "multipart/form-data") == nil)
        #expect(UploadForm.boundary(contentType: "multipart/form-data; boundary=") == nil)
        #expect(UploadForm.boundary(contentType: "multipart/form-data; boundary=a; boundary=b") == nil)
        #expect(UploadForm.boundary(contentType: "multipart/form-data; boundary=\(String(repeating: "a", count: 71))") == nil)
        #expect(UploadForm.boundary(contentType: "multipart/form-data; boundary=a\u{7F}b") == nil)
        #expect(UploadForm.boundary(contentType: "multipart/mixed; boundary=abc") == nil)
        #expect(UploadForm.boundary(contentType: "application/x-www-form-urlencoded") == nil)
        #expect(throws: UploadForm.Failure.notAForm) { try read(formBody([filePart([1])]), contentType: "text/plain") }
    }
}
