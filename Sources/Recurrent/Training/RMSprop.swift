import Foundation

/// RMSprop, as `torch.optim.RMSprop`:
///
///     g = grad + weightDecay * p
///     s = alpha * s + (1 - alpha) * g * g
///     a = centered ? m + (1 - alpha) * (g - m) : -      (running mean of gradients)
///     d = sqrt(centered ? s - a * a : s) + eps
///     b = momentum * b + g / d;  p = p - lr * b          (momentum > 0)
///     p = p - lr * g / d                                 (otherwise)
///
/// The epsilon is added outside the square root, unlike Keras, so results match PyTorch.
public final class RMSprop: Optimizer {
    public let parameters: [Variable]
    public var learningRate: Double
    public let alpha: Double
    public let epsilon: Double
    public let weightDecay: Double
    public let momentum: Double
    public let centered: Bool
    private var states: [State?]

    struct State: ParameterState {
        var step: Int
        var squareAvg: Tensor
        var gradAvg: Tensor?
        var momentumBuffer: Tensor?

        init(shape: [Int], centered: Bool, momentum: Bool) {
            step = 0
            squareAvg = Tensor(zeros: shape)
            gradAvg = centered ? Tensor(zeros: shape) : nil
            momentumBuffer = momentum ? Tensor(zeros: shape) : nil
        }

        var namedTensors: [(name: String, tensor: Tensor)] {
            var result = [("step", Tensor(Float(step))), ("square_avg", squareAvg)]
            if let gradAvg { result.append(("grad_avg", gradAvg)) }
            if let momentumBuffer { result.append(("momentum_buffer", momentumBuffer)) }
            return result
        }
        static let tensorNames: Set<String> = ["step", "square_avg", "grad_avg", "momentum_buffer"]

        init(namedTensors: [String: Tensor], parameterShape: [Int], context: String) throws {
            step = try Self.stepCount(in: namedTensors, context: context)
            squareAvg = try Self.required("square_avg", in: namedTensors, shape: parameterShape, context: context)
            gradAvg = try namedTensors["grad_avg"].map { _ in
                try Self.required("grad_avg", in: namedTensors, shape: parameterShape, context: context)
            }
            momentumBuffer = try namedTensors["momentum_buffer"].map { _ in
                try Self.required("momentum_buffer", in: namedTensors, shape: parameterShape, context: context)
            }
        }
    }

    public init(
        _ parameters: [Variable], learningRate: Double = 1e-2, alpha: Double = 0.99, epsilon: Double = 1e-8,
        weightDecay: Double = 0, momentum: Double = 0, centered: Bool = false
    ) throws {
        try checkHyperparameter(learningRate >= 0, "RMSprop: learning rate must not be negative, got \(learningRate)")
        try checkHyperparameter((0...1).contains(alpha), "RMSprop: alpha must be in [0, 1], got \(alpha)")
        try checkHyperparameter(epsilon >= 0, "RMSprop: epsilon must not be negative, got \(epsilon)")
        try checkHyperparameter(weightDecay >= 0, "RMSprop: weight decay must not be negative, got \(weightDecay)")
        try checkHyperparameter(momentum >= 0, "RMSprop: momentum must not be negative, got \(momentum)")
        self.parameters = parameters
        self.learningRate = learningRate
        self.alpha = alpha
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.momentum = momentum
        self.centered = centered
        states = Array(repeating: nil, count: parameters.count)
    }

    public func step() {
        // 1 - alpha is formed in Double before rounding (see `Optimizer`).
        let lr = Float(learningRate), decay = Float(alpha), share = Float(1 - alpha)
        let epsilon = Float(epsilon), weightDecay = Float(weightDecay), momentum = Float(momentum), centered = centered
        for (index, parameter) in parameters.enumerated() {
            guard let gradient = parameter.grad else { continue }
            precondition(gradient.shape == parameter.shape, "gradient \(gradient.shape) of parameter \(parameter.shape)")
            // Taken out of the array so its buffers are uniquely referenced and updated in place.
            var state = states[index].take() ?? State(shape: parameter.shape, centered: centered, momentum: momentum > 0)
            state.step += 1
            var gradAvg = state.gradAvg ?? Tensor(zeros: [0])
            var buffer = state.momentumBuffer ?? Tensor(zeros: [0])
            state.gradAvg = nil
            state.momentumBuffer = nil
            parameter.value.withUnsafeMutableBufferPointer { p in
                gradient.withUnsafeBufferPointer { grad in
                    state.squareAvg.withUnsafeMutableBufferPointer { s in
                        gradAvg.withUnsafeMutableBufferPointer { a in
                            buffer.withUnsafeMutableBufferPointer { b in
                                for i in p.indices {
                                    let g = grad[i] + weightDecay * p[i]
                                    s[i] = decay * s[i] + share * (g * g)
                                    var variance = s[i]
                                    if centered {
                                        a[i] += share * (g - a[i])
                                        // Rounding can push s - a^2 just below 0, where sqrt is NaN.
                                        variance = max(s[i] - a[i] * a[i], 0)
                                    }
                                    let denominator = variance.squareRoot() + epsilon
                                    if momentum > 0 {
                                        b[i] = momentum * b[i] + g / denominator
                                        p[i] -= lr * b[i]
                                    } else {
                                        p[i] -= lr * (g / denominator)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if centered { state.gradAvg = gradAvg }
            if momentum > 0 { state.momentumBuffer = buffer }
            states[index] = state
        }
    }

    public func exportState() -> [String: Tensor] { exportStates(states) }

    public func importState(_ state: [String: Tensor]) throws {
        let imported: [State?] = try importStates(state, parameters: parameters, optimizer: "RMSprop")
        for (index, state) in imported.enumerated() {
            guard let state else { continue }
            if centered && state.gradAvg == nil || momentum > 0 && state.momentumBuffer == nil {
                throw RecurrentError.invalidArgument(
                    "RMSprop state of parameter \(index): missing \(centered && state.gradAvg == nil ? "grad_avg" : "momentum_buffer")")
            }
        }
        states = imported
    }
}
