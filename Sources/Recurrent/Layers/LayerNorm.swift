/// Layer normalization over the last axis, PyTorch's `nn.LayerNorm(size)`: each row is shifted
/// to mean 0 and scaled to variance 1 (the biased variance, as PyTorch uses), then scaled by
/// `weight` and shifted by `bias`.
public final class LayerNorm: Layer {
    /// [size], initialized to ones.
    public let weight: Variable
    /// [size], initialized to zeros.
    public let bias: Variable
    public let epsilon: Float

    public var size: Int { weight.value.count }

    public init(size: Int, epsilon: Float = 1e-5) {
        precondition(size >= 0, "LayerNorm size must not be negative: \(size)")
        weight = Variable(Tensor(repeating: 1, shape: [size]), requiresGrad: true)
        bias = Variable(Tensor(zeros: [size]), requiresGrad: true)
        self.epsilon = epsilon
    }

    /// [..., size] -> [..., size].
    public func callAsFunction(_ input: Variable) -> Variable {
        let width = size
        precondition(input.value.rank >= 1 && input.shape[input.value.rank - 1] == width,
                     "LayerNorm(\(width)) got input \(input.shape)")
        let rows = width == 0 ? 0 : input.value.count / width
        // normalized [N, size] and inverseDeviation [N] are what the backward needs.
        var normalized = input.value
        var inverseDeviation = [Float](repeating: 0, count: rows)
        normalized.withUnsafeMutableBufferPointer { x in
            for row in 0..<rows {
                let start = row * width
                var mean = 0.0, squares = 0.0
                for index in start..<(start + width) { mean += Double(x[index]) }
                mean /= Double(width)
                for index in start..<(start + width) {
                    let centered = Double(x[index]) - mean
                    squares += centered * centered
                }
                let inverse = Float(1 / (squares / Double(width) + Double(epsilon)).squareRoot())
                inverseDeviation[row] = inverse
                for index in start..<(start + width) { x[index] = (x[index] - Float(mean)) * inverse }
            }
        }
        let gamma = weight.value
        var output = normalized
        output.withUnsafeMutableBufferPointer { y in
            gamma.withUnsafeBufferPointer { g in
                bias.value.withUnsafeBufferPointer { b in
                    for row in 0..<rows {
                        for unit in 0..<width { y[row * width + unit] = y[row * width + unit] * g[unit] + b[unit] }
                    }
                }
            }
        }
        let needs = (input.requiresGrad, weight.requiresGrad, bias.requiresGrad)
        return Variable.record(output, inputs: [input, weight, bias]) { grad in
            let weightGrad = needs.1 ? (grad * normalized).sumRows(columns: width) : nil
            let biasGrad = needs.2 ? grad.sumRows(columns: width) : nil
            guard needs.0 else { return [nil, weightGrad, biasGrad] }
            // With g = dy * gamma: dx = inv * (g - mean(g) - xhat * mean(g * xhat)) per row.
            var inputGrad = grad
            inputGrad.withUnsafeMutableBufferPointer { dx in
                normalized.withUnsafeBufferPointer { xhat in
                    gamma.withUnsafeBufferPointer { g in
                        for row in 0..<rows {
                            let start = row * width
                            var meanGrad: Float = 0, meanProjection: Float = 0
                            for unit in 0..<width {
                                let scaled = dx[start + unit] * g[unit]
                                meanGrad += scaled
                                meanProjection += scaled * xhat[start + unit]
                            }
                            meanGrad /= Float(width)
                            meanProjection /= Float(width)
                            for unit in 0..<width {
                                let scaled = dx[start + unit] * g[unit]
                                dx[start + unit] = inverseDeviation[row]
                                    * (scaled - meanGrad - xhat[start + unit] * meanProjection)
                            }
                        }
                    }
                }
            }
            return [inputGrad, weightGrad, biasGrad]
        }
    }

    public var namedParameters: [(name: String, parameter: Variable)] { [("weight", weight), ("bias", bias)] }

    public var spec: LayerSpec { .layerNorm(size: size, epsilon: epsilon) }
}

extension LayerNorm: InputValidating {
    /// Throws unless `input` has at least one axis and its last one is `size`.
    public func validate(_ input: Tensor) throws {
        guard input.rank >= 1, input.shape[input.rank - 1] == size else {
            throw RecurrentError.shapeMismatch("LayerNorm expects inputs [..., \(size)], got \(input.shape)")
        }
    }
}
