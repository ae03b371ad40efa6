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

/// A speech corpus listing: a TSV or CSV file with a header that names the audio and the
/// transcript columns: `path` and `text`, or as corpora ship them, Common Voice's `path` and
/// `sentence` (its TSVs as they are, with the clips in `clips/` beside them) and DeepSpeech's
/// `wav_filename` and `transcript` (other columns are ignored); or a LibriSpeech folder (every
/// `*.trans.txt` under it: "ID TEXT" lines beside `ID.flac`). Paths are relative to the
/// manifest's folder (or its `clips/` folder, Common Voice's), or to `audioRoot` when given.
///
/// TSV (a `.tsv` name, or a tab in the header line) is split on tabs only, without quoting, as
/// Common Voice's files need (their sentences hold bare quotes); anything else is read as CSV
/// (RFC 4180).
public struct SpeechManifest: Sendable {
    public let path: String
    public let utterances: [Utterance]

    public init(contentsOf path: String, audioRoot: String? = nil) throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            self.path = path
            utterances = try Self.libriSpeechUtterances(in: path)
            return
        }
        let text = try TextFile.read(path)
        let firstLine = text.prefix { $0 != "\n" && $0 != "\r\n" }
        let (header, rows) = path.lowercased().hasSuffix(".tsv") || firstLine.contains("\t")
            ? Self.tabSeparated(text) : try Self.commaSeparated(text, path: path)
        func column(_ names: [String]) throws -> Int {
            guard let index = names.lazy.compactMap({ header.firstIndex(of: $0) }).first else {
                throw RecurrentError.invalidFile(path: path,
                    reason: "no \"\(names[0])\" column; a manifest's header needs \"path\" and \"text\" (or Common Voice's \"path\" "
                        + "and \"sentence\", or DeepSpeech's \"wav_filename\" and \"transcript\"; it has "
                        + header.map { "\"\($0)\"" }.joined(separator: ", ") + ")")
            }
            return index
        }
        let (pathColumn, textColumn) = (try column(["path", "wav_filename"]), try column(["text", "sentence", "transcript"]))
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        let base = audioRoot ?? folder.path
        // Common Voice's TSVs name clips that sit in clips/ beside them.
        let clips = folder.appendingPathComponent("clips").path
        var utterances: [Utterance] = []
        for (fields, line) in rows {
            guard fields.count == header.count else {
                throw RecurrentError.invalidFile(path: path, reason: "line \(line): \(fields.count) fields, but the header has \(header.count)")
            }
            let audio = fields[pathColumn].trimmingCharacters(in: .whitespaces)
            guard !audio.isEmpty else { throw RecurrentError.invalidFile(path: path, reason: "line \(line): the path is empty") }
            var resolved = audio.hasPrefix("/") ? audio : URL(fileURLWithPath: base).appendingPathComponent(audio).path
            if audioRoot == nil, !audio.hasPrefix("/"), !FileManager.default.fileExists(atPath: resolved) {
                let inClips = URL(fileURLWithPath: clips).appendingPathComponent(audio).path
                if FileManager.default.fileExists(atPath: inClips) { resolved = inClips }
            }
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

    /// The utterances of a LibriSpeech folder (a split such as `train-clean-100`, or any folder
    /// above or below it): every `SPEAKER-CHAPTER.trans.txt` under it, in path order, each line "ID TEXT" naming
    /// `ID.flac` (or `ID.wav`) beside it.
    static func libriSpeechUtterances(in folder: String) throws -> [Utterance] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else {
            throw RecurrentError.io(path: folder, reason: "cannot list the folder")
        }
        let transcripts = walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".trans.txt") }.sorted()
        guard !transcripts.isEmpty else {
            throw RecurrentError.invalidFile(path: folder, reason: "is a folder without LibriSpeech transcripts (*.trans.txt); give a manifest file")
        }
        var utterances: [Utterance] = []
        for relative in transcripts {
            let file = URL(fileURLWithPath: folder).appendingPathComponent(relative)
            let directory = file.deletingLastPathComponent()
            for (index, rawLine) in try TextFile.read(file.path).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !line.isEmpty else { continue }
                let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
                guard parts.count == 2 else {
                    throw RecurrentError.invalidFile(path: file.path, reason: "line \(index + 1): expected an utterance id and its transcript")
                }
                let candidates = ["flac", "wav"].map { directory.appendingPathComponent(parts[0] + "." + $0).path }
                guard let audio = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                    throw RecurrentError.invalidFile(path: file.path, reason: "line \(index + 1): no audio file \(candidates[0])")
                }
                utterances.append(Utterance(audioPath: audio, text: parts[1], line: index + 1))
            }
        }
        guard !utterances.isEmpty else { throw RecurrentError.invalidFile(path: folder, reason: "lists no utterances") }
        return utterances
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
