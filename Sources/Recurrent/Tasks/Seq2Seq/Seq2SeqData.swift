import Foundation

/// How a file of sequence pairs is written.
public enum Seq2SeqFormat: String, Codable, Sendable, CaseIterable {
    /// `source<TAB>target` per line.
    case tsv
    /// The CMU Pronouncing Dictionary: `word PH1 PH2 ...`, `word(2)` for another pronunciation
    /// of the same word, text after `#` a comment.
    case cmudict
}

/// Whether the stress digits of CMUdict vowels (AH0, AW1, ...) are kept as part of the phoneme.
public enum StressMarks: String, Codable, Sendable, CaseIterable {
    case keep
    /// AH0, AH1 and AH2 all read as AH: the 39-phoneme set published G2P figures use.
    case drop
}

/// Source and target texts read from a file, with the line each came from.
public struct Seq2SeqPairs: Sendable {
    public let path: String
    public var sources: [String] = []
    public var targets: [String] = []
    /// The 1-based line of each pair.
    public var lineNumbers: [Int] = []

    public var count: Int { sources.count }

    public init(path: String, sources: [String], targets: [String], lineNumbers: [Int]) {
        self.path = path
        self.sources = sources
        self.targets = targets
        self.lineNumbers = lineNumbers
    }

    /// Reads `path` in `format`. Blank lines (and, in cmudict, comment-only lines) are skipped.
    /// A tsv line without a TAB, an empty source or target, or a cmudict word without phonemes is
    /// an error naming the file, the line and the column.
    public init(contentsOf path: String, format: Seq2SeqFormat, stress: StressMarks = .keep) throws {
        self.path = path
        let text = try TextCorpus.readUTF8(path)
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            switch format {
            case .tsv: try readTSV(line, lineNumber: lineNumber)
            case .cmudict: try readDictionaryEntry(line, lineNumber: lineNumber, stress: stress)
            }
        }
        guard !sources.isEmpty else { throw RecurrentError.invalidFile(path: path, reason: "no pairs to read (the file is empty)") }
    }

    private mutating func readTSV(_ line: Substring, lineNumber: Int) throws {
        if line.allSatisfy(\.isWhitespace) { return }
        guard let tab = line.firstIndex(of: "\t") else {
            throw RecurrentError.invalidFile(path: path,
                reason: "line \(lineNumber): no TAB between source and target (expected source<TAB>target)")
        }
        let source = line[..<tab].trimmingCharacters(in: .whitespaces)
        let target = line[line.index(after: tab)...].trimmingCharacters(in: .whitespacesAndNewlines)
        let targetColumn = line.distance(from: line.startIndex, to: tab) + 2
        guard !source.isEmpty else { throw RecurrentError.invalidFile(path: path, reason: "line \(lineNumber), column 1: empty source") }
        guard !target.isEmpty else {
            throw RecurrentError.invalidFile(path: path, reason: "line \(lineNumber), column \(targetColumn): empty target")
        }
        append(source, target, lineNumber)
    }

    private mutating func readDictionaryEntry(_ line: Substring, lineNumber: Int, stress: StressMarks) throws {
        let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let fields = content.split(whereSeparator: \.isWhitespace)
        guard var word = fields.first.map(String.init) else { return }
        // "word(2)": another pronunciation of the same word.
        if word.hasSuffix(")"), let open = word.lastIndex(of: "("), open > word.startIndex,
           word[word.index(after: open)..<word.index(before: word.endIndex)].allSatisfy(\.isNumber) {
            word = String(word[..<open])
        }
        var phonemes = fields.dropFirst().map(String.init)
        guard !phonemes.isEmpty else {
            let column = content.distance(from: content.startIndex, to: fields[0].endIndex) + 1
            throw RecurrentError.invalidFile(path: path, reason: "line \(lineNumber), column \(column): \"\(word)\" has no phonemes")
        }
        if stress == .drop { phonemes = phonemes.map { String($0.reversed().drop(while: \.isNumber).reversed()) } }
        append(word, phonemes.joined(separator: " "), lineNumber)
    }

    private mutating func append(_ source: String, _ target: String, _ line: Int) {
        sources.append(source)
        targets.append(target)
        lineNumbers.append(line)
    }

    /// The pairs grouped by source, in order of first appearance: each distinct source with the
    /// indices of all its pairs (its references).
    public func groupedBySource() -> [(source: String, pairs: [Int])] {
        var order: [String] = [], groups: [String: [Int]] = [:]
        for (index, source) in sources.enumerated() {
            if groups[source] == nil { order.append(source) }
            groups[source, default: []].append(index)
        }
        return order.map { ($0, groups[$0] ?? []) }
    }
}
