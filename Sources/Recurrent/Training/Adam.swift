import CRecurrentKernels
import Foundation

/// Adam, as `torch.optim.Adam`, with optional AMSGrad; `AdamW` is the same with weight decay
/// decoupled from the gradient. With t the parameter's own step count:
///
///     p = p * (1 - lr * weightDecay)                   (AdamW only)
///     g = grad + weightDecay * p                       (Adam only)
///     m = m + (1 - beta1) * (g - m)
///     v = beta2 * v + (1 - beta2) * g * g
///     vMax = max(vMax, v)                              (AMSGrad; v below stands for vMax)
///     p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
public class Adam: Optimizer {
    public let parameters: [Variable]
    public var learningRate: Double
    public let beta1: Double
    public let beta2: Double
    public let epsilon: Double
    public let weightDecay: Double
    public let amsgrad: Bool
    /// Whether weight decay shrinks the parameters directly (AdamW) instead of adding to the
    /// gradient, where Adam's scaling would weaken it for parameters with large gradients.
    public let decoupledWeightDecay: Bool
    private var states: [State?]

    struct State: ParameterState {
        var step: Int
        var expAvg: Tensor
        var expAvgSq: Tensor
        var maxExpAvgSq: Tensor?

        init(shape: [Int], amsgrad: Bool) {
            step = 0
            expAvg = Tensor(zeros: shape)
            expAvgSq = Tensor(zeros: shape)
            maxExpAvgSq = amsgrad ? Tensor(zeros: shape) : nil
        }

        var namedTensors: [(name: String, tensor: Tensor)] {
            var result = [("step", Tensor(Float(step))), ("exp_avg", expAvg), ("exp_avg_sq", expAvgSq)]
            if let maxExpAvgSq { result.append(("max_exp_avg_sq", maxExpAvgSq)) }
            return result
        }
        static let tensorNames: Set<String> = ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"]

        init(namedTensors: [String: Tensor], parameterShape: [Int], context: String) throws {
            step = try Self.stepCount(in: namedTensors, context: context)
            expAvg = try Self.required("exp_avg", in: namedTensors, shape: parameterShape, context: context)
            expAvgSq = try Self.required("exp_avg_sq", in: namedTensors, shape: parameterShape, context: context)
            maxExpAvgSq = try namedTensors["max_exp_avg_sq"].map { _ in
                try Self.required("max_exp_avg_sq", in: namedTensors, shape: parameterShape, context: context)
            }
        }
    }

    /// Adam with PyTorch's defaults; weight decay is added to the gradient (L2 regularization).
    public convenience init(
        _ parameters: [Variable], learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
        epsilon: Double = 1e-8, weightDecay: Double = 0, amsgrad: Bool = false
    ) throws {
        try self.init(parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                      weightDecay: weightDecay, amsgrad: amsgrad, decoupledWeightDecay: false)
    }

    init(
        _ parameters: [Variable], learningRate: Double, beta1: Double, beta2: Double, epsilon: Double,
        weightDecay: Double, amsgrad: Bool, decoupledWeightDecay: Bool
    ) throws {
        let name = decoupledWeightDecay ? "AdamW" : "Adam"
        try checkHyperparameter(learningRate >= 0, "\(name): learning rate must not be negative, got \(learningRate)")
        try checkHyperparameter((0..<1).contains(beta1) && (0..<1).contains(beta2),
                                "\(name): betas must be in [0, 1), got \(beta1) and \(beta2)")
        try checkHyperparameter(epsilon >= 0, "\(name): epsilon must not be negative, got \(epsilon)")
        try checkHyperparameter(weightDecay >= 0, "\(name): weight decay must not be negative, got \(weightDecay)")
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.amsgrad = amsgrad
        self.decoupledWeightDecay = decoupledWeightDecay
        states = Array(repeating: nil, count: parameters.count)
    }

    public func step() {
        // Shares such as 1 - beta2 are formed in Double before rounding (see `Optimizer`).
        let amsgrad = amsgrad, epsilon = Float(epsilon), squareDecay = Float(beta2)
        let averageShare = Float(1 - beta1), squareShare = Float(1 - beta2)
        // Decoupled decay multiplies the parameter first; coupled decay adds to the gradient.
        let shrink = decoupledWeightDecay ? Float(1 - learningRate * weightDecay) : 1
        let l2 = decoupledWeightDecay ? 0 : Float(weightDecay)
        for (index, parameter) in parameters.enumerated() {
            guard let gradient = parameter.grad else { continue }
            precondition(gradient.shape == parameter.shape, "gradient \(gradient.shape) of parameter \(parameter.shape)")
            // Taken out of the array so its buffers are uniquely referenced and updated in place.
            var state = states[index].take() ?? State(shape: parameter.shape, amsgrad: amsgrad)
            state.step += 1
            // Bias corrections in double precision, as PyTorch computes them in Python floats.
            let step = Double(state.step)
            let stepSize = Float(learningRate / (1 - pow(beta1, step)))
            let correction2Root = Float((1 - pow(beta2, step)).squareRoot())
            let constants = rk_adam_constants(
                shrink: shrink, l2: l2, average_share: averageShare, square_decay: squareDecay,
                square_share: squareShare, step_size: stepSize, correction2_root: correction2Root, epsilon: epsilon)
            var maxExpAvgSq = state.maxExpAvgSq ?? Tensor(zeros: [0])
            state.maxExpAvgSq = nil
            parameter.value.withUnsafeMutableBufferPointer { p in
                gradient.withUnsafeBufferPointer { grad in
                    state.expAvg.withUnsafeMutableBufferPointer { m in
                        state.expAvgSq.withUnsafeMutableBufferPointer { v in
                            maxExpAvgSq.withUnsafeMutableBufferPointer { vMax in
                                guard let pp = p.baseAddress, let gp = grad.baseAddress, let mp = m.baseAddress,
                                      let vp = v.baseAddress else { return }
                                // Elementwise: the parameter's values split over the threads give the same values.
                                let pointers = UncheckedSendable((pp, gp, mp, vp, amsgrad ? vMax.baseAddress : nil, constants))
                                Parallel.forEachRange(p.count, grain: Tensor.elementwiseGrain) { range in
                                    let (pp, gp, mp, vp, vMax, shared) = pointers.value
                                    var constants = shared
                                    let o = range.lowerBound
                                    rk_adam(pp + o, gp + o, mp + o, vp + o, vMax.map { $0 + o }, Int64(range.count), &constants)
                                }
                            }
                        }
                    }
                }
            }
            if amsgrad { state.maxExpAvgSq = maxExpAvgSq }
            states[index] = state
        }
    }

    public func exportState() -> [String: Tensor] { exportStates(states) }

    public func importState(_ state: [String: Tensor]) throws {
        let imported: [State?] = try importStates(state, parameters: parameters, optimizer: decoupledWeightDecay ? "AdamW" : "Adam")
        if amsgrad {
            for (index, state) in imported.enumerated() where state != nil && state?.maxExpAvgSq == nil {
                throw RecurrentError.invalidArgument("AdamW/Adam state of parameter \(index): missing max_exp_avg_sq for AMSGrad")
            }
        }
        states = imported
    }
}

/// Adam with decoupled weight decay, as `torch.optim.AdamW` (default weight decay 0.01).
public final class AdamW: Adam {
    public init(
        _ parameters: [Variable], learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
        epsilon: Double = 1e-8, weightDecay: Double = 1e-2, amsgrad: Bool = false
    ) throws {
        try super.init(parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                       weightDecay: weightDecay, amsgrad: amsgrad, decoupledWeightDecay: true)
    }
}
