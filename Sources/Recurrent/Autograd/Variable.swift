import Synchronization

/// A tensor in a computation that can be differentiated: the value, the operation that made it,
/// and, after `backward()`, the gradient of a scalar with respect to it.
///
/// Operations are recorded at the granularity of whole layers (a full LSTM sequence is one
/// operation with a fused backward), so the tape stays short and the time loop stays in kernels.
public final class Variable {
    public var value: Tensor {
        // In place (no copy of the values): didSet without oldValue runs after the modification.
        didSet { valueVersion &+= 1 }
    }
    /// Counts the changes of `value` (assignments and in-place mutations alike), so that what is
    /// derived from it (a recurrent layer's packed weights) knows when to derive it again.
    private(set) var valueVersion = 0
    /// value^T of a rank-2 value and the version it was made from (see `transposedValue`).
    private let transposeCache = Mutex<(version: Int, tensor: Tensor)?>(nil)
    /// The accumulated gradient; kept for leaves (parameters, inputs that asked for it).
    public var grad: Tensor?
    public let requiresGrad: Bool
    let creator: Operation?
    let outputIndex: Int

    /// A leaf: a parameter (`requiresGrad: true`) or a constant input.
    public init(_ value: Tensor, requiresGrad: Bool = false) {
        self.value = value
        self.requiresGrad = requiresGrad
        self.creator = nil
        self.outputIndex = 0
    }

    init(_ value: Tensor, creator: Operation, outputIndex: Int) {
        self.value = value
        self.requiresGrad = true
        self.creator = creator
        self.outputIndex = outputIndex
    }

    public var shape: [Int] { value.shape }

    /// value^T of a rank-2 value, kept while the value stays as it is (the version counts every
    /// change), so that inference can multiply by a large weight's transpose without making it
    /// at every call (see `linear`). Safe to call from several threads.
    func transposedValue() -> Tensor {
        let version = valueVersion
        return transposeCache.withLock { entry in
            if let kept = entry, kept.version == version { return kept.tensor }
            let transposed = value.transposedMatrix()
            entry = (version, transposed)
            return transposed
        }
    }
}

/// One recorded operation: its inputs and how to turn the gradients of its outputs into the
/// gradients of its inputs. A `nil` gradient means zero.
final class Operation {
    private(set) var inputs: [Variable]
    let outputCount: Int
    /// nil once a backward pass has run through the operation without keeping the graph.
    private(set) var backward: (([Tensor?]) -> [Tensor?])?

    init(inputs: [Variable], outputCount: Int, backward: @escaping ([Tensor?]) -> [Tensor?]) {
        self.inputs = inputs
        self.outputCount = outputCount
        self.backward = backward
    }

    /// Lets go of what the backward pass needed (the values it saved, the inputs it held).
    func release() {
        backward = nil
        inputs = []
    }
}

/// Recording can be switched off (inference, evaluation) to save the memory of saved activations.
public enum GradientMode {
    nonisolated(unsafe) static var isRecording = true

    /// Runs `body` without recording operations: results carry no gradient.
    public static func withoutRecording<R>(_ body: () throws -> R) rethrows -> R {
        let previous = isRecording
        isRecording = false
        defer { isRecording = previous }
        return try body()
    }
}

extension Variable {
    /// Records an operation with one output when any input needs a gradient.
    static func record(_ value: Tensor, inputs: [Variable], backward: @escaping (Tensor) -> [Tensor?]) -> Variable {
        record([value], inputs: inputs) { grads in
            guard let grad = grads[0] else { return Array(repeating: nil, count: inputs.count) }
            return backward(grad)
        }[0]
    }

    /// Whether `record` with these inputs would record: operations that keep values for their
    /// backward pass can skip that when it will not.
    static func willRecord(inputs: [Variable]) -> Bool {
        GradientMode.isRecording && inputs.contains(where: { $0.requiresGrad })
    }

    /// Records an operation with several outputs when any input needs a gradient.
    static func record(_ values: [Tensor], inputs: [Variable], backward: @escaping ([Tensor?]) -> [Tensor?]) -> [Variable] {
        guard willRecord(inputs: inputs) else {
            return values.map { Variable($0) }
        }
        let operation = Operation(inputs: inputs, outputCount: values.count, backward: backward)
        return values.enumerated().map { Variable($1, creator: operation, outputIndex: $0) }
    }

    /// Back-propagates from this scalar (or from `seed`, a gradient of this variable's shape)
    /// into every leaf that requires a gradient, adding to their `grad`.
    ///
    /// As in PyTorch, each operation lets go of the values it saved as soon as its gradients are
    /// taken, so that the optimizer step after it does not hold the activations too; pass
    /// `retainGraph: true` to run another backward pass through the same operations.
    public func backward(seed: Tensor? = nil, retainGraph: Bool = false) {
        let seed = seed ?? Tensor(repeating: 1, shape: value.shape)
        guard let root = creator else {
            if requiresGrad { grad = grad.map { $0 + seed } ?? seed }
            return
        }
        // Operations in reverse topological order: each runs after everything that used its outputs.
        var order: [Operation] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Operation, Bool)] = [(root, false)]
        while let (operation, expanded) = stack.popLast() {
            if expanded { order.append(operation); continue }
            guard visited.insert(ObjectIdentifier(operation)).inserted else { continue }
            stack.append((operation, true))
            for input in operation.inputs {
                if let parent = input.creator, !visited.contains(ObjectIdentifier(parent)) {
                    stack.append((parent, false))
                }
            }
        }
        var pending: [ObjectIdentifier: [Tensor?]] = [:]
        pending[ObjectIdentifier(root)] = (0..<root.outputCount).map { $0 == outputIndex ? seed : nil }
        for operation in order.reversed() {
            guard let outputGrads = pending.removeValue(forKey: ObjectIdentifier(operation)) else { continue }
            guard let backward = operation.backward else {
                preconditionFailure("backward() through operations an earlier backward() has freed: pass retainGraph: true to the first one")
            }
            let inputGrads = backward(outputGrads)
            let inputs = operation.inputs
            if !retainGraph { operation.release() }
            for (input, inputGrad) in zip(inputs, inputGrads) {
                guard let inputGrad, input.requiresGrad else { continue }
                if let parent = input.creator {
                    let key = ObjectIdentifier(parent)
                    var grads = pending[key] ?? Array(repeating: nil, count: parent.outputCount)
                    grads[input.outputIndex] = grads[input.outputIndex].map { $0 + inputGrad } ?? inputGrad
                    pending[key] = grads
                } else {
                    input.grad = input.grad.map { $0 + inputGrad } ?? inputGrad
                }
            }
        }
    }
}
