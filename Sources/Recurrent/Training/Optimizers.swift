import Foundation

/// Updates parameters from their gradients, following `torch.optim` update rules exactly.
///
/// Hyperparameters are Doubles, like the Python floats PyTorch takes: quantities such as
/// 1 - beta2 = 0.001 are formed in double precision and only then rounded to Float, as PyTorch
/// does. (From a Float 0.999 the same subtraction would be off by 1.3e-5, relatively.)
///
/// Parameters are the model's own `Variable`s (shared by reference), so `step()` changes the
/// model in place. Each optimizer keeps its state per parameter, by position in `parameters`,
/// and can hand it out as named tensors ("0.exp_avg", "0.step", ... as in PyTorch's
/// `state_dict()["state"]`) for a checkpoint, and take it back.
public protocol Optimizer: AnyObject {
    var parameters: [Variable] { get }
    /// The learning rate of the next step; schedules set it before each step.
    var learningRate: Double { get set }
    /// Applies one update to every parameter that has a gradient; parameters whose `grad` is
    /// nil are left alone and their state does not advance (as in PyTorch).
    func step()
    /// Forgets all gradients (sets them to nil, PyTorch's `zero_grad(set_to_none=True)`).
    func zeroGrad()
    /// The per-parameter state as named tensors; the step count is a scalar tensor.
    func exportState() -> [String: Tensor]
    /// Restores state written by `exportState()` of the same kind of optimizer over parameters of
    /// the same shapes; throws on unknown names, missing buffers or wrong shapes.
    func importState(_ state: [String: Tensor]) throws
}

extension Optimizer {
    public func zeroGrad() {
        for parameter in parameters { parameter.grad = nil }
    }
}

// MARK: - Per-parameter state

/// The state an optimizer keeps for one parameter, convertible to and from named tensors.
protocol ParameterState {
    /// Buffers under PyTorch's state names.
    var namedTensors: [(name: String, tensor: Tensor)] { get }
    /// Rebuilds the state from buffers named as in `namedTensors`, all checked against the shape
    /// of the parameter; the caller has already rejected unknown names.
    init(namedTensors: [String: Tensor], parameterShape: [Int], context: String) throws
    /// The names this kind of state may contain.
    static var tensorNames: Set<String> { get }
}

extension ParameterState {
    static func required(_ name: String, in tensors: [String: Tensor], shape: [Int], context: String) throws -> Tensor {
        guard let tensor = tensors[name] else {
            throw RecurrentError.invalidArgument("\(context): missing \(name)")
        }
        guard tensor.shape == shape else {
            throw RecurrentError.shapeMismatch("\(context): \(name) has shape \(tensor.shape), the parameter \(shape)")
        }
        return tensor
    }

    /// Reads a step count stored as a scalar tensor.
    static func stepCount(in tensors: [String: Tensor], context: String) throws -> Int {
        let tensor = try required("step", in: tensors, shape: [], context: context)
        let value = tensor.scalar
        guard value >= 0, value.rounded() == value, value < 0x1p24 else {
            throw RecurrentError.invalidArgument("\(context): step \(value) is not a count")
        }
        return Int(value)
    }
}

/// Exports states as "index.name" tensors.
func exportStates<State: ParameterState>(_ states: [State?]) -> [String: Tensor] {
    var result: [String: Tensor] = [:]
    for (index, state) in states.enumerated() {
        guard let state else { continue }
        for (name, tensor) in state.namedTensors { result["\(index).\(name)"] = tensor }
    }
    return result
}

/// Parses "index.name" tensors back into one optional state per parameter.
func importStates<State: ParameterState>(_ state: [String: Tensor], parameters: [Variable], optimizer: String) throws -> [State?] {
    var grouped = [[String: Tensor]](repeating: [:], count: parameters.count)
    for (key, tensor) in state {
        let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, let index = Int(parts[0]), parameters.indices.contains(index),
              State.tensorNames.contains(parts[1])
        else {
            throw RecurrentError.invalidArgument("\(optimizer) state: unexpected entry \"\(key)\" for \(parameters.count) parameters")
        }
        grouped[index][parts[1]] = tensor
    }
    return try grouped.enumerated().map { index, tensors in
        tensors.isEmpty ? nil : try State(
            namedTensors: tensors, parameterShape: parameters[index].shape, context: "\(optimizer) state of parameter \(index)")
    }
}

func checkHyperparameter(_ holds: Bool, _ message: @autoclosure () -> String) throws {
    if !holds { throw RecurrentError.invalidArgument(message()) }
}

// MARK: - SGD

/// Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay,
/// as `torch.optim.SGD`:
///
///     g = grad + weightDecay * p
///     b = g at the first step, else momentum * b + (1 - dampening) * g
///     g = nesterov ? g + momentum * b : b          (when momentum != 0)
///     p = p - lr * g
public final class SGD: Optimizer {
    public let parameters: [Variable]
    public var learningRate: Double
    public let momentum: Double
    public let dampening: Double
    public let nesterov: Bool
    public let weightDecay: Double
    private var states: [State?]

    struct State: ParameterState {
        var momentumBuffer: Tensor
        var namedTensors: [(name: String, tensor: Tensor)] { [("momentum_buffer", momentumBuffer)] }
        static let tensorNames: Set<String> = ["momentum_buffer"]
        init(momentumBuffer: Tensor) { self.momentumBuffer = momentumBuffer }
        init(namedTensors: [String: Tensor], parameterShape: [Int], context: String) throws {
            momentumBuffer = try Self.required("momentum_buffer", in: namedTensors, shape: parameterShape, context: context)
        }
    }

    public init(
        _ parameters: [Variable], learningRate: Double, momentum: Double = 0, dampening: Double = 0,
        nesterov: Bool = false, weightDecay: Double = 0
    ) throws {
        try checkHyperparameter(learningRate >= 0, "SGD: learning rate must not be negative, got \(learningRate)")
        try checkHyperparameter(momentum >= 0, "SGD: momentum must not be negative, got \(momentum)")
        try checkHyperparameter(weightDecay >= 0, "SGD: weight decay must not be negative, got \(weightDecay)")
        try checkHyperparameter(!nesterov || (momentum > 0 && dampening == 0),
                                "SGD: Nesterov momentum needs a positive momentum and zero dampening")
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        states = Array(repeating: nil, count: parameters.count)
    }

    public func step() {
        let lr = Float(learningRate), momentum = Float(momentum), weightDecay = Float(weightDecay)
        let bufferShare = Float(1 - dampening), nesterov = nesterov
        for (index, parameter) in parameters.enumerated() {
            guard let gradient = parameter.grad else { continue }
            precondition(gradient.shape == parameter.shape, "gradient \(gradient.shape) of parameter \(parameter.shape)")
            if momentum == 0 {
                parameter.value.withUnsafeMutableBufferPointer { p in
                    gradient.withUnsafeBufferPointer { grad in
                        for i in p.indices { p[i] -= lr * (grad[i] + weightDecay * p[i]) }
                    }
                }
                continue
            }
            // Taken out of the array so its buffer is uniquely referenced and updated in place.
            let previous = states[index].take()
            var buffer = previous?.momentumBuffer ?? Tensor(zeros: parameter.shape)
            let isFirstStep = previous == nil
            parameter.value.withUnsafeMutableBufferPointer { p in
                gradient.withUnsafeBufferPointer { grad in
                    buffer.withUnsafeMutableBufferPointer { b in
                        for i in p.indices {
                            let g = grad[i] + weightDecay * p[i]
                            b[i] = isFirstStep ? g : momentum * b[i] + bufferShare * g
                            p[i] -= lr * (nesterov ? g + momentum * b[i] : b[i])
                        }
                    }
                }
            }
            states[index] = State(momentumBuffer: buffer)
        }
    }

    public func exportState() -> [String: Tensor] { exportStates(states) }

    public func importState(_ state: [String: Tensor]) throws {
        states = try importStates(state, parameters: parameters, optimizer: "SGD")
    }
}
