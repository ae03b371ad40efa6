/// Mini-batches of variable-length sequences: padding to the longest sequence of a batch, and
/// bucketing, which puts sequences of similar length in the same batch so that little time is
/// spent on padding.
public enum Batching {
    /// Consecutive slices of `batchSize` indices (the last one may be shorter).
    public static func consecutive(_ order: [Int], batchSize: Int) -> [[Int]] {
        let size = max(1, batchSize)
        return stride(from: 0, to: order.count, by: size).map { Array(order[$0..<min(order.count, $0 + size)]) }
    }

    /// Batches of similar lengths from an already shuffled `order`: every window of
    /// `batchSize * windowBatches` indices is sorted by length and cut into batches, and the
    /// batches of the whole epoch are then shuffled with `seed`. The windows keep the epoch's
    /// randomness; the sort inside them removes most padding. The count of batches is that of
    /// `consecutive`, so progress and step limits are unchanged.
    public static func bucketedByLength(_ order: [Int], lengths: [Int], batchSize: Int, windowBatches: Int = 32,
                                        seed: UInt64) -> [[Int]] {
        let size = max(1, batchSize), window = size * max(1, windowBatches)
        var batches: [[Int]] = []
        for start in stride(from: 0, to: order.count, by: window) {
            let sorted = order[start..<min(order.count, start + window)].sorted {
                (lengths[$0], $0) < (lengths[$1], $1)
            }
            batches += consecutive(sorted, batchSize: size)
        }
        var rng = SplitMix64(seed: seed)
        shuffle(&batches, using: &rng)
        return batches
    }

    /// Each row's length in a padding mask [B, T] (1 for steps of the sequence, 0 for padding
    /// after it): one past its last step, at least 1. Given to a recurrent layer with a batch
    /// sorted by length, the steps past the shorter sequences skip their products.
    public static func lengths(mask: Tensor) -> [Int] {
        let (batch, time) = (mask.shape[0], mask.shape[1])
        return (0..<batch).map { b in
            var t = time
            while t > 1 && mask.scalars[b * time + t - 1] == 0 { t -= 1 }
            return t
        }
    }
}

/// Sequences padded into one batch-first tensor, with each one's length.
public struct PaddedBatch: Sendable {
    /// [B, T, F] (numeric steps) or [B, T] (token ids, as Float values); zeros past each length.
    public let values: Tensor
    /// [B]: valid steps of each sequence, each at least 1.
    public let lengths: [Int]

    /// Token-id sequences -> ids [B, T]; an empty sequence is padded to one `padID` step, so
    /// every length is at least 1 (a recurrent layer needs a step to run).
    public init(tokenIDs sequences: [[Int]], padID: Int = 0) {
        let time = max(1, sequences.map(\.count).max() ?? 1)
        var ids = [Float](repeating: Float(padID), count: sequences.count * time)
        for (b, sequence) in sequences.enumerated() {
            for (t, id) in sequence.enumerated() { ids[b * time + t] = Float(id) }
        }
        values = Tensor(shape: [sequences.count, time], scalars: ids)
        lengths = sequences.map { max(1, $0.count) }
    }

    /// Numeric sequences, each a flat array of steps of `featuresPerStep` values -> [B, T, F].
    /// An empty sequence is padded to one zero step.
    public init(steps sequences: [[Float]], featuresPerStep: Int) {
        let features = max(1, featuresPerStep)
        let stepCounts = sequences.map { $0.count / features }
        let time = max(1, stepCounts.max() ?? 1)
        var scalars = [Float](repeating: 0, count: sequences.count * time * features)
        for (b, sequence) in sequences.enumerated() {
            let start = b * time * features
            for (i, value) in sequence.prefix(stepCounts[b] * features).enumerated() { scalars[start + i] = value }
        }
        values = Tensor(shape: [sequences.count, time, features], scalars: scalars)
        lengths = stepCounts.map { max(1, $0) }
    }
}
