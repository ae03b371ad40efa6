import CRecurrentKernels
import Synchronization

/// A matrix [rows, columns] quantized to int8 by rows, as PyTorch's dynamic quantization stores
/// weights: row r is `scales[r]` times `values[r, :]`, the scale being the row's largest
/// magnitude over 127 (zero for a row of zeros), each value rounded to the nearest integer.
public struct Int8Matrix: Equatable, Sendable {
    public let rows: Int, columns: Int
    /// [rows, columns] row-major, in -127...127.
    public let values: [Int8]
    /// [rows]
    public let scales: [Float]

    /// Checks the sizes and the scales (finite, not negative); `name` names the matrix in errors.
    public init(rows: Int, columns: Int, values: [Int8], scales: [Float], name: String = "matrix") throws {
        guard rows >= 0, columns >= 0, values.count == rows * columns, scales.count == rows else {
            throw RecurrentError.shapeMismatch(
                "\(name): \(values.count) int8 values and \(scales.count) scales for [\(rows), \(columns)]")
        }
        if let bad = scales.firstIndex(where: { !$0.isFinite || $0 < 0 }) {
            throw RecurrentError.invalidArgument("\(name): scale of row \(bad) is \(scales[bad]), expected a finite value >= 0")
        }
        (self.rows, self.columns, self.values, self.scales) = (rows, columns, values, scales)
    }

    /// Quantizes a matrix [rows, columns] by rows.
    public init(quantizing matrix: Tensor) {
        let columns = matrix.rank == 2 ? matrix.shape[1] : matrix.count
        let rows = columns == 0 ? 0 : matrix.count / columns
        var values = [Int8](repeating: 0, count: rows * columns), scales = [Float](repeating: 0, count: rows)
        matrix.scalars.withUnsafeBufferPointer { w in
            for r in 0..<rows {
                let row = w[(r * columns)..<((r + 1) * columns)]
                let largest = row.reduce(Float(0)) { max($0, abs($1)) }
                guard largest > 0 else { continue }
                scales[r] = largest / 127
                for (k, value) in row.enumerated() { values[r * columns + k] = Int8(max(-127, min(127, (value / scales[r]).rounded()))) }
            }
        }
        (self.rows, self.columns, self.values, self.scales) = (rows, columns, values, scales)
    }

    /// The float matrix the quantized one stands for: [rows, columns].
    public var dequantized: Tensor {
        Tensor(shape: [rows, columns], scalars: (0..<(rows * columns)).map { Float(values[$0]) * scales[$0 / max(columns, 1)] })
    }
}

/// How a layer's weights are stored for inference.
public enum WeightQuantization: String, Sendable, CaseIterable {
    /// int8 by rows, activations in float.
    case int8
}

/// The int8 form of one direction's W_ih and W_hh, when the layer is quantized.
final class QuantizedWeightSlot: Sendable {
    let weights = Mutex<(input: Int8Matrix, hidden: Int8Matrix)?>(nil)
    var current: (input: Int8Matrix, hidden: Int8Matrix)? { weights.withLock { $0 } }
}

extension RecurrentLayer {
    /// How the recurrent weights are stored: nil for float.
    public var quantization: WeightQuantization? {
        directions.first?.first?.quantized.current == nil ? nil : .int8
    }

    /// Stores W_ih and W_hh of every layer and direction as int8 by rows, for inference: the
    /// fused steps (sequences and streams) then read the int8 values, and the parameters hold
    /// the dequantized values, which every other path (the Swift steps, export) uses.
    public func quantize(_ kind: WeightQuantization) {
        for pair in directions {
            for p in pair {
                setQuantized(p, input: Int8Matrix(quantizing: p.inputWeight.value), hidden: Int8Matrix(quantizing: p.hiddenWeight.value))
            }
        }
    }

    /// Installs int8 weights read from a file (shapes checked by the caller).
    func setQuantized(_ p: DirectionParameters, input: Int8Matrix, hidden: Int8Matrix) {
        p.inputWeight.value = input.dequantized
        p.hiddenWeight.value = hidden.dequantized
        p.quantized.weights.withLock { $0 = (input, hidden) }
        p.packedForInference.drop()
    }

    /// The int8 weights by parameter name ("weight_ih_l0", ...), for a model file.
    var quantizedParameters: [(input: Variable, hidden: Variable, weights: (input: Int8Matrix, hidden: Int8Matrix))] {
        directions.flatMap { pair in
            pair.compactMap { p in p.quantized.current.map { (p.inputWeight, p.hiddenWeight, $0) } }
        }
    }
}

extension PackedRecurrentWeights {
    /// W_ih's and W_hh's int8 values packed by blocks of units (rk_recurrent_pack_int8).
    convenience init(gates: Int, hidden: Int, input: Int, int8 weights: (input: Int8Matrix, hidden: Int8Matrix)) {
        let count = Int(rk_recurrent_packed_floats(Int32(gates), Int32(hidden), Int32(input)))
        let values = UnsafeMutablePointer<Int8>.allocate(capacity: max(count, 1))
        let scales = FloatBuffer(count: Int(rk_recurrent_packed_scales(Int32(gates), Int32(hidden))), zeroed: false)
        weights.input.values.withUnsafeBufferPointer { inputValues in
            weights.hidden.values.withUnsafeBufferPointer { hiddenValues in
                rk_recurrent_pack_int8(Int32(gates), Int32(hidden), Int32(input), inputValues.baseAddress, weights.input.scales,
                                       hiddenValues.baseAddress, weights.hidden.scales, values, scales.pointer)
            }
        }
        self.init(input: input, int8: Int8Buffer(pointer: values, scales: scales))
    }
}

/// Packed int8 weights and their row scales (rk_recurrent_pack_int8).
final class Int8Buffer {
    let pointer: UnsafeMutablePointer<Int8>
    let scales: FloatBuffer
    init(pointer: UnsafeMutablePointer<Int8>, scales: FloatBuffer) {
        self.pointer = pointer
        self.scales = scales
    }
    deinit { pointer.deallocate() }
}

extension Layer {
    /// The recurrent layers inside this layer (itself included), found through its stored
    /// properties and arrays of layers.
    public var recurrentLayers: [RecurrentLayer] {
        var found: [RecurrentLayer] = [], seen = Set<ObjectIdentifier>()
        collectRecurrentLayers(self, into: &found, seen: &seen)
        return found
    }

    /// Whether some recurrent layer inside holds quantized weights.
    public var isQuantized: Bool { recurrentLayers.contains { $0.quantization != nil } }
}

private func collectRecurrentLayers(_ value: Any, into found: inout [RecurrentLayer], seen: inout Set<ObjectIdentifier>) {
    if let layer = value as? any Layer {
        guard seen.insert(ObjectIdentifier(layer)).inserted else { return }
        if let recurrent = layer as? RecurrentLayer { return found.append(recurrent) }
        var mirror: Mirror? = Mirror(reflecting: layer)
        while let current = mirror {
            for child in current.children { collectRecurrentLayers(child.value, into: &found, seen: &seen) }
            mirror = current.superclassMirror
        }
        return
    }
    let mirror = Mirror(reflecting: value)
    switch mirror.displayStyle {
    case .optional?:
        for child in mirror.children { collectRecurrentLayers(child.value, into: &found, seen: &seen) }
    case .collection?:
        // Only arrays of layers: arrays of numbers would be walked element by element for nothing.
        guard let first = mirror.children.first, first.value is any Layer || Mirror(reflecting: first.value).displayStyle == .optional
        else { return }
        for child in mirror.children { collectRecurrentLayers(child.value, into: &found, seen: &seen) }
    default: return
    }
}

extension Layer {
    /// The int8 matrices of the quantized recurrent layers inside, under their parameter names.
    public var namedQuantizedMatrices: [String: Int8Matrix] {
        let names = Dictionary(namedParameters.map { (ObjectIdentifier($0.parameter), $0.name) }, uniquingKeysWith: { first, _ in first })
        var matrices: [String: Int8Matrix] = [:]
        for layer in recurrentLayers {
            for (input, hidden, weights) in layer.quantizedParameters {
                if let name = names[ObjectIdentifier(input)] { matrices[name] = weights.input }
                if let name = names[ObjectIdentifier(hidden)] { matrices[name] = weights.hidden }
            }
        }
        return matrices
    }

    /// Installs int8 matrices read from a model file (whose dequantized values the parameters
    /// already hold): each must be W_ih or W_hh of a recurrent layer, both of a direction int8.
    func installQuantizedWeights(_ matrices: [String: Int8Matrix], from source: String) throws {
        guard !matrices.isEmpty else { return }
        let names = Dictionary(namedParameters.map { (ObjectIdentifier($0.parameter), $0.name) }, uniquingKeysWith: { first, _ in first })
        var installed = Set<String>()
        for layer in recurrentLayers {
            for p in layer.directions.joined() {
                let inputName = names[ObjectIdentifier(p.inputWeight)] ?? "", hiddenName = names[ObjectIdentifier(p.hiddenWeight)] ?? ""
                switch (matrices[inputName], matrices[hiddenName]) {
                case let (input?, hidden?):
                    layer.setQuantized(p, input: input, hidden: hidden)
                    installed.formUnion([inputName, hiddenName])
                case (nil, nil): continue
                default:
                    let missing = matrices[inputName] == nil ? inputName : hiddenName
                    throw RecurrentError.invalidFile(path: source, reason: "tensor \"\(missing)\" is float, but its direction's other weight is int8; both must be")
                }
            }
        }
        if let stray = matrices.keys.sorted().first(where: { !installed.contains($0) }) {
            throw RecurrentError.invalidFile(path: source, reason: "tensor \"\(stray)\" is int8, but only the weights of recurrent layers can be")
        }
    }
}
