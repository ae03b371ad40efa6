import Foundation

/// Labelled multichannel sequences of varying lengths (sensor recordings: accelerometer and
/// gyroscope axes, ECG leads), as read from a `.ts` file (`TSFile`) or from a CSV with one step
/// per row and a sequence id column. Each sequence keeps its own length.
public struct MultichannelSequences: Sendable {
    public let path: String
    /// The channels' names: the CSV's columns, or "1", "2", ... for a `.ts` file.
    public var channels: [String]
    /// Each sequence's values, step-major: channel c of step t at `t * channels.count + c`.
    public var series: [[Float]] = []
    /// Each sequence's label; empty when read without labels.
    public var labels: [String] = []
    /// The 1-based line where each sequence starts.
    public var lineNumbers: [Int] = []

    public init(path: String, channels: [String]) {
        self.path = path
        self.channels = channels
    }

    public var count: Int { series.count }
    public var lengths: [Int] { series.map { $0.count / max(1, channels.count) } }

    /// Reads a CSV of one step per row: rows with the same value in `sequenceColumn` form one
    /// sequence, in file order (they need not be adjacent); its channels are `channels`, or
    /// every column but the id and the label. With `labelColumn`, every row of a sequence must
    /// carry the same label; sequences labelled in `excludedLabels` are left out.
    public init(table: CSVTable, sequenceColumn: String, labelColumn: String?, channels: [String] = [],
                excludedLabels: Set<String> = []) throws {
        let idIndex = try table.columnIndex(sequenceColumn)
        let labelIndex = try labelColumn.map(table.columnIndex)
        let names = channels.isEmpty
            ? table.header.enumerated().filter { $0.offset != idIndex && $0.offset != labelIndex }.map(\.element) : channels
        guard !names.isEmpty else {
            throw RecurrentError.invalidFile(path: table.path, reason: "no channel columns beside \"\(sequenceColumn)\"\(labelColumn.map { " and \"\($0)\"" } ?? "")")
        }
        let channelIndices = try names.map(table.columnIndex)
        self.init(path: table.path, channels: names)
        var sequenceOf: [String: Int] = [:], excludedIDs: Set<String> = []
        for (row, fields) in table.rows.enumerated() {
            let id = fields[idIndex].trimmingCharacters(in: .whitespaces)
            guard !id.isEmpty else {
                throw RecurrentError.invalidFile(path: path, reason: "\(table.location(row: row, column: idIndex)): empty sequence id")
            }
            if let labelIndex {
                let label = fields[labelIndex].trimmingCharacters(in: .whitespaces)
                guard !label.isEmpty else {
                    throw RecurrentError.invalidFile(path: path, reason: "\(table.location(row: row, column: labelIndex)): empty label")
                }
                if excludedLabels.contains(label) { excludedIDs.insert(id) }
                if let s = sequenceOf[id], labels[s] != label {
                    throw RecurrentError.invalidFile(path: path, reason: "\(table.location(row: row, column: labelIndex)): sequence \"\(id)\" "
                        + "is labelled \"\(label)\" here but \"\(labels[s])\" on line \(lineNumbers[s]): a sequence has one label")
                }
                if sequenceOf[id] == nil { labels.append(label) }
            }
            if sequenceOf[id] == nil {
                sequenceOf[id] = series.count
                series.append([])
                lineNumbers.append(table.lineNumbers[row])
            }
            let s = sequenceOf[id] ?? 0
            for column in channelIndices { series[s].append(try table.number(row: row, column: column)) }
        }
        if !excludedIDs.isEmpty {
            let kept = sequenceOf.filter { !excludedIDs.contains($0.key) }.map(\.value).sorted()
            series = kept.map { series[$0] }
            labels = kept.map { labels[$0] }
            lineNumbers = kept.map { lineNumbers[$0] }
        }
    }
}

extension CSVTable {
    /// The number in a cell (`numericCell`'s rule); a missing marker is an error here too,
    /// naming the line and column.
    func number(row: Int, column: Int) throws -> Float {
        guard let value = try numericCell(row: row, column: column) else {
            throw RecurrentError.invalidFile(path: path, reason: "\(location(row: row, column: column)): missing value")
        }
        return Float(value)
    }
}
