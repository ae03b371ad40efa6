/// An elementwise operation on two values, as a type (see `Tensor.combined`).
protocol ElementwiseOperator { static func apply(_ a: Float, _ b: Float) -> Float }
enum ElementwiseSum: ElementwiseOperator { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a + b } }
enum ElementwiseDifference: ElementwiseOperator { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a - b } }
enum ElementwiseProduct: ElementwiseOperator { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a * b } }

/// Elementwise arithmetic on tensors of equal shape, and a few reductions.
extension Tensor {
    /// Values an elementwise operation takes on one thread before it splits over the threads.
    static let elementwiseGrain = 1 << 16

    @inline(__always)
    func zipped(_ other: Tensor, _ op: (Float, Float) -> Float) -> Tensor {
        precondition(shape == other.shape, "elementwise shapes differ: \(shape) and \(other.shape)")
        var result = self
        result.scalars.withUnsafeMutableBufferPointer { r in
            other.scalars.withUnsafeBufferPointer { o in
                for i in r.indices { r[i] = op(r[i], o[i]) }
            }
        }
        return result
    }

    /// `Op.apply` on every pair of values, split over the threads for large tensors (the
    /// operator a type, so that each loop is compiled for it).
    func combined<Op: ElementwiseOperator>(_ other: Tensor, _: Op.Type) -> Tensor {
        precondition(shape == other.shape, "elementwise shapes differ: \(shape) and \(other.shape)")
        return scalars.withUnsafeBufferPointer { a in
            other.scalars.withUnsafeBufferPointer { b in
                Tensor(shape: shape) { r in
                    let pointers = UncheckedSendable((a, b, r))
                    Parallel.forEachRange(r.count, grain: Self.elementwiseGrain) { range in
                        let (a, b, r) = pointers.value
                        for i in range { r[i] = Op.apply(a[i], b[i]) }
                    }
                }
            }
        }
    }

    /// Applies `op` to every value.
    public func map(_ op: (Float) -> Float) -> Tensor {
        var result = self
        result.scalars.withUnsafeMutableBufferPointer { r in
            for i in r.indices { r[i] = op(r[i]) }
        }
        return result
    }

    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.combined(rhs, ElementwiseSum.self) }
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.combined(rhs, ElementwiseDifference.self) }
    public static func * (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.combined(rhs, ElementwiseProduct.self) }
    public static func * (lhs: Tensor, rhs: Float) -> Tensor { lhs.map { $0 * rhs } }
    public static func * (lhs: Float, rhs: Tensor) -> Tensor { rhs.map { $0 * lhs } }
    public static prefix func - (operand: Tensor) -> Tensor { operand.map { -$0 } }

    public static func += (lhs: inout Tensor, rhs: Tensor) {
        precondition(lhs.shape == rhs.shape, "elementwise shapes differ: \(lhs.shape) and \(rhs.shape)")
        lhs.scalars.withUnsafeMutableBufferPointer { l in
            rhs.scalars.withUnsafeBufferPointer { r in
                let pointers = UncheckedSendable((l, r))
                Parallel.forEachRange(l.count, grain: elementwiseGrain) { range in
                    let (l, r) = pointers.value
                    for i in range { l[i] += r[i] }
                }
            }
        }
    }

    /// The sum of all values, accumulated in Double.
    public func sum() -> Float {
        var total = 0.0
        for value in scalars { total += Double(value) }
        return Float(total)
    }

    /// Sums a [rows, columns] view over its rows: the result has `columns` values.
    /// Used for bias gradients.
    func sumRows(columns: Int) -> Tensor {
        var result = [Float](repeating: 0, count: columns)
        scalars.withUnsafeBufferPointer { s in
            result.withUnsafeMutableBufferPointer { r in
                guard columns > 0, let matrix = s.baseAddress, let sums = r.baseAddress else { return }
                Kernels.addColumnSums(matrix, rows: s.count / columns, width: columns, into: sums)
            }
        }
        return Tensor(shape: [columns], scalars: result)
    }

    /// The largest absolute value, or 0 for an empty tensor.
    public var maxAbs: Float { scalars.reduce(0) { max($0, abs($1)) } }
}
