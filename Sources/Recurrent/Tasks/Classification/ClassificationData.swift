import Foundation

/// How a classifier reads a CSV: which column holds the label, and whether each row is a text
/// (one column, tokenized) or a numeric sequence (the feature columns in order, `featuresPerStep`
/// values per step).
public struct ClassificationInput: Codable, Equatable, Sendable {
    public var labelColumn: String
    /// The text column, for text; nil for numeric sequences.
    public var textColumn: String?
    public var tokenizer: Tokenizer?
    /// The feature columns in order, for numeric sequences (all columns but the label's when
    /// training); empty for text.
    public var featureColumns: [String]
    public var featuresPerStep: Int
    /// Rows with these labels are left out, in training and in evaluation alike.
    public var excludedLabels: [String]

    public static func text(labelColumn: String, textColumn: String, level: Tokenizer.Level = .word,
                            excludedLabels: [String] = []) -> ClassificationInput {
        ClassificationInput(labelColumn: labelColumn, textColumn: textColumn, tokenizer: Tokenizer(level: level, lowercase: true),
                            featureColumns: [], featuresPerStep: 1, excludedLabels: excludedLabels)
    }

    /// Numeric sequences; `featureColumns` empty means every column but the label's.
    public static func features(labelColumn: String, featuresPerStep: Int, featureColumns: [String] = [],
                                excludedLabels: [String] = []) -> ClassificationInput {
        ClassificationInput(labelColumn: labelColumn, textColumn: nil, tokenizer: nil, featureColumns: featureColumns,
                            featuresPerStep: featuresPerStep, excludedLabels: excludedLabels)
    }

    public var isText: Bool { textColumn != nil }
}

/// The rows of a CSV as a classifier sees them, before any vocabulary or scaling: tokens or
/// numeric steps, the label of each row (when the file has labels), and where each row came from.
public struct ClassificationRows: Sendable {
    public let path: String
    /// Tokens of each row's text (text input).
    public var tokens: [[String]] = []
    /// Each row's values, `featuresPerStep` per step, in column order (numeric input).
    public var values: [[Float]] = []
    /// Each row's label, when read with labels.
    public var labels: [String] = []
    /// The 1-based file line of each kept row.
    public var lineNumbers: [Int] = []
    /// The input with its feature columns resolved.
    public var input: ClassificationInput

    public var count: Int { lineNumbers.count }

    /// Reads `table` under `input`. With `requireLabels`, a missing label column or an empty
    /// label is an error; without, labels are read when the column exists. Excluded labels drop
    /// their rows. An empty text and a value that is not a number are errors naming the cell.
    public init(table: CSVTable, input: ClassificationInput, requireLabels: Bool) throws {
        path = table.path
        self.input = input
        let hasLabels = requireLabels || table.header.contains(input.labelColumn)
        let labelIndex = hasLabels ? try table.columnIndex(input.labelColumn) : nil
        var featureIndices: [Int] = []
        if let textColumn = input.textColumn {
            featureIndices = [try table.columnIndex(textColumn)]
        } else {
            try resolveFeatureColumns(table: table, labelIndex: labelIndex)
            featureIndices = try self.input.featureColumns.map(table.columnIndex)
        }
        let excluded = Set(input.excludedLabels)
        for (row, fields) in table.rows.enumerated() {
            if let labelIndex {
                let label = fields[labelIndex].trimmingCharacters(in: .whitespaces)
                if excluded.contains(label) { continue }
                guard !label.isEmpty else {
                    throw RecurrentError.invalidFile(path: path, reason: "\(table.location(row: row, column: labelIndex)): empty label")
                }
                labels.append(label)
            }
            if let tokenizer = input.tokenizer, let column = featureIndices.first {
                let rowTokens = tokenizer.tokenize(fields[column])
                guard !rowTokens.isEmpty else {
                    throw RecurrentError.invalidFile(path: path, reason: "\(table.location(row: row, column: column)): empty text")
                }
                tokens.append(rowTokens)
            } else {
                values.append(try featureIndices.map { column in try Self.number(table, row: row, column: column) })
            }
            lineNumbers.append(table.lineNumbers[row])
        }
    }

    /// Every column but the label's, when none were named; their count must fill whole steps.
    private mutating func resolveFeatureColumns(table: CSVTable, labelIndex: Int?) throws {
        guard input.featuresPerStep > 0 else {
            throw RecurrentError.invalidArgument("features per step must be positive, got \(input.featuresPerStep)")
        }
        if input.featureColumns.isEmpty {
            input.featureColumns = table.header.enumerated().filter { $0.offset != labelIndex }.map(\.element)
        }
        guard !input.featureColumns.isEmpty, input.featureColumns.count % input.featuresPerStep == 0 else {
            throw RecurrentError.invalidFile(path: path,
                reason: "\(input.featureColumns.count) feature columns do not make whole steps of \(input.featuresPerStep) values")
        }
    }

    private static func number(_ table: CSVTable, row: Int, column: Int) throws -> Float {
        let cell = table.rows[row][column].trimmingCharacters(in: .whitespaces)
        guard let value = Double(cell), value.isFinite else {
            let problem = cell.isEmpty ? "missing value" : "\"\(cell)\" is not a number"
            throw RecurrentError.invalidFile(path: table.path, reason: "\(table.location(row: row, column: column)): \(problem)")
        }
        return Float(value)
    }

    /// The class index of each row's label in `classes`; a label outside them is an error
    /// naming the row.
    func classIndices(in classes: [String]) throws -> [Int] {
        let index = Dictionary(classes.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        return try labels.enumerated().map { row, label in
            guard let c = index[label] else {
                throw RecurrentError.invalidFile(path: path,
                    reason: "line \(lineNumbers[row]), column \"\(input.labelColumn)\": label \"\(label)\" was never seen in training "
                        + "(the model knows \(classes.map { "\"\($0)\"" }.joined(separator: ", ")))")
            }
            return c
        }
    }
}

/// Seeded split of `count` rows: a Fisher-Yates shuffle with SplitMix64(seed), the first
/// `testFraction` for the test, the next `validationFraction` of the rest for validation, the
/// remainder for training. `scripts/classify_reference.py` reproduces it exactly.
public struct SampleSplit: Equatable, Sendable {
    public var train: [Int], validation: [Int], test: [Int]

    public init(count: Int, testFraction: Double, validationFraction: Double, seed: UInt64) {
        var order = Array(0..<count)
        var rng = SplitMix64(seed: seed)
        shuffle(&order, using: &rng)
        let testCount = Int((Double(count) * testFraction).rounded())
        let validationCount = Int((Double(count - testCount) * validationFraction).rounded())
        test = Array(order[..<testCount])
        validation = Array(order[testCount..<(testCount + validationCount)])
        train = Array(order[(testCount + validationCount)...])
    }
}
