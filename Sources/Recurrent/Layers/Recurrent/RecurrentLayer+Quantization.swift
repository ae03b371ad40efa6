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
    /// bfloat16 (a float's top 16 bits, rounded to nearest), activations in float.
    case bf16
}

/// The value nearest to `x` that bfloat16 holds (ties to even; rk_bfloat16_bits, which packing
/// uses too): a float whose low 16 bits are 0.
func roundedToBFloat16(_ x: Float) -> Float {
    Float(bitPattern: UInt32(rk_bfloat16_bits(x)) << 16)
}

/// One direction's W_ih and W_hh as the fused steps read them when the layer is quantized.
enum QuantizedWeights: Sendable {
    case int8(input: Int8Matrix, hidden: Int8Matrix)
    /// The parameters hold the values, each exact in bfloat16; they are packed as their top halves.
    case bf16

    var int8: (input: Int8Matrix, hidden: Int8Matrix)? {
        if case let .int8(input, hidden) = self { return (input, hidden) }
        return nil
    }
}

/// The quantized form of one direction's W_ih and W_hh, when the layer is quantized.
final class QuantizedWeightSlot: Sendable {
    let weights = Mutex<QuantizedWeights?>(nil)
    var current: QuantizedWeights? { weights.withLock { $0 } }
}

extension RecurrentLayer {
    /// How the recurrent weights are stored: nil for float.
    public var quantization: WeightQuantization? {
        switch directions.first?.first?.quantized.current {
        case .int8?: return .int8
        case .bf16?: return .bf16
        case nil: return nil
        }
    }

    /// Stores W_ih and W_hh of every layer and direction quantized, for inference: the fused
    /// steps (sequences and streams) then read the int8 values or the bfloat16 halves, and the
    /// parameters hold the values they stand for, which every other path (the Swift steps,
    /// export) uses.
    public func quantize(_ kind: WeightQuantization) {
        for pair in directions {
            for p in pair {
                switch kind {
                case .int8:
                    setQuantized(p, input: Int8Matrix(quantizing: p.inputWeight.value), hidden: Int8Matrix(quantizing: p.hiddenWeight.value))
                case .bf16:
                    setBFloat16(p, input: p.inputWeight.value, hidden: p.hiddenWeight.value)
                }
            }
        }
    }

    /// Installs int8 weights read from a file (shapes checked by the caller).
    func setQuantized(_ p: DirectionParameters, input: Int8Matrix, hidden: Int8Matrix) {
        p.inputWeight.value = input.dequantized
        p.hiddenWeight.value = hidden.dequantized
        p.quantized.weights.withLock { $0 = .int8(input: input, hidden: hidden) }
        p.packedForInference.drop()
    }

    /// W_ih and W_hh rounded to bfloat16 (values read from a bfloat16 file stay as they are).
    func setBFloat16(_ p: DirectionParameters, input: Tensor, hidden: Tensor) {
        p.inputWeight.value = Tensor(shape: input.shape, scalars: input.scalars.map(roundedToBFloat16))
        p.hiddenWeight.value = Tensor(shape: hidden.shape, scalars: hidden.scalars.map(roundedToBFloat16))
        p.quantized.weights.withLock { $0 = .bf16 }
        p.packedForInference.drop()
    }

    /// The int8 weights by parameter name ("weight_ih_l0", ...), for a model file.
    var quantizedParameters: [(input: Variable, hidden: Variable, weights: (input: Int8Matrix, hidden: Int8Matrix))] {
        directions.flatMap { pair in
            pair.compactMap { p in p.quantized.current?.int8.map { (p.inputWeight, p.hiddenWeight, $0) } }
        }
    }

    /// W_ih and W_hh of the directions stored as bfloat16, for a model file.
    var bfloat16Parameters: [Variable] {
        directions.flatMap { pair in
            pair.flatMap { p -> [Variable] in
                if case .bf16? = p.quantized.current { return [p.inputWeight, p.hiddenWeight] }
                return []
            }
        }
    }
}

extension PackedRecurrentWeights {
    /// W_ih's and W_hh's bfloat16 halves packed by blocks of units (rk_recurrent_pack_bf16).
    convenience init(gates: Int, hidden: Int, input: Int, bf16InputWeight: UnsafePointer<Float>, hiddenWeight: UnsafePointer<Float>) {
        let count = Int(rk_recurrent_packed_floats(Int32(gates), Int32(hidden), Int32(input)))
        let values = UnsafeMutablePointer<UInt16>.allocate(capacity: max(count, 1))
        rk_recurrent_pack_bf16(Int32(gates), Int32(hidden), Int32(input), bf16InputWeight, hiddenWeight, values)
        self.init(input: input, bf16: BFloat16Buffer(pointer: values))
    }

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

/// Packed bfloat16 weights (rk_recurrent_pack_bf16).
final class BFloat16Buffer {
    let pointer: UnsafeMutablePointer<UInt16>
    init(pointer: UnsafeMutablePointer<UInt16>) { self.pointer = pointer }
    deinit { pointer.deallocate() }
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

    /// How the recurrent weights inside are stored, when some recurrent layer holds quantized
    /// weights (nil: all float).
    public var quantization: WeightQuantization? { recurrentLayers.lazy.compactMap(\.quantization).first }

    /// Whether some recurrent layer inside holds quantized weights.
    public var isQuantized: Bool { quantization != nil }
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

    /// The parameter names of the recurrent weights stored as bfloat16.
    public var namedBFloat16Parameters: Set<String> {
        let names = Dictionary(namedParameters.map { (ObjectIdentifier($0.parameter), $0.name) }, uniquingKeysWith: { first, _ in first })
        return Set(recurrentLayers.flatMap { $0.bfloat16Parameters.compactMap { names[ObjectIdentifier($0)] } })
    }

    /// Marks the recurrent weights read from bfloat16 tensors of a model file (the parameters
    /// already hold their values): each must be W_ih or W_hh of a recurrent layer, both of a
    /// direction bfloat16.
    func installBFloat16Weights(_ stored: Set<String>, from source: String) throws {
        try installStoredWeights(names: stored, kind: "bfloat16", from: source) { layer, p, _, _ in
            layer.setBFloat16(p, input: p.inputWeight.value, hidden: p.hiddenWeight.value)
        }
    }

    /// Installs int8 matrices read from a model file (whose dequantized values the parameters
    /// already hold): each must be W_ih or W_hh of a recurrent layer, both of a direction int8.
    func installQuantizedWeights(_ matrices: [String: Int8Matrix], from source: String) throws {
        try installStoredWeights(names: Set(matrices.keys), kind: "int8", from: source) { layer, p, inputName, hiddenName in
            if let input = matrices[inputName], let hidden = matrices[hiddenName] { layer.setQuantized(p, input: input, hidden: hidden) }
        }
    }

    /// Calls `install` for every direction whose W_ih and W_hh are both among `names` (stored as
    /// `kind` in the file `source`), refusing a direction with one of the two, and a name that
    /// is no recurrent weight.
    private func installStoredWeights(names stored: Set<String>, kind: String, from source: String,
                                      _ install: (RecurrentLayer, RecurrentLayer.DirectionParameters, String, String) -> Void) throws {
        guard !stored.isEmpty else { return }
        let names = Dictionary(namedParameters.map { (ObjectIdentifier($0.parameter), $0.name) }, uniquingKeysWith: { first, _ in first })
        var installed = Set<String>()
        for layer in recurrentLayers {
            for p in layer.directions.joined() {
                let inputName = names[ObjectIdentifier(p.inputWeight)] ?? "", hiddenName = names[ObjectIdentifier(p.hiddenWeight)] ?? ""
                switch (stored.contains(inputName), stored.contains(hiddenName)) {
                case (true, true):
                    install(layer, p, inputName, hiddenName)
                    installed.formUnion([inputName, hiddenName])
                case (false, false): continue
                default:
                    let other = stored.contains(inputName) ? hiddenName : inputName
                    throw RecurrentError.invalidFile(path: source, reason: "tensor \"\(other)\" is not \(kind), but its direction's other weight is; both must be")
                }
            }
        }
        if let stray = stored.sorted().first(where: { !installed.contains($0) }) {
            throw RecurrentError.invalidFile(path: source, reason: "tensor \"\(stray)\" is \(kind), but only the weights of recurrent layers can be")
        }
    }
}
