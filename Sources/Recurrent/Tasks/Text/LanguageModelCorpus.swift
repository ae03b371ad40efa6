import Foundation

/// Texts to learn from: files, or folders of `.txt` files, read as UTF-8.
public struct TextCorpus: Sendable {
    public struct Document: Sendable {
        public var path: String
        public var text: String
    }

    public var documents: [Document]

    public init(documents: [Document]) { self.documents = documents }

    /// Reads every path: a file as it is, a folder as its `.txt` files (in sub-folders too), in
    /// name order. Errors name the path: a folder without `.txt` files, a file that is not UTF-8
    /// (with the line and column of the first bad byte), a corpus with no text at all.
    public init(paths: [String]) throws {
        var documents: [Document] = []
        for path in paths {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                throw RecurrentError.io(path: path, reason: "no such file or folder")
            }
            let files = isFolder.boolValue ? try Self.textFiles(in: path) : [path]
            for file in files { documents.append(Document(path: file, text: try Self.readUTF8(file))) }
        }
        guard documents.contains(where: { !$0.text.allSatisfy(\.isWhitespace) }) else {
            throw RecurrentError.invalidArgument("\(paths.joined(separator: ", ")): the corpus is empty (no text to learn from)")
        }
        self.documents = documents
    }

    static func textFiles(in folder: String) throws -> [String] {
        let url = URL(fileURLWithPath: folder)
        guard let enumerator = FileManager.default.enumerator(at: url, includingPropertiesForKeys: nil) else {
            throw RecurrentError.io(path: folder, reason: "cannot list the folder")
        }
        let files = enumerator.compactMap { $0 as? URL }.filter { $0.pathExtension.lowercased() == "txt" }
            .map { url.appendingPathComponent(String($0.path.dropFirst(url.path.count).drop { $0 == "/" })).path }
            .sorted()
        guard !files.isEmpty else { throw RecurrentError.invalidFile(path: folder, reason: "the folder holds no .txt files") }
        return files
    }

    /// The file's text (`TextFile`: UTF-8, or UTF-16 with a byte-order mark). CR LF line ends
    /// become LF, so a text reads the same whichever system wrote it.
    public static func readUTF8(_ path: String) throws -> String {
        try TextFile.read(path).replacingOccurrences(of: "\r\n", with: "\n")
    }


    /// Whole documents set apart for validation, spread evenly through the name order: document
    /// i is held out when floor((i + 1) F) > floor(i F), so F = 0.1 holds out every tenth. A
    /// single document is split instead: its last fraction F of lines.
    public func split(validationFraction: Double) throws -> (training: [String], validation: [String]) {
        guard (0..<1).contains(validationFraction) else {
            throw RecurrentError.invalidArgument("the validation fraction must be in [0, 1), got \(validationFraction)")
        }
        guard validationFraction > 0 else { return (documents.map(\.text), []) }
        if documents.count == 1 {
            let lines = documents[0].text.split(separator: "\n", omittingEmptySubsequences: false)
            let cut = Int((Double(lines.count) * (1 - validationFraction)).rounded())
            return ([lines[..<cut].joined(separator: "\n")], [lines[cut...].joined(separator: "\n")])
        }
        var training: [String] = [], validation: [String] = []
        for (index, document) in documents.enumerated() {
            let heldOut = (Double(index + 1) * validationFraction).rounded(.down) > (Double(index) * validationFraction).rounded(.down)
            if heldOut { validation.append(document.text) } else { training.append(document.text) }
        }
        if validation.isEmpty, let last = training.popLast() { validation.append(last) }
        return (training, validation)
    }
}

/// One long run of token ids cut into `streams` rows of equal length, read in consecutive
/// windows of `windowLength` steps, as truncated backpropagation through time reads them: window
/// k of row b continues exactly where window k - 1 of row b stopped, so the state carries over.
/// For training (`init(ids:streams:windowLength:)`) the tokens that do not fill the last row are
/// left out; for scoring (`init(covering:streams:windowLength:)`) no token is.
public struct TokenStreams: Sendable {
    /// [streams][length]
    public let rows: [[Int]]
    public let windowLength: Int
    /// What continues the last row after it (its first token is the last row's last one); read
    /// with one row, the last row's state carried in. Empty for training streams.
    public let tail: [Int]

    public init(ids: [Int], streams: Int, windowLength: Int) {
        let length = ids.count / max(1, streams)
        rows = (0..<max(1, streams)).map { Array(ids[($0 * length)..<(($0 + 1) * length)]) }
        self.windowLength = max(1, windowLength)
        tail = []
    }

    /// Rows that overlap by one token, so that each row's first target is the token after the
    /// previous row's last, and a tail with the tokens that do not fill a row: every token but
    /// the first is predicted exactly once. At most `ids.count - 1` rows.
    public init(covering ids: [Int], streams: Int, windowLength: Int) {
        let rowCount = max(1, min(streams, ids.count - 1))
        let predicted = max(0, (ids.count - 1) / rowCount)
        rows = (0..<rowCount).map { row in Array(ids[min(ids.count, row * predicted)..<min(ids.count, row * predicted + predicted + 1)]) }
        self.windowLength = max(1, windowLength)
        tail = ids.count > 1 ? Array(ids[(rowCount * predicted)...]) : []
    }

    public var streams: Int { rows.count }
    /// Targets per row: every token but the first.
    public var predictedPerRow: Int { max(0, (rows.first?.count ?? 0) - 1) }
    public var windowCount: Int { (predictedPerRow + windowLength - 1) / windowLength }
    /// Targets in the rows and the tail.
    public var predictedCount: Int { streams * predictedPerRow + max(0, tail.count - 1) }

    /// Window k: inputs [B, T] (ids as Float, for `Embedding`) and the next tokens, row-major,
    /// [B * T]. The last window may be shorter.
    public func window(_ k: Int) -> (inputs: Tensor, targets: [Int]) {
        window(k, rows: 0..<streams)
    }

    /// Window k of the rows in `part` only (a process's share of the rows): inputs
    /// [part.count, T] and targets [part.count * T].
    public func window(_ k: Int, rows part: Range<Int>) -> (inputs: Tensor, targets: [Int]) {
        let start = k * windowLength, end = min(predictedPerRow, start + windowLength)
        let inputs = rows[part].flatMap { $0[start..<end].map(Float.init) }
        let targets = rows[part].flatMap { $0[(start + 1)...end] }
        return (Tensor(shape: [part.count, end - start], scalars: inputs), targets)
    }
}
