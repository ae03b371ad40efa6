import Foundation

/// One output tensor of a response.
struct ResponseTensor: Sendable {
    var name: String
    var datatype: String
    var shape: [Int]
    var values: TensorValues

    init(name: String, shape: [Int], values: TensorValues) {
        self.name = name
        self.shape = shape
        self.values = values
        switch values {
        case .float32: datatype = "FP32"
        case .float64: datatype = "FP64"
        case .integers: datatype = "INT64"
        case .bytes: datatype = "BYTES"
        }
    }

    /// Little-endian values, or for BYTES a 4-byte length before each element.
    var binary: [UInt8] {
        var bytes: [UInt8] = []
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        switch values {
        case .float32(let floats):
            // One copy where the machine is little-endian, as every platform Swift runs on here is.
            if 1.littleEndian == 1 { return floats.withUnsafeBytes { Array($0) } }
            bytes.reserveCapacity(floats.count * 4)
            floats.forEach { append($0.bitPattern) }
        case .float64(let doubles): doubles.forEach { append($0.bitPattern) }
        case .integers(let integers): integers.forEach { append(Int64($0)) }
        case .bytes(let elements):
            for element in elements {
                append(UInt32(element.count))
                bytes += element
            }
        }
        return bytes
    }

    /// The values as a flat JSON array.
    func writeData(to writer: inout JSONWriter) {
        writer.raw("[")
        switch values {
        case .float32(let floats):
            for (index, value) in floats.enumerated() {
                if index > 0 { writer.raw(",") }
                writer.number(value)
            }
        case .float64(let doubles):
            for (index, value) in doubles.enumerated() {
                if index > 0 { writer.raw(",") }
                writer.number(value)
            }
        case .integers(let integers):
            writer.raw(integers.map(String.init).joined(separator: ","))
        case .bytes(let elements):
            for (index, element) in elements.enumerated() {
                if index > 0 { writer.raw(",") }
                writer.string(String(decoding: element, as: UTF8.self))
            }
        }
        writer.raw("]")
    }
}

/// The body of an inference response: JSON, then the outputs asked for in binary, in order.
struct InferenceResponse {
    var modelName: String
    var id: String?
    var outputs: [ResponseTensor]
    var parameters: [String: JSON] = [:]

    /// The body and, when binary outputs follow the JSON, the JSON's length for the
    /// Inference-Header-Content-Length header.
    func encode(binary: (String) -> Bool) -> (body: [UInt8], jsonLength: Int?) {
        var writer = JSONWriter()
        writer.raw("{\"model_name\":")
        writer.string(modelName)
        writer.raw(",\"model_version\":\"1\"")
        if let id {
            writer.raw(",\"id\":")
            writer.string(id)
        }
        if !parameters.isEmpty {
            writer.raw(",\"parameters\":")
            writer.value(.object(parameters))
        }
        writer.raw(",\"outputs\":[")
        var tail: [UInt8] = []
        for (index, output) in outputs.enumerated() {
            if index > 0 { writer.raw(",") }
            writer.raw("{\"name\":")
            writer.string(output.name)
            writer.raw(",\"datatype\":\"\(output.datatype)\",\"shape\":[\(output.shape.map(String.init).joined(separator: ","))]")
            if binary(output.name) {
                let bytes = output.binary
                writer.raw(",\"parameters\":{\"binary_data_size\":\(bytes.count)}}")
                tail += bytes
            } else {
                writer.raw(",\"data\":")
                output.writeData(to: &writer)
                writer.raw("}")
            }
        }
        writer.raw("]}")
        let json = Array(writer.text.utf8)
        return tail.isEmpty ? (json, nil) : (json + tail, json.count)
    }
}
