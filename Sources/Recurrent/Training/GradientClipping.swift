import Foundation

/// Scales all gradients together so that their global norm is at most `maxNorm`, as
/// `torch.nn.utils.clip_grad_norm_`, and returns the norm before clipping (useful to log, and
/// to spot divergence). The norm is the `normType`-norm of all gradient values as one vector
/// (2 by default; `.infinity` for the largest absolute value). Parameters without a gradient are
/// skipped.
///
/// The scale is maxNorm / (norm + 1e-6) when that is below 1, exactly PyTorch's. When the norm
/// is not finite the gradients are left untouched (PyTorch would fill them with NaN or zeros):
/// the returned norm tells the caller to skip the step.
@discardableResult
public func clipGradientNorm(_ parameters: [Variable], maxNorm: Float, normType: Float = 2) -> Float {
    precondition(maxNorm >= 0 && normType > 0, "clipGradientNorm needs maxNorm >= 0 and normType > 0")
    let gradients = parameters.compactMap(\.grad)
    guard !gradients.isEmpty else { return 0 }
    let norm = globalNorm(gradients, normType: normType)
    guard norm.isFinite else { return norm }
    let scale = maxNorm / (norm + 1e-6)
    if scale < 1 {
        for parameter in parameters where parameter.grad != nil {
            parameter.grad?.withUnsafeMutableBufferPointer { g in
                for i in g.indices { g[i] *= scale }
            }
        }
    }
    return norm
}

/// Clamps every gradient value into [-limit, limit], as `torch.nn.utils.clip_grad_value_`.
public func clipGradientValues(_ parameters: [Variable], limit: Float) {
    precondition(limit >= 0, "clipGradientValues needs a limit >= 0, got \(limit)")
    for parameter in parameters where parameter.grad != nil {
        parameter.grad?.withUnsafeMutableBufferPointer { g in
            for i in g.indices { g[i] = min(max(g[i], -limit), limit) }
        }
    }
}

/// The p-norm of all values of `tensors` taken as one vector, accumulated in double precision.
public func globalNorm(_ tensors: [Tensor], normType: Float = 2) -> Float {
    if normType == .infinity {
        return tensors.reduce(0) { max($0, $1.maxAbs) }
    }
    let p = Double(normType)
    var total = 0.0
    for tensor in tensors {
        tensor.withUnsafeBufferPointer { values in
            if p == 2 {
                // Eight running sums (in Double) instead of one: the adds no longer wait on each other.
                var sums = SIMD8<Double>(), i = 0
                if let base = values.baseAddress {
                    while i + 8 <= values.count {
                        let v = SIMD8<Double>(UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<Float>.self))
                        sums += v * v
                        i += 8
                    }
                }
                for value in values[i...] { sums[0] += Double(value) * Double(value) }
                total += sums.sum()
            } else if p == 1 {
                for value in values { total += Double(abs(value)) }
            } else {
                for value in values { total += pow(Double(abs(value)), p) }
            }
        }
    }
    return Float(pow(total, 1 / p))
}
