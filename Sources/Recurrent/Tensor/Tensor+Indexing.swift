extension Tensor {
    /// The slices at `indices` of the first axis, in that order: a mini-batch of samples.
    public func gathering(_ indices: [Int]) -> Tensor {
        let inner = Array(shape.dropFirst()), size = inner.reduce(1, *)
        var values = [Float]()
        values.reserveCapacity(indices.count * size)
        for index in indices { values += scalars[index * size..<(index + 1) * size] }
        return Tensor(shape: [indices.count] + inner, scalars: values)
    }
}
