/// An optimizer and its hyperparameters as a value, for configuration files, the command line
/// and checkpoints, which need to rebuild the same optimizer before importing its state.
/// Defaults are PyTorch's.
public enum OptimizerConfiguration: Codable, Equatable, Sendable {
    case sgd(learningRate: Double, momentum: Double = 0, dampening: Double = 0, nesterov: Bool = false, weightDecay: Double = 0)
    case adam(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
              weightDecay: Double = 0, amsgrad: Bool = false)
    case adamW(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
               weightDecay: Double = 1e-2, amsgrad: Bool = false)
    case rmsprop(learningRate: Double = 1e-2, alpha: Double = 0.99, epsilon: Double = 1e-8, weightDecay: Double = 0,
                 momentum: Double = 0, centered: Bool = false)

    /// The base learning rate, which schedules scale.
    public var learningRate: Double {
        switch self {
        case .sgd(let learningRate, _, _, _, _), .adam(let learningRate, _, _, _, _, _),
             .adamW(let learningRate, _, _, _, _, _), .rmsprop(let learningRate, _, _, _, _, _):
            return learningRate
        }
    }

    /// A new optimizer over `parameters`; throws when a hyperparameter is out of range.
    public func makeOptimizer(for parameters: [Variable]) throws -> any Optimizer {
        switch self {
        case .sgd(let learningRate, let momentum, let dampening, let nesterov, let weightDecay):
            return try SGD(parameters, learningRate: learningRate, momentum: momentum, dampening: dampening,
                           nesterov: nesterov, weightDecay: weightDecay)
        case .adam(let learningRate, let beta1, let beta2, let epsilon, let weightDecay, let amsgrad):
            return try Adam(parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                            weightDecay: weightDecay, amsgrad: amsgrad)
        case .adamW(let learningRate, let beta1, let beta2, let epsilon, let weightDecay, let amsgrad):
            return try AdamW(parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                             weightDecay: weightDecay, amsgrad: amsgrad)
        case .rmsprop(let learningRate, let alpha, let epsilon, let weightDecay, let momentum, let centered):
            return try RMSprop(parameters, learningRate: learningRate, alpha: alpha, epsilon: epsilon,
                               weightDecay: weightDecay, momentum: momentum, centered: centered)
        }
    }
}
