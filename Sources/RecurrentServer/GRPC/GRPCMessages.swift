import Foundation

/// The gRPC messages of the Open Inference Protocol read into the request the REST routes read,
/// and the response written back: one `Inference.run` serves both protocols.
extension InferenceRequest {
    /// A `ModelInferRequest`: each input's values in `raw_input_contents` (as tritonclient.grpc
    /// sends them: little-endian, BYTES with a 4-byte length before each element) or in its typed
    /// `contents` (as KServe's clients do), never both.
    init(_ message: Inference_ModelInferRequest) throws {
        let raw = message.rawInputContents
        if !raw.isEmpty, raw.count != message.inputs.count {
            throw ServerError.badRequest("raw_input_contents holds \(raw.count) entries for \(message.inputs.count) inputs; give one per input, in order")
        }
        let inputs = try message.inputs.enumerated().map { index, input -> RequestTensor in
            let name = "input \"\(input.name)\""
            guard !input.name.isEmpty else { throw ServerError.badRequest("inputs[\(index)].name is empty") }
            if let unknown = input.parameters.keys.sorted().first {
                throw ServerError.badRequest("unknown parameter \"\(unknown)\" in \(name)'s parameters (this server reads none; shared memory is not served)")
            }
            guard input.datatype == "BYTES" || Self.elementSizes[input.datatype] != nil else {
                throw ServerError.badRequest("\(name): datatype \"\(input.datatype)\" is not one of the protocol's (\(Self.elementSizes.keys.sorted().joined(separator: ", ")), BYTES)")
            }
            guard input.shape.allSatisfy({ $0 >= 0 && $0 < 1 << 40 }) else {
                throw ServerError.badRequest("\(name): shape \(input.shape) must hold whole numbers 0 or more")
            }
            let shape = input.shape.map { Int($0) }
            let count = try Self.valueCount(shape, of: name)
            let values: TensorValues
            if raw.isEmpty {
                values = try Self.typedContents(input.contents, datatype: input.datatype, name: name)
            } else {
                guard !input.hasContents else {
                    throw ServerError.badRequest("\(name) has both contents and raw_input_contents; send one kind for every input")
                }
                values = try Self.decodeBinary(ArraySlice(raw[index]), datatype: input.datatype, count: count, name: name,
                                               source: "raw_input_contents[\(index)]")
            }
            guard values.count == count else {
                throw ServerError.badRequest("\(name): shape \(shape) holds \(count) values, the contents \(values.count)")
            }
            return RequestTensor(name: input.name, datatype: input.datatype, shape: shape, values: values)
        }
        let outputs = try message.outputs.map { output -> RequestedOutput in
            if output.parameters["classification"] != nil {
                throw ServerError.badRequest("output \"\(output.name)\": the classification extension is not served; ask the classify endpoint for labels")
            }
            if let unknown = output.parameters.keys.sorted().first {
                throw ServerError.badRequest("unknown parameter \"\(unknown)\" in output \"\(output.name)\"'s parameters (this server reads none)")
            }
            return RequestedOutput(name: output.name, binary: true)
        }
        var parameters: [String: JSON] = [:]
        for (key, parameter) in message.parameters {
            parameters[key] = try Self.json(parameter, key: key)
        }
        try self.init(id: message.id.isEmpty ? nil : message.id, parameters: parameters, inputs: inputs,
                      outputs: outputs.isEmpty ? nil : outputs, binaryByDefault: true)
    }

    /// A parameter as the REST document would hold it. A whole-number sequence_id becomes its
    /// decimal text (the same session key as the number, exact beyond 2^53).
    static func json(_ parameter: Inference_InferParameter, key: String) throws -> JSON {
        switch parameter.parameterChoice {
        case .boolParam(let flag)?: return .bool(flag)
        case .stringParam(let text)?: return .string(text)
        case .doubleParam(let number)?: return .number(number)
        case .int64Param(let number)?:
            if key == "sequence_id" {
                guard number >= 0 else { throw ServerError.badRequest("parameter \"sequence_id\" is \(number), expected a whole number 0 or more, or a string") }
                return number == 0 ? .number(0) : .string(String(number))
            }
            return .number(Double(number))
        case .uint64Param(let number)?:
            if key == "sequence_id" { return number == 0 ? .number(0) : .string(String(number)) }
            return .number(Double(number))
        case nil: throw ServerError.badRequest("parameter \"\(key)\" holds no value")
        }
    }

    /// The typed list the datatype names; FP16 and BF16 have none (raw_input_contents only).
    static func typedContents(_ contents: Inference_InferTensorContents, datatype: String, name: String) throws -> TensorValues {
        switch datatype {
        case "FP32": return .float32(contents.fp32Contents)
        case "FP64": return .float64(contents.fp64Contents)
        case "INT64": return .integers(contents.int64Contents.map { Int($0) })
        case "INT32", "INT16", "INT8": return .integers(contents.intContents.map { Int($0) })
        case "UINT32", "UINT16", "UINT8": return .integers(contents.uintContents.map { Int($0) })
        case "UINT64": return .integers(contents.uint64Contents.map { Int(truncatingIfNeeded: $0) })
        case "BOOL": return .integers(contents.boolContents.map { $0 ? 1 : 0 })
        case "BYTES": return .bytes(contents.bytesContents.map { [UInt8]($0) })
        default: throw ServerError.badRequest("\(name): \(datatype) values travel only in raw_input_contents")
        }
    }
}

extension InferenceResponse {
    /// A `ModelInferResponse` with every output's values in `raw_output_contents`, as Triton
    /// answers (tritonclient.grpc and KServe's clients read them by the output's place).
    var message: Inference_ModelInferResponse {
        var message = Inference_ModelInferResponse()
        message.modelName = modelName
        message.modelVersion = "1"
        message.id = id ?? ""
        for (key, value) in parameters {
            if let parameter = Self.parameter(value) { message.parameters[key] = parameter }
        }
        for output in outputs {
            var tensor = Inference_ModelInferResponse.InferOutputTensor()
            tensor.name = output.name
            tensor.datatype = output.datatype
            tensor.shape = output.shape.map(Int64.init)
            message.outputs.append(tensor)
            message.rawOutputContents.append(Data(output.binary))
        }
        return message
    }

    static func parameter(_ value: JSON) -> Inference_InferParameter? {
        var parameter = Inference_InferParameter()
        switch value {
        case .bool(let flag): parameter.boolParam = flag
        case .string(let text): parameter.stringParam = text
        case .number(let number):
            if number.rounded() == number, abs(number) < 9e15 { parameter.int64Param = Int64(number) } else { parameter.doubleParam = number }
        default: return nil
        }
        return parameter
    }
}
