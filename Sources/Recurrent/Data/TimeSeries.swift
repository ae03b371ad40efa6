import Foundation

/// What to do with an empty or "NA"-like cell in a numeric column. Never silent: the default
/// refuses and names the cell.
public enum MissingValuePolicy: String, Codable, Sendable, CaseIterable {
    /// Stop with an error naming the file, line and column.
    case refuse
    /// Fill a gap linearly from its neighbours (ends take the nearest value).
    case interpolate
    /// Leave the row out.
    case drop
}

extension CSVTable {
    static let missingMarkers: Set<String> = ["", "na", "nan", "n/a", "null", "none", "?", "-"]

    /// The number in a cell (surrounding spaces ignored), nil for a missing marker; any other
    /// text is an error naming the file, line and column. The one rule every numeric reader of
    /// a table follows. In a file whose fields are not separated by commas, a decimal comma
    /// ("315,71", as spreadsheets in many locales write) is read as a decimal point.
    func numericCell(row: Int, column: Int) throws -> Double? {
        let cell = rows[row][column].trimmingCharacters(in: .whitespaces)
        if let value = Double(cell), value.isFinite { return value }
        if delimiter != ",", !cell.contains("."), cell.filter({ $0 == "," }).count == 1,
           let value = Double(cell.replacingOccurrences(of: ",", with: ".")), value.isFinite { return value }
        if Self.missingMarkers.contains(cell.lowercased()) { return nil }
        throw RecurrentError.invalidFile(path: path, reason: "\(location(row: row, column: column)): \"\(cell)\" is not a number")
    }

    /// The values of numeric columns, one row per kept data row, under `policy` for gaps.
    /// A cell that is neither a number nor a missing marker is always an error.
    public func numericColumns(_ names: [String], missing policy: MissingValuePolicy = .refuse) throws -> [[Double]] {
        try numericColumnsWithRows(names, missing: policy).columns
    }

    /// The same, with the indices of the data rows kept (all of them but under `.drop`), so
    /// other columns (dates) can follow the same rows.
    public func numericColumnsWithRows(_ names: [String], missing policy: MissingValuePolicy = .refuse) throws
        -> (columns: [[Double]], rows: [Int]) {
        let indices = try names.map(columnIndex)
        var columns: [[Double?]] = Array(repeating: [], count: names.count)
        for rowIndex in rows.indices {
            for (k, column) in indices.enumerated() {
                let value = try numericCell(row: rowIndex, column: column)
                if value == nil, policy == .refuse {
                    throw RecurrentError.invalidFile(path: path,
                        reason: "\(location(row: rowIndex, column: column)): missing value (choose a policy: interpolate or drop)")
                }
                columns[k].append(value)
            }
        }
        switch policy {
        case .refuse:
            return (columns.map { $0.map { $0 ?? 0 } }, Array(rows.indices))
        case .drop:
            let keep = (0..<rows.count).filter { r in columns.allSatisfy { $0[r] != nil } }
            return (columns.map { column in keep.map { column[$0] ?? 0 } }, keep)
        case .interpolate:
            return (try columns.enumerated().map { k, column in
                guard column.contains(where: { $0 != nil }) else {
                    throw RecurrentError.invalidFile(path: path, reason: "column \"\(names[k])\" has no values at all")
                }
                return Self.interpolated(column)
            }, Array(rows.indices))
        }
    }

    static func interpolated(_ column: [Double?]) -> [Double] {
        var result = [Double](repeating: 0, count: column.count)
        var lastKnown: Int? = nil
        for (i, value) in column.enumerated() {
            guard let value else { continue }
            result[i] = value
            let start = lastKnown.map { $0 + 1 } ?? 0
            for gap in start..<i {
                if let last = lastKnown, let before = column[last] {
                    let fraction = Double(gap - last) / Double(i - last)
                    result[gap] = before + (value - before) * fraction
                } else {
                    result[gap] = value
                }
            }
            lastKnown = i
        }
        if let last = lastKnown, let value = column[last] {
            for gap in (last + 1)..<column.count { result[gap] = value }
        }
        return result
    }
}

/// A per-feature affine map fitted on training data only: standard (zero mean, unit variance)
/// or min-max (to [0, 1]). Stored in model files so predictions undo it.
public struct Scaler: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case standard, minMax }
    public var kind: Kind
    public var offsets: [Double]
    public var scales: [Double]

    /// Fits on `columns` (one array per feature).
    public init(kind: Kind, fittingColumns columns: [[Double]]) {
        self.kind = kind
        offsets = []; scales = []
        for column in columns {
            let count = Double(max(column.count, 1))
            switch kind {
            case .standard:
                let mean = column.reduce(0, +) / count
                let variance = column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / count
                offsets.append(mean)
                scales.append(variance > 0 ? variance.squareRoot() : 1)
            case .minMax:
                let low = column.min() ?? 0, high = column.max() ?? 1
                offsets.append(low)
                scales.append(high > low ? high - low : 1)
            }
        }
    }

    public func transform(_ value: Double, feature: Int) -> Double { (value - offsets[feature]) / scales[feature] }
    public func inverse(_ value: Double, feature: Int) -> Double { value * scales[feature] + offsets[feature] }
}

/// Sliding windows over a multivariate series: each sample is `window` consecutive steps of all
/// features, and its target the next `horizon` values of some features.
public struct SlidingWindows: Sendable {
    /// [N, window, F]
    public let inputs: Tensor
    /// [N, horizon * K]: step-major, the K target features of each future step side by side.
    public let targets: Tensor

    /// `steps[t][f]`: feature f at step t. Windows start at every step that leaves room for the
    /// horizon; none when the series is shorter than window + horizon.
    public init(steps: [[Float]], window: Int, horizon: Int, targetFeature: Int) {
        self.init(steps: steps, window: window, horizon: horizon, targetFeatures: [targetFeature])
    }

    /// Windows whose targets are several features (for a model that predicts them all, such as
    /// a recursive multivariate forecaster).
    public init(steps: [[Float]], window: Int, horizon: Int, targetFeatures: [Int]) {
        let features = steps.first?.count ?? 0
        let count = max(0, steps.count - window - horizon + 1)
        var inputs = [Float](), targets = [Float]()
        inputs.reserveCapacity(count * window * features)
        for start in 0..<count {
            for t in start..<(start + window) { inputs += steps[t] }
            for t in (start + window)..<(start + window + horizon) {
                for feature in targetFeatures { targets.append(steps[t][feature]) }
            }
        }
        self.inputs = Tensor(shape: [count, window, features], scalars: inputs)
        self.targets = Tensor(shape: [count, horizon * targetFeatures.count], scalars: targets)
    }

    public var count: Int { inputs.shape[0] }
}
