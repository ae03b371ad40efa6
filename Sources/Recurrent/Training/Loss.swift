/// A loss chosen by name, for training loops and configuration files: it computes a scalar
/// `Variable` from a model's prediction and the batch's targets.
///
/// Regression losses and binary cross-entropy take a target tensor of the prediction's shape;
/// cross-entropy takes class indices, either as `[Int]` or as the whole-number values of a
/// tensor (the form datasets keep every target in).
public enum Loss: Codable, Equatable, Sendable {
    case meanSquaredError
    case meanAbsoluteError
    case huber(delta: Float = 1)
    case crossEntropy(ignoreIndex: Int? = nil, classWeights: [Float]? = nil, labelSmoothing: Float = 0)
    case binaryCrossEntropy(positiveWeight: [Float]? = nil)

    /// Whether targets are class indices rather than values.
    public var takesClassTargets: Bool {
        if case .crossEntropy = self { return true }
        return false
    }

    /// The rows ignored by cross-entropy, if any.
    public var ignoreIndex: Int? {
        if case .crossEntropy(let ignoreIndex, _, _) = self { return ignoreIndex }
        return nil
    }

    /// A short name for logs and progress lines.
    public var name: String {
        switch self {
        case .meanSquaredError: return "mse"
        case .meanAbsoluteError: return "mae"
        case .huber: return "huber"
        case .crossEntropy: return "cross-entropy"
        case .binaryCrossEntropy: return "binary-cross-entropy"
        }
    }

    /// The loss of `prediction` against `target`, a tensor of the prediction's shape for every
    /// loss except cross-entropy, which reads class indices from the target's values (one per
    /// row of the logits). `mask` drops or scales padded positions (see the loss functions).
    public func callAsFunction(
        _ prediction: Variable, _ target: Tensor, mask: Tensor? = nil, reduction: LossReduction = .mean
    ) throws -> Variable {
        switch self {
        case .meanSquaredError:
            return try Recurrent.meanSquaredError(prediction, target, mask: mask, reduction: reduction)
        case .meanAbsoluteError:
            return try Recurrent.meanAbsoluteError(prediction, target, mask: mask, reduction: reduction)
        case .huber(let delta):
            return try huberLoss(prediction, target, delta: delta, mask: mask, reduction: reduction)
        case .crossEntropy:
            return try self(prediction, classes: classIndices(from: target), mask: mask, reduction: reduction)
        case .binaryCrossEntropy(let positiveWeight):
            return try binaryCrossEntropyWithLogits(
                prediction, target, positiveWeight: positiveWeight.map { Tensor(shape: [$0.count], scalars: $0) },
                mask: mask, reduction: reduction)
        }
    }

    /// The cross-entropy of logits [..., C] against one class index per row. Other losses need
    /// value targets and throw.
    public func callAsFunction(
        _ logits: Variable, classes: [Int], mask: Tensor? = nil, reduction: LossReduction = .mean
    ) throws -> Variable {
        guard case .crossEntropy(let ignoreIndex, let classWeights, let labelSmoothing) = self else {
            throw RecurrentError.invalidArgument("\(name) needs target values, not class indices")
        }
        return try Recurrent.crossEntropy(
            logits: logits, targets: classes,
            classWeights: classWeights.map { Tensor(shape: [$0.count], scalars: $0) },
            ignoreIndex: ignoreIndex, mask: mask, labelSmoothing: labelSmoothing, reduction: reduction)
    }
}
