import Foundation

/// One recording and what is said in it.
public struct Utterance: Sendable, Equatable {
    /// The audio file, resolved against the manifest's folder or the audio root.
    public var audioPath: String
    /// The transcript as the manifest gives it.
    public var text: String
    /// The manifest's line, for messages.
    public var line: Int
}

/// A speech corpus listing: a TSV or CSV file with a header that holds `path` and `text`
/// columns (the convention of Common Voice and LibriSpeech manifests; other columns are
/// ignored). Paths are relative to the manifest's folder, or to `audioRoot` when given.
///
/// TSV (a `.tsv` name, or a tab in the header line) is split on tabs only, without quoting, as
/// Common Voice's files need (their sentences hold bare quotes); anything else is read as CSV
/// (RFC 4180).
public struct SpeechManifest: Sendable {
    public let path: String
    public let utterances: [Utterance]

    public init(contentsOf path: String, audioRoot: String? = nil) throws {
        let text = try TextFile.read(path)
        let firstLine = text.prefix { $0 != "\n" && $0 != "\r\n" }
        let (header, rows) = path.lowercased().hasSuffix(".tsv") || firstLine.contains("\t")
            ? Self.tabSeparated(text) : try Self.commaSeparated(text, path: path)
        func column(_ name: String) throws -> Int {
            guard let index = header.firstIndex(of: name) else {
                throw RecurrentError.invalidFile(path: path,
                    reason: "no \"\(name)\" column; a manifest's header needs \"path\" and \"text\" (it has "
                        + header.map { "\"\($0)\"" }.joined(separator: ", ") + ")")
            }
            return index
        }
        let (pathColumn, textColumn) = (try column("path"), try column("text"))
        let base = audioRoot ?? URL(fileURLWithPath: path).deletingLastPathComponent().path
        var utterances: [Utterance] = []
        for (fields, line) in rows {
            guard fields.count == header.count else {
                throw RecurrentError.invalidFile(path: path, reason: "line \(line): \(fields.count) fields, but the header has \(header.count)")
            }
            let audio = fields[pathColumn].trimmingCharacters(in: .whitespaces)
            guard !audio.isEmpty else { throw RecurrentError.invalidFile(path: path, reason: "line \(line): the path is empty") }
            let resolved = audio.hasPrefix("/") ? audio : URL(fileURLWithPath: base).appendingPathComponent(audio).path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: resolved, isDirectory: &isDirectory), !isDirectory.boolValue else {
                throw RecurrentError.invalidFile(path: path, reason: "line \(line): no audio file \(resolved)")
            }
            utterances.append(Utterance(audioPath: resolved, text: fields[textColumn], line: line))
        }
        guard !utterances.isEmpty else { throw RecurrentError.invalidFile(path: path, reason: "lists no utterances") }
        self.path = path
        self.utterances = utterances
    }

    /// The header and the data rows with their 1-based lines; blank lines are skipped.
    static func tabSeparated(_ text: String) -> (header: [String], rows: [(fields: [String], line: Int)]) {
        var header: [String]? = nil
        var rows: [(fields: [String], line: Int)] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if header == nil { header = fields.map { $0.trimmingCharacters(in: .whitespaces) } } else { rows.append((fields, index + 1)) }
        }
        return (header ?? [], rows)
    }

    static func commaSeparated(_ text: String, path: String) throws -> (header: [String], rows: [(fields: [String], line: Int)]) {
        let table = try CSVTable(text: text, path: path)
        return (table.header, Array(zip(table.rows, table.lineNumbers)))
    }
}
