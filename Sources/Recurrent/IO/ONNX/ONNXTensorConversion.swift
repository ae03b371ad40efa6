import Foundation

// Tensors and attributes between Recurrent's types and ONNX's protobuf messages. Floats travel
// as raw little-endian bytes, so a value written and read back is the same bit pattern.

extension Onnx_TensorProto {
    /// A float32 initializer holding `tensor` under `name`.
    init(_ tensor: Tensor, name: String) {
        self.init()
        self.name = name
        dims = tensor.shape.map(Int64.init)
        dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        rawData = tensor.scalars.withUnsafeBufferPointer { buffer in
            var bytes = Data(capacity: buffer.count * 4)
            for value in buffer { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
            return bytes
        }
    }

    /// An int64 initializer of `shape` (a vector when nil).
    init(int64 values: [Int64], shape: [Int]? = nil, name: String) {
        self.init()
        self.name = name
        dims = (shape ?? [values.count]).map(Int64.init)
        dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        int64Data = values
    }

    /// A float32 scalar or vector initializer.
    init(floats values: [Float], shape: [Int]? = nil, name: String) {
        self.init(Tensor(shape: shape ?? [values.count], scalars: values), name: name)
    }

    var elementTypeName: String {
        Onnx_TensorProto.DataType(rawValue: Int(dataType)).map { "\($0)" } ?? "type \(dataType)"
    }

    /// The dimensions, refused when negative or too many values to hold.
    func checkedShape(_ describe: String) throws -> [Int] {
        let shape = dims.map(Int.init)
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }) < (1 << 31)
        else { throw RecurrentError.invalidArgument("\(describe) has dimensions \(dims)") }
        return shape
    }

    /// The values of a float32 tensor (raw bytes or float_data); throws naming the tensor when it
    /// is of another type, stored outside the file, or holds the wrong number of values.
    func floatTensor(_ describe: String) throws -> Tensor {
        guard dataType == Int32(Onnx_TensorProto.DataType.float.rawValue) else {
            throw RecurrentError.invalidArgument("\(describe) holds \(elementTypeName), expected float")
        }
        guard dataLocation != .external, externalData.isEmpty else {
            throw RecurrentError.invalidArgument("\(describe) is stored in an external file; save the model with its weights inside")
        }
        let shape = try checkedShape(describe)
        let count = shape.reduce(1, *)
        let scalars: [Float]
        if hasRawData {
            guard rawData.count == count * 4 else {
                throw RecurrentError.invalidArgument("\(describe) has \(rawData.count) bytes of data, expected \(count * 4) for shape \(shape)")
            }
            scalars = rawData.withUnsafeBytes { raw in
                (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            }
        } else {
            guard floatData.count == count else {
                throw RecurrentError.invalidArgument("\(describe) has \(floatData.count) values, expected \(count) for shape \(shape)")
            }
            scalars = floatData
        }
        return Tensor(shape: shape, scalars: scalars)
    }

    /// The values of an integer tensor (int64 or int32), for shapes, axes and indices.
    func integers(_ describe: String) throws -> [Int] {
        let shape = try checkedShape(describe)
        let count = shape.reduce(1, *)
        let type = Onnx_TensorProto.DataType(rawValue: Int(dataType))
        let width = type == .int64 ? 8 : type == .int32 ? 4 : 0
        guard width > 0 else { throw RecurrentError.invalidArgument("\(describe) holds \(elementTypeName), expected integers") }
        if hasRawData {
            guard rawData.count == count * width else {
                throw RecurrentError.invalidArgument("\(describe) has \(rawData.count) bytes of data, expected \(count * width)")
            }
            return rawData.withUnsafeBytes { raw in
                (0..<count).map { index in
                    width == 8 ? Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: index * 8, as: Int64.self)))
                        : Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: index * 4, as: Int32.self)))
                }
            }
        }
        let values = type == .int64 ? int64Data.map(Int.init) : int32Data.map(Int.init)
        guard values.count == count else {
            throw RecurrentError.invalidArgument("\(describe) has \(values.count) values, expected \(count)")
        }
        return values
    }
}

extension Onnx_AttributeProto {
    static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .int
        attribute.i = Int64(value)
        return attribute
    }

    static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .ints
        attribute.ints = values.map(Int64.init)
        return attribute
    }

    static func float(_ name: String, _ value: Float) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .float
        attribute.f = value
        return attribute
    }

    static func string(_ name: String, _ value: String) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .string
        attribute.s = Data(value.utf8)
        return attribute
    }

    static func strings(_ name: String, _ values: [String]) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .strings
        attribute.strings = values.map { Data($0.utf8) }
        return attribute
    }
}
