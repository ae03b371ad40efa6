import CRecurrentKernels
import Foundation

// Differentiable operations on `Variable`, each with its backward next to its forward.
//
// Backward closures capture the input *tensors* (values), not the variables: an optimizer step
// may overwrite a parameter's value before the tape is dropped, and the gradient must belong
// to the value that was used. Gradients are computed only for inputs that need one.
//
// Shape errors here are programming errors (a model wired wrongly), so they stop the process
// with a message naming the shapes; values read from files are validated before they get here.

// MARK: - Elementwise arithmetic

extension Variable {
    /// Elementwise sum of two variables of the same shape.
    public static func + (lhs: Variable, rhs: Variable) -> Variable {
        let needs = (lhs.requiresGrad, rhs.requiresGrad)
        return record(lhs.value + rhs.value, inputs: [lhs, rhs]) { grad in
            [needs.0 ? grad : nil, needs.1 ? grad : nil]
        }
    }

    /// Elementwise difference of two variables of the same shape.
    public static func - (lhs: Variable, rhs: Variable) -> Variable {
        let needs = (lhs.requiresGrad, rhs.requiresGrad)
        return record(lhs.value - rhs.value, inputs: [lhs, rhs]) { grad in
            [needs.0 ? grad : nil, needs.1 ? -grad : nil]
        }
    }

    /// Elementwise (Hadamard) product of two variables of the same shape.
    public static func * (lhs: Variable, rhs: Variable) -> Variable {
        let (left, right) = (lhs.value, rhs.value)
        let needs = (lhs.requiresGrad, rhs.requiresGrad)
        return record(left * right, inputs: [lhs, rhs]) { grad in
            [needs.0 ? grad * right : nil, needs.1 ? grad * left : nil]
        }
    }

    public static func * (lhs: Variable, rhs: Float) -> Variable { lhs.scaled(by: rhs) }
    public static func * (lhs: Float, rhs: Variable) -> Variable { rhs.scaled(by: lhs) }
    public static prefix func - (operand: Variable) -> Variable { operand.scaled(by: -1) }

    /// Every value multiplied by a constant.
    public func scaled(by factor: Float) -> Variable {
        Variable.record(value * factor, inputs: [self]) { grad in [grad * factor] }
    }

    /// Adds `bias` [F] to every row of this [..., F] variable, as `nn.Linear` adds its bias.
    public func addingBias(_ bias: Variable) -> Variable {
        let features = bias.value.count
        precondition(bias.value.rank == 1 && value.rank >= 1 && value.shape[value.rank - 1] == features,
                     "addingBias: bias \(bias.shape) does not match the last axis of \(shape)")
        var output = value
        output.withUnsafeMutableBufferPointer { out in
            bias.value.withUnsafeBufferPointer { b in
                for start in stride(from: 0, to: out.count, by: max(features, 1)) {
                    for feature in 0..<features { out[start + feature] += b[feature] }
                }
            }
        }
        let needs = (requiresGrad, bias.requiresGrad)
        return Variable.record(output, inputs: [self, bias]) { grad in
            [needs.0 ? grad : nil, needs.1 ? grad.sumRows(columns: features) : nil]
        }
    }
}

// MARK: - Nonlinearities

extension Variable {
    /// tanh; the backward uses the output: d tanh = 1 - tanh^2.
    public func tanh() -> Variable {
        let output = applyingKernel(value, rk_tanh)
        return Variable.record(output, inputs: [self]) { grad in
            [grad.zipped(output) { g, y in g * (1 - y * y) }]
        }
    }

    /// The logistic function; the backward uses the output: d sigmoid = s (1 - s).
    public func sigmoid() -> Variable {
        let output = applyingKernel(value, rk_sigmoid)
        return Variable.record(output, inputs: [self]) { grad in
            [grad.zipped(output) { g, s in g * s * (1 - s) }]
        }
    }

    /// max(0, x); the gradient at exactly 0 is 0, as in PyTorch.
    public func relu() -> Variable {
        let input = value
        return Variable.record(value.map { max($0, 0) }, inputs: [self]) { grad in
            [grad.zipped(input) { g, x in x > 0 ? g : 0 }]
        }
    }

    /// Softmax over the last axis, shifted by each row's maximum so large inputs do not overflow.
    public func softmax() -> Variable {
        precondition(value.rank >= 1, "softmax needs at least one axis, got a scalar")
        let width = value.shape[value.rank - 1]
        var output = value
        output.withUnsafeMutableBufferPointer { y in
            for start in stride(from: 0, to: y.count, by: max(width, 1)) {
                let row = start..<(start + width)
                let largest = y[row].max() ?? 0
                var total: Float = 0
                for index in row {
                    y[index] = Foundation.exp(y[index] - largest)
                    total += y[index]
                }
                for index in row { y[index] /= total }
            }
        }
        return Variable.record(output, inputs: [self]) { grad in
            // dx = y * (dy - <dy, y>) row by row: the Jacobian of softmax is diag(y) - y y^T.
            var inputGrad = grad
            inputGrad.withUnsafeMutableBufferPointer { dx in
                output.withUnsafeBufferPointer { y in
                    for start in stride(from: 0, to: dx.count, by: max(width, 1)) {
                        let row = start..<(start + width)
                        var dot: Float = 0
                        for index in row { dot += dx[index] * y[index] }
                        for index in row { dx[index] = y[index] * (dx[index] - dot) }
                    }
                }
            }
            return [inputGrad]
        }
    }
}

/// Runs a C elementwise kernel (x -> y over n values) on a whole tensor.
private func applyingKernel(
    _ input: Tensor, _ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int64) -> Void
) -> Tensor {
    var output = Tensor(zeros: input.shape)
    input.withUnsafeBufferPointer { x in
        output.withUnsafeMutableBufferPointer { y in
            guard let source = x.baseAddress, let destination = y.baseAddress else { return }
            kernel(source, destination, Int64(x.count))
        }
    }
    return output
}

// MARK: - Shapes, products, reductions

extension Variable {
    /// The same values under another shape with the same count; one extent may be -1, meaning
    /// "whatever makes the count match", as in `torch.reshape`.
    public func reshaped(_ newShape: [Int]) -> Variable {
        var resolved = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != inferred }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && value.count % known == 0, "cannot reshape \(shape) to \(newShape)")
            resolved[inferred] = value.count / known
        }
        precondition(resolved.allSatisfy { $0 >= 0 } && resolved.reduce(1, *) == value.count,
                     "cannot reshape \(shape) (\(value.count) values) to \(newShape)")
        let originalShape = shape
        return Variable.record(value.reshaped(resolved), inputs: [self]) { grad in
            [grad.reshaped(originalShape)]
        }
    }

    /// `nn.functional.linear`: x [..., I] times W^T, W [O, I], plus b [O] -> [..., O].
    /// Leading axes are flattened into one, so a whole sequence [B, T, I] is a single product.
    public func linear(weight: Variable, bias: Variable? = nil) -> Variable {
        precondition(weight.value.rank == 2, "linear: weight must be [out, in], got \(weight.shape)")
        let outputSize = weight.shape[0], inputSize = weight.shape[1]
        precondition(value.rank >= 1 && value.shape[value.rank - 1] == inputSize,
                     "linear: input \(shape) does not end in the weight's input size \(inputSize)")
        if let bias {
            precondition(bias.shape == [outputSize], "linear: bias \(bias.shape) must be [\(outputSize)]")
        }
        let rows = shape.dropLast().reduce(1, *)
        let input = value, weights = weight.value
        // Start from the bias repeated on every row and let the product add onto it (beta = 1).
        var output = Tensor(zeros: Array(shape.dropLast()) + [outputSize])
        if let bias {
            output.withUnsafeMutableBufferPointer { out in
                bias.value.withUnsafeBufferPointer { b in
                    for row in 0..<rows {
                        for unit in 0..<outputSize { out[row * outputSize + unit] = b[unit] }
                    }
                }
            }
        }
        let inputs = [self, weight] + (bias.map { [$0] } ?? [])
        // In inference every row gets the same arithmetic whatever the number of rows, so that a
        // sequence fed a step at a time (one row) scores as the whole sequence does (many).
        let inference = !Variable.willRecord(inputs: inputs)
        // x W^T gives every row the same arithmetic for any row count only while W fits the dot
        // products' cache bound (rk_sgemm_rows_alike); beyond it, inference multiplies by W^T
        // itself (kept with the weight), as x (W^T) without a transposed operand does for any
        // row count: the same bits as the packed x W^T, one row or many.
        let transposed = inference && outputSize > 1 && outputSize * inputSize > Kernels.rowsAlikeDotFloats
            ? weight.transposedValue() : nil
        input.withUnsafeBufferPointer { x in
            (transposed ?? weights).withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { out in
                    // Empty operands have no storage and nothing to multiply.
                    guard let x = x.baseAddress, let w = w.baseAddress, let result = out.baseAddress else { return }
                    // W [out, in] is B^T; its kept transpose [in, out] is B itself.
                    Kernels.gemm(transB: transposed == nil, m: rows, n: outputSize, k: inputSize,
                                 x, lda: inputSize, w, ldb: transposed == nil ? inputSize : outputSize, beta: 1,
                                 result, ldc: outputSize, rowsAlike: inference)
                }
            }
        }
        let needs = (requiresGrad, weight.requiresGrad, bias?.requiresGrad ?? false)
        return Variable.record(output, inputs: inputs) { grad in
            let grad2D = grad.reshaped([rows, outputSize])
            // dx = dy W [N, I]; dW = dy^T x [O, I]; db = column sums of dy.
            let inputGrad = needs.0 ? grad2D.matmul(weights).reshaped(input.shape) : nil
            let weightGrad = needs.1
                ? grad2D.matmul(input.reshaped([rows, inputSize]), transposeSelf: true) : nil
            let biasGrad = needs.2 ? grad2D.sumRows(columns: outputSize) : nil
            return [inputGrad, weightGrad, biasGrad].prefix(inputs.count).map { $0 }
        }
    }

    /// The sum of all values, as a scalar (shape []).
    public func sum() -> Variable {
        let originalShape = shape
        return Variable.record(Tensor(value.sum()), inputs: [self]) { grad in
            [Tensor(repeating: grad.scalar, shape: originalShape)]
        }
    }

    /// The mean of all values, as a scalar (shape []); 0 for an empty tensor.
    public func mean() -> Variable {
        let originalShape = shape, count = Float(max(value.count, 1))
        return Variable.record(Tensor(value.sum() / count), inputs: [self]) { grad in
            [Tensor(repeating: grad.scalar / count, shape: originalShape)]
        }
    }
}

// MARK: - Time axis of batch-first sequences [B, T, F]

extension Variable {
    /// The step `step` of every sequence: [B, T, F] -> [B, F]. A negative step counts from the
    /// end (-1 is the last), as `x[:, -1]` does in PyTorch.
    public func selectingTimeStep(_ step: Int) -> Variable {
        let (batch, time, _) = sequenceDimensions("selectingTimeStep")
        let resolved = step < 0 ? time + step : step
        precondition(resolved >= 0 && resolved < time, "selectingTimeStep: step \(step) is outside 0..<\(time)")
        return gatheringSteps(Array(repeating: resolved, count: batch))
    }

    /// Each sequence's own last valid step, `lengths[b] - 1`: [B, T, F] -> [B, F]. A sequence of
    /// length 0 gives zeros. Without lengths, every sequence ends at T - 1.
    public func selectingLastSteps(lengths: [Int]?) -> Variable {
        let (batch, time, _) = sequenceDimensions("selectingLastSteps")
        let valid = validLengths(lengths, batch: batch, time: time)
        return gatheringSteps(valid.map { $0 - 1 })
    }

    /// The mean over the valid steps of each sequence: [B, T, F] -> [B, F]. Padding steps
    /// (t >= lengths[b]) neither count nor receive gradient; a sequence of length 0 gives zeros.
    public func meanOverTime(lengths: [Int]? = nil) -> Variable {
        let (batch, time, features) = sequenceDimensions("meanOverTime")
        let valid = validLengths(lengths, batch: batch, time: time)
        var output = Tensor(zeros: [batch, features])
        output.withUnsafeMutableBufferPointer { out in
            value.withUnsafeBufferPointer { x in
                for b in 0..<batch where valid[b] > 0 {
                    let scale = 1 / Float(valid[b])
                    for t in 0..<valid[b] {
                        let row = (b * time + t) * features
                        for f in 0..<features { out[b * features + f] += x[row + f] * scale }
                    }
                }
            }
        }
        let inputShape = shape
        return Variable.record(output, inputs: [self]) { grad in
            var inputGrad = Tensor(zeros: inputShape)
            inputGrad.withUnsafeMutableBufferPointer { dx in
                grad.withUnsafeBufferPointer { dy in
                    for b in 0..<batch where valid[b] > 0 {
                        let scale = 1 / Float(valid[b])
                        for t in 0..<valid[b] {
                            let row = (b * time + t) * features
                            for f in 0..<features { dx[row + f] = dy[b * features + f] * scale }
                        }
                    }
                }
            }
            return [inputGrad]
        }
    }

    /// The maximum over the valid steps of each sequence, feature by feature: [B, T, F] -> [B, F].
    /// The gradient goes to the step that held the maximum (the first one on ties); a sequence
    /// of length 0 gives zeros.
    public func maxOverTime(lengths: [Int]? = nil) -> Variable {
        let (batch, time, features) = sequenceDimensions("maxOverTime")
        let valid = validLengths(lengths, batch: batch, time: time)
        var output = Tensor(zeros: [batch, features])
        // Flat index into the input of each output's maximum, -1 where there is none.
        var winners = [Int](repeating: -1, count: batch * features)
        output.withUnsafeMutableBufferPointer { out in
            value.withUnsafeBufferPointer { x in
                for b in 0..<batch where valid[b] > 0 {
                    for f in 0..<features {
                        var best = b * time * features + f
                        for t in 1..<max(valid[b], 1) where x[(b * time + t) * features + f] > x[best] {
                            best = (b * time + t) * features + f
                        }
                        out[b * features + f] = x[best]
                        winners[b * features + f] = best
                    }
                }
            }
        }
        let inputShape = shape
        return Variable.record(output, inputs: [self]) { grad in
            var inputGrad = Tensor(zeros: inputShape)
            inputGrad.withUnsafeMutableBufferPointer { dx in
                for (position, winner) in winners.enumerated() where winner >= 0 {
                    dx[winner] += grad.scalars[position]
                }
            }
            return [inputGrad]
        }
    }

    /// Copies step `steps[b]` of sequence b (none when negative): [B, T, F] -> [B, F].
    private func gatheringSteps(_ steps: [Int]) -> Variable {
        let (batch, time, features) = sequenceDimensions("gatheringSteps")
        var output = Tensor(zeros: [batch, features])
        output.withUnsafeMutableBufferPointer { out in
            value.withUnsafeBufferPointer { x in
                for b in 0..<batch where steps[b] >= 0 {
                    let row = (b * time + steps[b]) * features
                    for f in 0..<features { out[b * features + f] = x[row + f] }
                }
            }
        }
        let inputShape = shape
        return Variable.record(output, inputs: [self]) { grad in
            var inputGrad = Tensor(zeros: inputShape)
            inputGrad.withUnsafeMutableBufferPointer { dx in
                grad.withUnsafeBufferPointer { dy in
                    for b in 0..<batch where steps[b] >= 0 {
                        let row = (b * time + steps[b]) * features
                        for f in 0..<features { dx[row + f] = dy[b * features + f] }
                    }
                }
            }
            return [inputGrad]
        }
    }

    private func sequenceDimensions(_ operation: String) -> (batch: Int, time: Int, features: Int) {
        precondition(value.rank == 3, "\(operation) needs a batch-first sequence [B, T, F], got \(shape)")
        return (value.shape[0], value.shape[1], value.shape[2])
    }
}

/// The number of valid steps of each sequence: `lengths` (one per sequence, each in 0...T),
/// or T for all when there are none.
private func validLengths(_ lengths: [Int]?, batch: Int, time: Int) -> [Int] {
    guard let lengths else { return Array(repeating: time, count: batch) }
    precondition(lengths.count == batch, "\(lengths.count) lengths for a batch of \(batch) sequences")
    precondition(lengths.allSatisfy { (0...time).contains($0) }, "lengths \(lengths) must lie in 0...\(time)")
    return lengths
}
