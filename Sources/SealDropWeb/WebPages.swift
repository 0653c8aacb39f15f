import HTTPTypes
import NIOCore

/// A response the upload page sends: status, type, body, and a same-origin `Location` for the
/// redirect to the receipt.
struct WebResponse {
    var status: HTTPResponse.Status
    var contentType = "text/html; charset=utf-8"
    var body: ByteBuffer
    var location: String?
}

/// Why the page refused a request; each has its status and its page.
enum WebRefusal: Error, Equatable {
    case tooLarge
    case messageTooLong
    case busy
    case shuttingDown
    case full
    case malformed(UploadForm.Failure?)
    case slow
    case notFound
    case methodNotAllowed
    case serverError

    var status: HTTPResponse.Status {
        switch self {
        case .tooLarge, .messageTooLong: .contentTooLarge
        case .busy, .shuttingDown: .serviceUnavailable
        case .full: HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
        case .malformed: .badRequest
        case .slow: .requestTimeout
        case .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .serverError: .internalServerError
        }
    }
}

/// The pages, rendered from ``WebTexts``: the form, the receipt, and a page for each refusal.
/// No scripts, no external resources, one small style sheet from the same origin; every text
/// is escaped.
struct WebPages: Sendable {
    let texts: WebTexts
    /// The largest upload the drop accepts.
    let maxBodyBytes: UInt64

    /// Above this size the form points to `sealdrop send`, which resumes a broken upload.
    static let resumableAdvice: UInt64 = 200_000_000

    /// The form.
    func form() -> WebResponse {
        let t = texts
        let size = t.sizeText
            .replacingPlaceholder("max", with: Self.size(maxBodyBytes))
            .replacingPlaceholder("time", with: Self.duration(seconds: maxBodyBytes / 1_000_000))
            .replacingPlaceholder("command", with: Self.size(min(Self.resumableAdvice, maxBodyBytes / 2)))
        let html = """
            <p>\(escape(t.formIntro))</p>
            <form method="post" action="/upload" enctype="multipart/form-data">
            <label for="message">\(escape(t.messageLabel))</label>
            <textarea id="message" name="message" rows="6" maxlength="\(UploadForm.maxMessageBytes / 4)"></textarea>
            <label for="file">\(escape(t.fileLabel))</label>
            <input id="file" type="file" name="file" required>
            <button type="submit">\(escape(t.sendButton))</button>
            </form>
            <h2>\(escape(t.nextHeading))</h2>
            <ol>\(t.nextSteps.map { "<li>\(escape($0))</li>" }.joined())</ol>
            <h2>\(escape(t.sizeHeading))</h2>
            <p>\(escape(size))</p>
            <h2>\(escape(t.limitsHeading))</h2>
            <ul>\(t.limits.map { "<li>\(escape($0))</li>" }.joined())</ul>
            <p><a href="/keys">\(escape(t.keysLink))</a></p>
            """
        return page(.ok, title: t.formTitle, html)
    }

    /// The receipt page for submission `receipt` (already checked to be an ID).
    func receipt(_ receipt: String) -> WebResponse {
        let t = texts
        let html = """
            <p>\(escape(t.receiptIntro))</p>
            <p>\(escape(t.receiptLabel))</p>
            <p class="receipt" id="receipt">\(escape(receipt))</p>
            <p>\(escape(t.receiptPurpose))</p>
            <p><strong>\(escape(t.receiptClose))</strong></p>
            """
        return page(.ok, title: t.receiptTitle, html)
    }

    /// The page for `refusal`.
    func refusal(_ refusal: WebRefusal) -> WebResponse {
        let t = texts
        let (title, text, stored): (String, String, Bool) = switch refusal {
        case .tooLarge: (t.tooLargeTitle, t.tooLargeText.replacingPlaceholder("max", with: Self.size(maxBodyBytes)), true)
        case .messageTooLong: (t.tooLargeTitle, t.messageTooLongText, true)
        case .busy: (t.busyTitle, t.busyText, true)
        case .shuttingDown: (t.busyTitle, t.shuttingDownText, true)
        case .full: (t.fullTitle, t.fullText, true)
        case .malformed(let failure): (t.malformedTitle, reason(failure), true)
        case .slow: (t.slowTitle, t.slowText, true)
        case .notFound: (t.notFoundTitle, t.notFoundText, false)
        case .methodNotAllowed: (t.methodTitle, t.methodText, false)
        case .serverError: (t.serverErrorTitle, t.serverErrorText, true)
        }
        let html = """
            <p>\(escape(text))</p>
            \(stored ? "<p>\(escape(t.nothingStored))</p>" : "")
            <p><a href="/">\(escape(t.backLink))</a></p>
            """
        return page(refusal.status, title: title, html)
    }

    private func reason(_ failure: UploadForm.Failure?) -> String {
        let t = texts
        return switch failure {
        case nil: t.badRequest
        case .notAForm?: t.noForm
        case .malformed(let why)?:
            switch why {
            case .headTooLarge, .tooManyHeadLines, .badHeadLine: t.badPartHead
            case .noLeadingDelimiter, .badDelimiterLine, .dataAfterEnd, .truncated: t.badBody
            }
        case .badDisposition?: t.badPartHead
        case .unexpectedField?: t.unexpectedField
        case .partAfterFile?: t.partAfterFile
        case .nested?: t.nested
        case .noFile?: t.noFile
        case .messageTooLong?: t.messageTooLongText
        case .badMessage?: t.badMessage
        }
    }

    private func page(_ status: HTTPResponse.Status, title: String, _ content: String) -> WebResponse {
        let html = """
            <!doctype html>
            <html lang="\(escape(texts.language))">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="no-referrer">
            <title>\(escape(title))</title>
            <link rel="stylesheet" href="/style.css">
            </head>
            <body>
            <main>
            <h1>\(escape(title))</h1>
            \(content)
            </main>
            </body>
            </html>

            """
        return WebResponse(status: status, body: ByteBuffer(string: html))
    }

    /// The style sheet: system fonts, one column, readable on a phone.
    static let styleSheet = """
        html{font-family:system-ui,sans-serif;line-height:1.5;color:#1a1a1a;background:#fdfdfb}
        main{max-width:40em;margin:0 auto;padding:1em}
        h1{font-size:1.6em;line-height:1.2}h2{font-size:1.2em;margin-top:1.6em}
        label{display:block;font-weight:bold;margin-top:1em}
        textarea,input{display:block;width:100%;box-sizing:border-box;font:inherit;margin-top:.3em}
        button{margin-top:1.2em;font:inherit;font-weight:bold;padding:.5em 2em}
        .receipt{font-family:monospace;font-size:1.4em;background:#eee;padding:.4em;word-break:break-all}
        a{color:#0645ad}

        """

    /// The style sheet as a response.
    static func styleResponse() -> WebResponse {
        WebResponse(status: .ok, contentType: "text/css; charset=utf-8", body: ByteBuffer(string: styleSheet))
    }

    /// A size in the largest unit that keeps a whole number or one decimal: `8 GB`, `500 MB`.
    static func size(_ bytes: UInt64) -> String {
        for (unit, name) in [(UInt64(1) << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")] where bytes >= unit {
            let value = Double(bytes) / Double(unit)
            return value == value.rounded() ? "\(Int(value)) \(name)" : "\((value * 10).rounded() / 10) \(name)"
        }
        return "\(bytes) bytes"
    }

    /// A duration in words: `about 2 hours`, `about 17 minutes`.
    static func duration(seconds: UInt64) -> String {
        if seconds >= 5400 { return "\((seconds + 1800) / 3600) hours" }
        if seconds >= 90 { return "\((seconds + 30) / 60) minutes" }
        return "a minute"
    }
}

/// The text with `&`, `<`, `>`, `"` and `'` replaced by character references.
func escape(_ text: String) -> String {
    var escaped = ""
    escaped.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": escaped += "&amp;"
        case "<": escaped += "&lt;"
        case ">": escaped += "&gt;"
        case "\"": escaped += "&quot;"
        case "'": escaped += "&#39;"
        default: escaped.unicodeScalars.append(scalar)
        }
    }
    return escaped
}

extension String {
    /// The text with `{name}` replaced by `value`.
    func replacingPlaceholder(_ name: String, with value: String) -> String {
        replacing("{\(name)}", with: value)
    }
}
