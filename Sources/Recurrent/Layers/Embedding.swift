/// A lookup table of token vectors, PyTorch's `nn.Embedding(V, E)`: ids [B, T] -> [B, T, E]
/// (any shape of ids works; the result appends an axis of size E).
///
/// Ids travel in a `Variable` as Float values, like every other layer input; Float holds every
/// integer up to 2^24 exactly, far beyond practical vocabularies.
///
/// Ids from outside (files, users) must be checked first: `validate(_:)`, `embed(_:)` and
/// `lookup(_:)` throw `RecurrentError.invalidArgument` naming the bad id and its position.
/// `callAsFunction` is the unchecked path used inside models; an invalid id there is a
/// programming error and stops the process with the same message.
public final class Embedding: Layer {
    /// [V, E], initialized from N(0, 1) as PyTorch does.
    public let weight: Variable

    public var vocabularySize: Int { weight.shape[0] }
    public var embeddingSize: Int { weight.shape[1] }

    public init(vocabularySize: Int, embeddingSize: Int, seed: UInt64 = 0) {
        precondition(vocabularySize >= 0 && embeddingSize >= 0,
                     "Embedding sizes must not be negative: \(vocabularySize) x \(embeddingSize)")
        var rng = SplitMix64(seed: seed)
        weight = Variable(.normal(shape: [vocabularySize, embeddingSize], using: &rng), requiresGrad: true)
    }

    /// Ids [...] -> vectors [..., E]. The ids must already be valid (see the type's notes).
    public func callAsFunction(_ input: Variable) -> Variable {
        if let problem = firstInvalidId(in: input.value) { preconditionFailure(problem) }
        return gather(input.value)
    }

    /// Checks the ids, then looks them up: ids [...] -> vectors [..., E].
    public func embed(_ input: Variable) throws -> Variable {
        try validate(input.value)
        return gather(input.value)
    }

    /// Looks up rows of ids, one sequence per row, all of the same length: [B][T] -> [B, T, E].
    public func lookup(_ ids: [[Int]]) throws -> Variable {
        let time = ids.first?.count ?? 0
        if let ragged = ids.firstIndex(where: { $0.count != time }) {
            throw RecurrentError.shapeMismatch(
                "sequence \(ragged) has \(ids[ragged].count) ids, sequence 0 has \(time); pad them to one length")
        }
        for (b, row) in ids.enumerated() {
            if let t = row.firstIndex(where: { !(0..<vocabularySize).contains($0) }) {
                throw RecurrentError.invalidArgument(outOfRange("\(row[t])", at: [b, t]))
            }
        }
        return gather(Tensor(shape: [ids.count, time], scalars: ids.flatMap { $0.map(Float.init) }))
    }

    public var namedParameters: [(name: String, parameter: Variable)] { [("weight", weight)] }

    public var spec: LayerSpec { .embedding(vocabularySize: vocabularySize, embeddingSize: embeddingSize) }

    /// Copies row ids[i] of the table for every i. The backward adds each output row's gradient
    /// into its id's row, so a repeated id collects the sum.
    private func gather(_ ids: Tensor) -> Variable {
        let width = embeddingSize
        let rows = ids.scalars.map { Int($0) }
        var output = Tensor(zeros: ids.shape + [width])
        output.withUnsafeMutableBufferPointer { out in
            weight.value.withUnsafeBufferPointer { table in
                for (position, row) in rows.enumerated() {
                    for unit in 0..<width { out[position * width + unit] = table[row * width + unit] }
                }
            }
        }
        let tableShape = weight.shape
        return Variable.record(output, inputs: [weight]) { grad in
            var tableGrad = Tensor(zeros: tableShape)
            tableGrad.withUnsafeMutableBufferPointer { dW in
                grad.withUnsafeBufferPointer { dy in
                    for (position, row) in rows.enumerated() {
                        for unit in 0..<width { dW[row * width + unit] += dy[position * width + unit] }
                    }
                }
            }
            return [tableGrad]
        }
    }

    /// A description of the first id that is not a whole number in 0..<V, or nil when all are.
    private func firstInvalidId(in ids: Tensor) -> String? {
        guard let position = ids.scalars.firstIndex(where: {
            !($0.rounded() == $0 && $0 >= 0 && $0 < Float(vocabularySize))
        }) else { return nil }
        // The flat position as an index into the ids' shape, e.g. [1, 3].
        var index: [Int] = [], remainder = position
        for extent in ids.shape.reversed() {
            index.insert(remainder % max(extent, 1), at: 0)
            remainder /= max(extent, 1)
        }
        let id = ids.scalars[position]
        // Whole numbers print without ".0", so the message shows the id as it was written.
        let written = id.rounded() == id && abs(id) < 1e15 ? "\(Int64(id))" : "\(id)"
        return outOfRange(written, at: index)
    }

    private func outOfRange(_ id: String, at index: [Int]) -> String {
        "token id \(id) at \(index) is not in the vocabulary 0..<\(vocabularySize)"
    }
}

extension Embedding: InputValidating {
    /// Throws `RecurrentError.invalidArgument` naming the first id that is not a whole number
    /// in 0..<V, and its position.
    public func validate(_ input: Tensor) throws {
        if let problem = firstInvalidId(in: input) { throw RecurrentError.invalidArgument(problem) }
    }
}
