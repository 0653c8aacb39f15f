/// Every word the upload page shows, in one place, so that a translation is one more value of
/// this type. Texts are plain (``WebPages`` escapes them); a `{…}` placeholder is filled in
/// where the text is used.
public struct WebTexts: Sendable {
    /// The page's language, for `<html lang>`.
    var language: String

    var formTitle: String
    var formIntro: String
    var messageLabel: String
    var fileLabel: String
    var sendButton: String
    var nextHeading: String
    var nextSteps: [String]
    var sizeHeading: String
    /// `{max}`: the largest upload; `{time}`: how long it takes at 1 MB/s; `{command}`: the size
    /// above which `sealdrop send` is the better choice.
    var sizeText: String
    var limitsHeading: String
    var limits: [String]
    var keysLink: String

    var receiptTitle: String
    var receiptIntro: String
    var receiptLabel: String
    var receiptPurpose: String
    var receiptClose: String

    var backLink: String
    var nothingStored: String

    var tooLargeTitle: String
    /// `{max}`: the largest upload.
    var tooLargeText: String
    var messageTooLongText: String
    var busyTitle: String
    var busyText: String
    var shuttingDownText: String
    var fullTitle: String
    var fullText: String
    var malformedTitle: String
    var slowTitle: String
    var slowText: String
    var notFoundTitle: String
    var notFoundText: String
    var methodTitle: String
    var methodText: String
    var serverErrorTitle: String
    var serverErrorText: String

    /// Why a form was refused, in the source's words.
    var noForm: String
    var badBody: String
    var badPartHead: String
    var unexpectedField: String
    var partAfterFile: String
    var nested: String
    var noFile: String
    var badMessage: String
    var badRequest: String

    /// English, the page's only language so far.
    public static let english = WebTexts(
        language: "en",
        formTitle: "Send a file to the newsroom",
        formIntro: "Choose a file, add a message if you like, and press Send. The file is sealed to the newsroom's keys the moment it arrives: this server stores it but cannot read it, and it keeps no record of who sent it or from where.",
        messageLabel: "A message for the newsroom (optional)",
        fileLabel: "The file",
        sendButton: "Send",
        nextHeading: "What happens next",
        nextSteps: [
            "Keep this tab open while the file is sent. A large file takes a while; the browser shows its progress at the bottom of the window.",
            "When the file is stored safely, a receipt appears. Write it down: it tells the newsroom which file is yours.",
            "Then close the tab, and the browser when you are done.",
        ],
        sizeHeading: "Large files",
        sizeText: "This drop accepts files up to {max}. Over Tor a file moves at about 1 MB each second on a good day, so the largest file takes about {time}. If the connection breaks, this page must start again from the beginning. Above {command}, use the command-line tool sealdrop send instead: it seals the file on your own computer and carries on where it stopped after a break.",
        limitsHeading: "What this page cannot protect you from",
        limits: [
            "This page sends your file to the server, which seals it as it arrives. Someone who seized the server could change it to read what is sent after that. sealdrop send seals the file on your own computer instead.",
            "Check that the address bar shows exactly the onion address the newsroom published, letter for letter.",
            "The file's name is sent with it. Rename the file first if its name says something about you.",
            "Files carry hidden details: authors, cameras, places, times. Remove them first, for example with Metadata Cleaner in Tails.",
        ],
        keysLink: "The newsroom's current keys",
        receiptTitle: "Your file is stored",
        receiptIntro: "The file arrived, was sealed to the newsroom's keys and is safely on disk.",
        receiptLabel: "Your receipt:",
        receiptPurpose: "Write it down and keep it private. The newsroom's copy carries this name: with it you can tell the newsroom which file was yours, and show that you sent it.",
        receiptClose: "Close this tab now. Reloading this page does not send the file again.",
        backLink: "Back to the form",
        nothingStored: "Nothing was stored.",
        tooLargeTitle: "The file is too large",
        tooLargeText: "This drop accepts files up to {max}. Split the file into smaller ones, or use sealdrop send.",
        messageTooLongText: "The message is too long: keep it under 32 KB, or put it in a file and send that.",
        busyTitle: "The drop is busy",
        busyText: "Too many uploads are in progress. Try again in a few minutes.",
        shuttingDownText: "The drop is restarting. Try again in a few minutes.",
        fullTitle: "The drop has no room",
        fullText: "The drop cannot take this file now. Try again later, or reach the newsroom another way.",
        malformedTitle: "The upload could not be read",
        slowTitle: "The upload was too slow",
        slowText: "The connection sent nothing, or too little, for too long. Try again; a new Tor circuit for this site may be faster.",
        notFoundTitle: "No such page",
        notFoundText: "This drop has a form, a receipt page and its keys, nothing else.",
        methodTitle: "Not allowed",
        methodText: "This page takes only the form's requests.",
        serverErrorTitle: "Something went wrong",
        serverErrorText: "The drop could not store the file. Try again later.",
        noForm: "The request was not the upload form.",
        badBody: "The form's data was broken or cut short.",
        badPartHead: "A part of the form had a header too long or malformed.",
        unexpectedField: "The form had a field this page does not ask for, or one twice.",
        partAfterFile: "The form had something after the file. The message must come before the file, and only one file can be sent at a time.",
        nested: "The form held a form inside it.",
        noFile: "No file was chosen.",
        badMessage: "The message was not readable text.",
        badRequest: "The browser's request was malformed."
    )
}
