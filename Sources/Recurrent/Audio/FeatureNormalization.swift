/// The mean and standard deviation of each feature column (of rows [T, F]).
public struct FeatureStatistics: Codable, Sendable, Equatable {
    public var mean: [Float]
    /// Population standard deviation (over T, not T - 1), floored at
    /// `FeatureNormalization.standardDeviationFloor` so that a constant column maps to 0.
    public var standardDeviation: [Float]

    public init(mean: [Float], standardDeviation: [Float]) {
        self.mean = mean
        self.standardDeviation = standardDeviation
    }

    /// Of the rows of `features` [T, F] (T = 0: mean 0, deviation 1, which changes nothing).
    public init(of features: Tensor) {
        var accumulator = FeatureStatisticsAccumulator(featureCount: features.rank == 2 ? features.shape[1] : 0)
        if features.rank == 2 { accumulator.accumulate(features) }
        self = accumulator.statistics
    }

    public var featureCount: Int { mean.count }
}

/// Sums over many utterances' rows, for global statistics (a streaming model cannot see the
/// whole utterance it would normalize by). Sums in Double, so the order of the utterances
/// changes the result only in its last bits.
public struct FeatureStatisticsAccumulator: Sendable {
    public private(set) var frameCount = 0
    private var sums: [Double]
    private var squares: [Double]

    public init(featureCount: Int) {
        sums = [Double](repeating: 0, count: featureCount)
        squares = sums
    }

    public var featureCount: Int { sums.count }

    /// Adds the rows of `features` [T, F]; a tensor of another width throws.
    public mutating func add(_ features: Tensor) throws {
        guard features.rank == 2, features.shape[1] == featureCount else {
            throw RecurrentError.shapeMismatch("features of shape \(features.shape) added to statistics of \(featureCount) features")
        }
        accumulate(features)
    }

    /// Adds the rows of a [T, featureCount] tensor.
    fileprivate mutating func accumulate(_ features: Tensor) {
        let rows = features.shape[0], width = featureCount
        features.withUnsafeBufferPointer { values in
            for row in 0..<rows {
                for column in 0..<width {
                    let value = Double(values[row * width + column])
                    sums[column] += value
                    squares[column] += value * value
                }
            }
        }
        frameCount += rows
    }

    public var statistics: FeatureStatistics {
        guard frameCount > 0 else {
            return FeatureStatistics(mean: [Float](repeating: 0, count: featureCount),
                                     standardDeviation: [Float](repeating: 1, count: featureCount))
        }
        let count = Double(frameCount)
        let mean = sums.map { $0 / count }
        let deviation = zip(squares, mean).map { square, mean in
            max(Float(max(square / count - mean * mean, 0).squareRoot()), FeatureNormalization.standardDeviationFloor)
        }
        return FeatureStatistics(mean: mean.map { Float($0) }, standardDeviation: deviation)
    }
}

/// Mean/variance normalisation of each feature column: per utterance (offline: each
/// utterance's own statistics) or with fixed statistics (global ones, for streaming, where
/// the rest of the utterance is not known yet).
public enum FeatureNormalization {
    /// The smallest standard deviation divided by: a column that does not vary maps to 0
    /// instead of dividing by zero.
    public static let standardDeviationFloor: Float = 1e-5

    /// Normalizes each column of `features` [T, F] to mean 0 and standard deviation 1 over its
    /// own rows, in place; returns the statistics used.
    @discardableResult
    public static func normalizePerUtterance(_ features: inout Tensor) -> FeatureStatistics {
        let statistics = FeatureStatistics(of: features)
        apply(statistics, to: &features)
        return statistics
    }

    /// (x - mean) / standardDeviation for each column of `features` [T, F], in place. Throws
    /// when the statistics are for another number of features.
    public static func normalize(_ features: inout Tensor, with statistics: FeatureStatistics) throws {
        guard features.rank == 2, features.shape[1] == statistics.featureCount,
              statistics.standardDeviation.count == statistics.featureCount else {
            throw RecurrentError.shapeMismatch(
                "feature statistics for \(statistics.featureCount) features (\(statistics.standardDeviation.count) deviations) cannot normalize features of shape \(features.shape)")
        }
        apply(statistics, to: &features)
    }

    private static func apply(_ statistics: FeatureStatistics, to features: inout Tensor) {
        guard features.rank == 2 else { return }
        let width = features.shape[1]
        features.withUnsafeMutableBufferPointer { values in
            for start in stride(from: 0, to: values.count, by: max(width, 1)) {
                for column in 0..<width {
                    values[start + column] = (values[start + column] - statistics.mean[column]) / statistics.standardDeviation[column]
                }
            }
        }
    }
}
