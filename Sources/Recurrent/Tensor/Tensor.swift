/// A shaped array of Float32 values, row-major. A value type: copies share storage until one
/// of them is written to (Swift arrays are copy-on-write), so passing tensors around is cheap.
public struct Tensor: Equatable, Sendable {
    /// The extent of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// The values, row-major; `scalars.count == shape.reduce(1, *)`.
    public var scalars: [Float]

    /// Wraps `scalars` as a tensor of `shape`. The caller guarantees the count matches
    /// (checked in debug builds); use `init(shape:checking:)` for values from outside.
    public init(shape: [Int], scalars: [Float]) {
        assert(shape.reduce(1, *) == scalars.count, "shape \(shape) does not hold \(scalars.count) values")
        self.shape = shape
        self.scalars = scalars
    }

    /// Wraps `scalars` as a tensor of `shape`, or throws when the count does not match.
    public init(shape: [Int], checking scalars: [Float]) throws {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == scalars.count else {
            throw RecurrentError.shapeMismatch("shape \(shape) needs \(shape.reduce(1, *)) values, got \(scalars.count)")
        }
        self.init(shape: shape, scalars: scalars)
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    /// A tensor of `shape` whose values `fill` writes, every one of them, into fresh memory
    /// (no zeroing first; NaN under `FloatBuffer.poisonsUnzeroed`).
    init(shape: [Int], fill: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let count = shape.reduce(1, *)
        self.init(shape: shape, scalars: [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            let values = UnsafeMutableBufferPointer(rebasing: buffer[0..<count])
            if FloatBuffer.poisonsUnzeroed { values.initialize(repeating: .nan) }
            fill(values)
            initialized = count
        })
    }

    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// A scalar tensor of shape [].
    public init(_ value: Float) { self.init(shape: [], scalars: [value]) }

    public var count: Int { scalars.count }
    public var rank: Int { shape.count }

    /// The same values under another shape with the same count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }

    /// The first value; for scalar tensors such as losses.
    public var scalar: Float { scalars[0] }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeBufferPointer(body)
    }

    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try scalars.withUnsafeMutableBufferPointer(body)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = scalars.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor\(shape)[\(head)\(count > 8 ? ", ..." : "")]"
    }
}
