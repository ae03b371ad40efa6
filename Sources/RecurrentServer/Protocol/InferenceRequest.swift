import Foundation

/// The values of one tensor, in the element type its datatype names.
enum TensorValues: Sendable {
    case float32([Float])
    case float64([Double])
    case integers([Int])
    case bytes([[UInt8]])

    var count: Int {
        switch self {
        case .float32(let values): return values.count
        case .float64(let values): return values.count
        case .integers(let values): return values.count
        case .bytes(let values): return values.count
        }
    }
}

/// One input of an inference request, as the Open Inference Protocol spells it.
struct RequestTensor: Sendable {
    var name: String
    var datatype: String
    var shape: [Int]
    var values: TensorValues
}

/// An output the client asked for, and whether it wants it as raw bytes after the JSON.
struct RequestedOutput: Sendable {
    var name: String
    var binary: Bool
}

/// `POST /v2/models/{m}/infer`: the JSON document, with the binary tensor extension (the first
/// `Inference-Header-Content-Length` bytes are JSON; each input with a `binary_data_size`
/// parameter takes that many bytes of the rest, in order).
struct InferenceRequest: Sendable {
    var id: String?
    var parameters: [String: JSON]
    var inputs: [RequestTensor]
    /// nil: every output, as `binaryByDefault` says.
    var outputs: [RequestedOutput]?
    var binaryByDefault: Bool

    /// Element sizes of the fixed-width datatypes the protocol names.
    static let elementSizes: [String: Int] = [
        "BOOL": 1, "UINT8": 1, "INT8": 1, "UINT16": 2, "INT16": 2, "FP16": 2, "BF16": 2,
        "UINT32": 4, "INT32": 4, "FP32": 4, "UINT64": 8, "INT64": 8, "FP64": 8,
    ]

    /// The request-level parameters this server reads; any other is refused by name.
    static let knownParameters: Set<String> = [
        "sequence_id", "sequence_start", "sequence_end", "binary_data_output", "priority", "timeout",
        "steps", "max_tokens", "temperature", "top_k", "top_p", "seed", "beam",
    ]

    /// A request from its parts (the gRPC service builds one so): refuses a parameter this
    /// server does not read and an input given twice.
    init(id: String?, parameters: [String: JSON], inputs: [RequestTensor], outputs: [RequestedOutput]?, binaryByDefault: Bool) throws {
        if let unknown = Set(parameters.keys).subtracting(Self.knownParameters).sorted().first {
            throw ServerError.badRequest("unknown parameter \"\(unknown)\" in \"parameters\" (known: \(Self.knownParameters.sorted().joined(separator: ", ")))")
        }
        var seen = Set<String>()
        if let repeated = inputs.first(where: { !seen.insert($0.name).inserted }) {
            throw ServerError.badRequest("input \"\(repeated.name)\" is given twice")
        }
        self.id = id
        self.parameters = parameters
        self.inputs = inputs
        self.outputs = outputs
        self.binaryByDefault = binaryByDefault
    }

    /// The JSON body of the REST protocol, with binary tensors after it.
    init(body: [UInt8], headerLength: String?) throws {
        var jsonEnd = body.count
        if let headerLength {
            guard let length = Int(headerLength.trimmingCharacters(in: .whitespaces)), length >= 0 else {
                throw ServerError.badRequest("header Inference-Header-Content-Length is \"\(headerLength)\", expected a byte count")
            }
            guard length <= body.count else {
                throw ServerError.badRequest(
                    "header Inference-Header-Content-Length is \(length) but the body has only \(body.count) bytes")
            }
            jsonEnd = length
        }
        let document: JSON
        do {
            document = try JSONReader.parse(body[0..<jsonEnd])
        } catch let failure as JSONReader.Failure {
            throw ServerError.badRequest("request body: \(failure)")
        }
        guard let fields = document.objectValue else {
            throw ServerError.badRequest("request body is \(document.kindName), expected a JSON object with \"inputs\"")
        }
        if let unknown = Set(fields.keys).subtracting(["id", "parameters", "inputs", "outputs"]).sorted().first {
            throw ServerError.badRequest("unknown field \"\(unknown)\" in the request (expected id, parameters, inputs, outputs)")
        }
        let id: String?
        switch fields["id"] {
        case nil: id = nil
        case .string(let text)?: id = text
        case let other?: throw ServerError.badRequest("field \"id\" is \(other.kindName), expected a string")
        }
        let parameters = try Self.parameters(fields["parameters"], at: "parameters")
        let binaryByDefault: Bool
        switch parameters["binary_data_output"] {
        case nil: binaryByDefault = false
        case .bool(let flag)?: binaryByDefault = flag
        case let other?: throw ServerError.badRequest("parameter \"binary_data_output\" is \(other.kindName), expected a boolean")
        }
        guard let inputList = fields["inputs"]?.arrayValue else {
            throw ServerError.badRequest(fields["inputs"] == nil ? "field \"inputs\" is missing" : "field \"inputs\" must be an array")
        }
        var binary = body[jsonEnd...]
        var inputs: [RequestTensor] = []
        for (index, item) in inputList.enumerated() {
            inputs.append(try Self.tensor(item, at: "inputs[\(index)]", binary: &binary))
        }
        guard binary.isEmpty else {
            throw ServerError.badRequest("\(binary.count) bytes of binary data follow the JSON but no input's binary_data_size claims them")
        }
        try self.init(id: id, parameters: parameters, inputs: inputs, outputs: try fields["outputs"].map { try Self.outputs($0) },
                      binaryByDefault: binaryByDefault)
    }

    /// The number of values a shape holds, refused past 2^31 (a client's typo must not take
    /// the machine's memory).
    static func valueCount(_ shape: [Int], of name: String) throws -> Int {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { throw ServerError.badRequest("\(name): shape \(shape) must hold whole numbers 0 or more") }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= 1 << 31 else { throw ServerError.badRequest("\(name): shape is too large") }
            count = product
        }
        return count
    }

    static func parameters(_ value: JSON?, at path: String) throws -> [String: JSON] {
        guard let value else { return [:] }
        guard let fields = value.objectValue else { throw ServerError.badRequest("field \"\(path)\" must be an object") }
        return fields
    }

    static func outputs(_ value: JSON) throws -> [RequestedOutput] {
        guard let items = value.arrayValue else { throw ServerError.badRequest("field \"outputs\" must be an array") }
        return try items.enumerated().map { index, item in
            let path = "outputs[\(index)]"
            guard let fields = item.objectValue, let name = fields["name"]?.stringValue else {
                throw ServerError.badRequest("\(path) must be an object with a \"name\"")
            }
            let parameters = try Self.parameters(fields["parameters"], at: "\(path).parameters")
            if let unknown = Set(parameters.keys).subtracting(["binary_data", "classification"]).sorted().first {
                throw ServerError.badRequest("unknown parameter \"\(unknown)\" in \(path).parameters (known: binary_data)")
            }
            if parameters["classification"] != nil {
                throw ServerError.badRequest("\(path): the classification extension is not served; ask the classify endpoint for labels")
            }
            switch parameters["binary_data"] {
            case nil: return RequestedOutput(name: name, binary: false)
            case .bool(let flag)?: return RequestedOutput(name: name, binary: flag)
            case let other?: throw ServerError.badRequest("\(path).parameters.binary_data is \(other.kindName), expected a boolean")
            }
        }
    }

    static func tensor(_ item: JSON, at path: String, binary: inout ArraySlice<UInt8>) throws -> RequestTensor {
        guard let fields = item.objectValue else { throw ServerError.badRequest("\(path) must be an object") }
        if let unknown = Set(fields.keys).subtracting(["name", "shape", "datatype", "parameters", "data"]).sorted().first {
            throw ServerError.badRequest("unknown field \"\(unknown)\" in \(path)")
        }
        guard let name = fields["name"]?.stringValue else { throw ServerError.badRequest("\(path).name is missing or not a string") }
        let where_ = "input \"\(name)\""
        guard let datatype = fields["datatype"]?.stringValue else { throw ServerError.badRequest("\(where_): datatype is missing or not a string") }
        guard let shapeItems = fields["shape"]?.arrayValue else { throw ServerError.badRequest("\(where_): shape is missing or not an array") }
        let shape = try shapeItems.map { item -> Int in
            guard let value = item.numberValue, value.rounded() == value, value >= 0, value < 1e12 else {
                throw ServerError.badRequest("\(where_): shape \(JSONWriter.encode(.array(shapeItems))) must hold whole numbers 0 or more")
            }
            return Int(value)
        }
        let count = try valueCount(shape, of: where_)
        let parameters = try Self.parameters(fields["parameters"], at: "\(path).parameters")
        if let unknown = Set(parameters.keys).subtracting(["binary_data_size"]).sorted().first {
            throw ServerError.badRequest("unknown parameter \"\(unknown)\" in \(where_)'s parameters (known: binary_data_size)")
        }
        guard datatype == "BYTES" || elementSizes[datatype] != nil else {
            throw ServerError.badRequest("\(where_): datatype \"\(datatype)\" is not one of the protocol's (\(elementSizes.keys.sorted().joined(separator: ", ")), BYTES)")
        }
        let values: TensorValues
        if let size = parameters["binary_data_size"] {
            guard fields["data"] == nil else { throw ServerError.badRequest("\(where_) has both \"data\" and binary_data_size") }
            guard let size = size.numberValue, size.rounded() == size, size >= 0, size < 1e15 else {
                throw ServerError.badRequest("\(where_): binary_data_size must be a byte count")
            }
            guard Int(size) <= binary.count else {
                throw ServerError.badRequest("\(where_): binary_data_size is \(Int(size)) but only \(binary.count) bytes of binary data remain")
            }
            let bytes = binary.prefix(Int(size))
            binary = binary.dropFirst(Int(size))
            values = try decodeBinary(bytes, datatype: datatype, count: count, name: where_)
        } else {
            guard let data = fields["data"] else { throw ServerError.badRequest("\(where_) has neither \"data\" nor binary_data_size") }
            values = try decodeJSON(data, datatype: datatype, name: where_)
        }
        guard values.count == count else {
            throw ServerError.badRequest("\(where_): shape \(shape) holds \(count) values, the data \(values.count)")
        }
        return RequestTensor(name: name, datatype: datatype, shape: shape, values: values)
    }

    /// Flat or nested `data`, in row-major order.
    static func decodeJSON(_ data: JSON, datatype: String, name: String) throws -> TensorValues {
        if ["FP32", "FP16", "BF16"].contains(datatype), let floats = flatFloats(data) { return .float32(floats) }
        var flat: [JSON] = []
        func flatten(_ value: JSON) {
            if case .array(let items) = value { items.forEach(flatten) } else { flat.append(value) }
        }
        flatten(data)
        func numbers() throws -> [Double] {
            try flat.enumerated().map { index, value in
                if case .number(let number) = value { return number }
                if case .bool(let flag) = value, datatype == "BOOL" { return flag ? 1 : 0 }
                throw ServerError.badRequest("\(name): data[\(index)] is \(value.kindName), expected a number for \(datatype)")
            }
        }
        switch datatype {
        case "BYTES":
            return .bytes(try flat.enumerated().map { index, value in
                guard let text = value.stringValue else {
                    throw ServerError.badRequest("\(name): data[\(index)] is \(value.kindName), expected a string for BYTES")
                }
                return Array(text.utf8)
            })
        case "FP32", "FP16", "BF16":
            return .float32(try numbers().map { Float($0) })
        case "FP64":
            return .float64(try numbers())
        default:
            let values = try numbers()
            if let bad = values.firstIndex(where: { $0.rounded() != $0 || abs($0) > 9.2e18 }) {
                throw ServerError.badRequest("\(name): data[\(bad)] = \(values[bad]) is not a whole number, expected for \(datatype)")
            }
            return .integers(values.map { Int($0) })
        }
    }

    /// A flat array of numbers, the common case, read in one pass (nil for anything else,
    /// which the general path reads and reports).
    static func flatFloats(_ data: JSON) -> [Float]? {
        guard case .array(let items) = data else { return nil }
        var floats = [Float]()
        floats.reserveCapacity(items.count)
        for item in items {
            guard case .number(let number) = item else { return nil }
            floats.append(Float(number))
        }
        return floats
    }

    /// Raw little-endian values, or for BYTES each element as a 4-byte length and its bytes.
    /// `source` names where the bytes came from in errors (binary_data_size, raw_input_contents[i]).
    static func decodeBinary(_ bytes: ArraySlice<UInt8>, datatype: String, count: Int, name: String, source: String = "binary_data_size") throws -> TensorValues {
        if datatype == "BYTES" {
            var elements: [[UInt8]] = [], rest = bytes
            while !rest.isEmpty {
                guard rest.count >= 4 else { throw ServerError.badRequest("\(name): BYTES data end inside an element's 4-byte length") }
                let length = rest.prefix(4).reversed().reduce(0) { $0 << 8 | Int($1) }
                rest = rest.dropFirst(4)
                guard length <= rest.count else {
                    throw ServerError.badRequest("\(name): BYTES element \(elements.count) claims \(length) bytes, \(rest.count) remain")
                }
                elements.append(Array(rest.prefix(length)))
                rest = rest.dropFirst(length)
            }
            return .bytes(elements)
        }
        let size = elementSizes[datatype] ?? 1
        guard bytes.count == count * size else {
            throw ServerError.badRequest("\(name): \(source) is \(bytes.count) bytes, but \(count) \(datatype) values take \(count * size)")
        }
        return try bytes.withUnsafeBytes { raw -> TensorValues in
            func load<T>(_: T.Type) -> [T] {
                (0..<count).map { raw.loadUnaligned(fromByteOffset: $0 * size, as: T.self) }
            }
            switch datatype {
            case "FP32": return .float32(load(UInt32.self).map { Float(bitPattern: UInt32(littleEndian: $0)) })
            case "FP64": return .float64(load(UInt64.self).map { Double(bitPattern: UInt64(littleEndian: $0)) })
            case "INT64": return .integers(load(Int64.self).map { Int(Int64(littleEndian: $0)) })
            case "INT32": return .integers(load(Int32.self).map { Int(Int32(littleEndian: $0)) })
            case "INT16": return .integers(load(Int16.self).map { Int(Int16(littleEndian: $0)) })
            case "INT8": return .integers(load(Int8.self).map(Int.init))
            case "UINT8", "BOOL": return .integers(load(UInt8.self).map(Int.init))
            case "UINT16": return .integers(load(UInt16.self).map { Int(UInt16(littleEndian: $0)) })
            case "UINT32": return .integers(load(UInt32.self).map { Int(UInt32(littleEndian: $0)) })
            case "UINT64": return .integers(load(UInt64.self).map { Int(truncatingIfNeeded: UInt64(littleEndian: $0)) })
            default: throw ServerError.badRequest("\(name): binary \(datatype) is not read by this server (FP32, FP64, integers, BYTES are)")
            }
        }
    }
}
