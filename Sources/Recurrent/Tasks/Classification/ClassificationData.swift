import Foundation

/// How the sequences of a file are laid out.
public enum SequenceLayout: String, Codable, Sendable {
    /// A CSV with one sequence per row: a text, or the feature columns read in order as steps of
    /// `featuresPerStep` values.
    case row
    /// A CSV with one step per row: the rows sharing a sequence id form one sequence, its
    /// channels the feature columns.
    case step
    /// The UEA/UCR archives' `.ts` format (`TSFile`).
    case ts
}

/// How a classifier reads a file: which column holds the label, and whether each sequence is a
/// text (one column, tokenized) or numeric steps (`featuresPerStep` values each: the feature
/// columns of a row in order, the channels of a row of a step-per-row CSV, or a `.ts` file's).
public struct ClassificationInput: Codable, Equatable, Sendable {
    public var labelColumn: String
    /// The text column, for text; nil for numeric sequences.
    public var textColumn: String?
    public var tokenizer: Tokenizer?
    /// The feature columns in order, for numeric sequences (all columns but the label's, and the
    /// sequence id's, when training); the channel numbers of a `.ts` file; empty for text.
    public var featureColumns: [String]
    public var featuresPerStep: Int
    /// Rows with these labels are left out, in training and in evaluation alike.
    public var excludedLabels: [String]
    /// Nil in model files from before other layouts: one sequence per row.
    public var layout: SequenceLayout?
    /// The column of sequence ids, for one step per row.
    public var sequenceColumn: String?

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

    /// Multichannel sequences of one step per row; `channels` empty means every column but the
    /// sequence id's and the label's.
    public static func steps(sequenceColumn: String, labelColumn: String, channels: [String] = [],
                             excludedLabels: [String] = []) -> ClassificationInput {
        ClassificationInput(labelColumn: labelColumn, textColumn: nil, tokenizer: nil, featureColumns: channels,
                            featuresPerStep: max(1, channels.count), excludedLabels: excludedLabels, layout: .step,
                            sequenceColumn: sequenceColumn)
    }

    /// The cases of `.ts` files, with their class labels.
    public static func archive(excludedLabels: [String] = []) -> ClassificationInput {
        ClassificationInput(labelColumn: "class label", textColumn: nil, tokenizer: nil, featureColumns: [],
                            featuresPerStep: 1, excludedLabels: excludedLabels, layout: .ts)
    }

    public var isText: Bool { textColumn != nil }
    public var resolvedLayout: SequenceLayout { layout ?? .row }
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

    /// Reads `path` as `input` lays it out: a `.ts` file, or a CSV of one sequence or one step
    /// per row.
    public init(path: String, input: ClassificationInput, requireLabels: Bool) throws {
        if input.resolvedLayout == .ts {
            try self.init(sequences: TSFile(path: path).sequences, input: input, requireLabels: requireLabels)
        } else {
            try self.init(table: CSVTable(path: path), input: input, requireLabels: requireLabels)
        }
    }

    /// Multichannel sequences; a trained model's input must have as many channels. Sequences
    /// with an excluded label are left out.
    public init(sequences: MultichannelSequences, input: ClassificationInput, requireLabels: Bool) throws {
        path = sequences.path
        self.input = input
        if input.featureColumns.isEmpty {
            self.input.featureColumns = sequences.channels
            self.input.featuresPerStep = sequences.channels.count
        } else if input.featuresPerStep != sequences.channels.count {
            throw RecurrentError.invalidFile(path: path,
                reason: "\(sequences.channels.count) channels per step, but the model reads \(input.featuresPerStep)")
        }
        if requireLabels, sequences.labels.count != sequences.count {
            throw RecurrentError.invalidFile(path: path, reason: "has no class labels (@classLabel false); evaluation needs them")
        }
        let excluded = Set(input.excludedLabels)
        let labelled = sequences.labels.count == sequences.count
        for s in 0..<sequences.count where !(labelled && excluded.contains(sequences.labels[s])) {
            values.append(sequences.series[s])
            lineNumbers.append(sequences.lineNumbers[s])
            if labelled { labels.append(sequences.labels[s]) }
        }
    }

    /// Reads `table` under `input`. With `requireLabels`, a missing label column or an empty
    /// label is an error; without, labels are read when the column exists. Excluded labels drop
    /// their rows. An empty text and a value that is not a number are errors naming the cell.
    public init(table: CSVTable, input: ClassificationInput, requireLabels: Bool) throws {
        let hasLabels = requireLabels || table.header.contains(input.labelColumn)
        if input.resolvedLayout == .step, let sequenceColumn = input.sequenceColumn {
            let sequences = try MultichannelSequences(table: table, sequenceColumn: sequenceColumn,
                                                      labelColumn: hasLabels ? input.labelColumn : nil,
                                                      channels: input.featureColumns, excludedLabels: Set(input.excludedLabels))
            self = try ClassificationRows(sequences: sequences, input: input, requireLabels: false)
            return
        }
        path = table.path
        self.input = input
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
                values.append(try featureIndices.map { column in try table.number(row: row, column: column) })
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
