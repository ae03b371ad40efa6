/// Differentiable joining and splitting: the glue between the directions and layers of a
/// recurrent stack.
extension Variable {
    /// Concatenates along the last axis; all leading dimensions must agree.
    public static func concatenateLastAxis(_ parts: [Variable]) -> Variable {
        precondition(!parts.isEmpty, "nothing to concatenate")
        if parts.count == 1 { return parts[0] }
        let lead = Array(parts[0].shape.dropLast())
        let widths = parts.map { $0.shape.last ?? 1 }
        let total = widths.reduce(0, +), rows = lead.reduce(1, *)
        precondition(parts.allSatisfy { Array($0.shape.dropLast()) == lead }, "concatenation shapes differ: \(parts.map(\.shape))")
        var joined = [Float](repeating: 0, count: rows * total)
        var offset = 0
        for (part, width) in zip(parts, widths) {
            part.value.scalars.withUnsafeBufferPointer { source in
                for r in 0..<rows { for j in 0..<width { joined[r * total + offset + j] = source[r * width + j] } }
            }
            offset += width
        }
        return record(Tensor(shape: lead + [total], scalars: joined), inputs: parts) { grad in
            var offset = 0
            return zip(parts, widths).map { part, width in
                var piece = [Float](repeating: 0, count: rows * width)
                for r in 0..<rows { for j in 0..<width { piece[r * width + j] = grad.scalars[r * total + offset + j] } }
                offset += width
                return Tensor(shape: part.shape, scalars: piece)
            }
        }
    }

    /// [B, E] -> [B, T, E]: each row repeated at `steps` steps (its gradient: the sum over them).
    public func repeatedSteps(_ steps: Int) -> Variable {
        precondition(shape.count == 2, "repeatedSteps takes [batch, width], not \(shape)")
        let (batch, width) = (shape[0], shape[1]), source = value.scalars
        var repeated = [Float](repeating: 0, count: batch * steps * width)
        for b in 0..<batch { for t in 0..<steps { for j in 0..<width { repeated[(b * steps + t) * width + j] = source[b * width + j] } } }
        return Variable.record(Tensor(shape: [batch, steps, width], scalars: repeated), inputs: [self]) { grad in
            var sums = [Float](repeating: 0, count: batch * width)
            for b in 0..<batch { for t in 0..<steps { for j in 0..<width { sums[b * width + j] += grad.scalars[(b * steps + t) * width + j] } } }
            return [Tensor(shape: [batch, width], scalars: sums)]
        }
    }

    /// Stacks equally shaped variables along a new first axis.
    public static func stack(_ parts: [Variable]) -> Variable {
        precondition(!parts.isEmpty, "nothing to stack")
        let shape = parts[0].shape
        precondition(parts.allSatisfy { $0.shape == shape }, "stacked shapes differ: \(parts.map(\.shape))")
        let size = parts[0].value.count
        let value = Tensor(shape: [parts.count] + shape, scalars: parts.flatMap(\.value.scalars))
        return record(value, inputs: parts) { grad in
            (0..<parts.count).map { Tensor(shape: shape, scalars: Array(grad.scalars[$0 * size..<($0 + 1) * size])) }
        }
    }

    /// The slice at `index` of the first axis.
    public func select(_ index: Int) -> Variable {
        let inner = Array(shape.dropFirst()), size = inner.reduce(1, *), outer = shape
        let value = Tensor(shape: inner, scalars: Array(self.value.scalars[index * size..<(index + 1) * size]))
        return Variable.record(value, inputs: [self]) { grad in
            var full = Tensor(zeros: outer)
            full.scalars.replaceSubrange(index * size..<(index + 1) * size, with: grad.scalars)
            return [full]
        }
    }

    /// The same value, cut off from the graph: gradients stop here (truncated backpropagation
    /// through time carries state across chunks this way).
    public func detached() -> Variable { Variable(value) }
}
