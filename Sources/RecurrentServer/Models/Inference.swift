import Foundation
import Recurrent

/// `POST /v2/models/{m}/infer`: the tensors of `recurrent run` (x, h0, c0, lengths -> y, h_n, c_n)
/// for every model, with sessions; or the task's own tensors (text, history) for a task model.
enum Inference {
    static func run(_ model: ServedModel, request: InferenceRequest, executor: ModelExecutor) async throws -> InferenceResponse {
        let names = Set(request.inputs.map(\.name))
        let natural = Set(NaturalTensors.signatures(for: model.task).inputs.map(\.name))
        let outputs: [ResponseTensor]
        if !names.isDisjoint(with: natural) {
            guard names.isSubset(of: natural) else {
                throw ServerError.badRequest("inputs \(names.sorted()) mix the task's (\(natural.sorted().joined(separator: ", "))) with tensors; send one kind")
            }
            outputs = try await NaturalTensors.infer(model, request: request, executor: executor)
        } else {
            let sequence = try SequenceControl.read(request.parameters, model: model.name)
            let inputs = try tensorInputs(request, model: model, sequence: sequence)
            let results = try await executor.infer(model, inputs: inputs, sequence: sequence)
            outputs = model.runner.outputSignatures.compactMap { signature in
                results[signature.name].map { ResponseTensor(name: signature.name, shape: $0.shape, values: .float32($0.scalars)) }
            }
        }
        var chosen = outputs
        if let requested = request.outputs {
            chosen = try requested.map { wanted in
                guard let output = outputs.first(where: { $0.name == wanted.name }) else {
                    throw ServerError.badRequest("requested output \"\(wanted.name)\" is not one of \(outputs.map(\.name).joined(separator: ", "))")
                }
                return output
            }
        }
        return InferenceResponse(modelName: model.name, id: request.id, outputs: chosen)
    }

    /// Checks every tensor against the model's interface before it is queued, so that a bad
    /// request fails alone and never reaches a batch.
    static func tensorInputs(_ request: InferenceRequest, model: ServedModel, sequence: SequenceControl?) throws -> ModelRunner.Inputs {
        let runner = model.runner
        var byName: [String: RequestTensor] = [:]
        for input in request.inputs {
            guard let signature = runner.inputSignatures.first(where: { $0.name == input.name }) else {
                let known = model.inputs.map(\.name).joined(separator: ", ")
                throw ServerError.badRequest("unknown input \"\(input.name)\" for model \"\(model.name)\" (it reads \(known))")
            }
            guard input.datatype == signature.datatype.rawValue else {
                throw ServerError.badRequest("input \"\(input.name)\": datatype \(input.datatype), expected \(signature.datatype.rawValue)")
            }
            guard input.shape.count == signature.shape.count,
                  zip(input.shape, signature.shape).allSatisfy({ $1 < 0 ? $0 > 0 : $0 == $1 }) else {
                throw ServerError.badRequest("input \"\(input.name)\": shape \(input.shape), expected \(signature.shape) (-1: any size above 0)")
            }
            byName[input.name] = input
        }
        guard let x = byName["x"] else { throw ServerError.badRequest("input \"x\" is missing (model \"\(model.name)\" reads \(model.inputs.map(\.name).joined(separator: ", ")))") }
        func floats(_ tensor: RequestTensor?) -> Tensor? {
            guard let tensor, case .float32(let values) = tensor.values else { return nil }
            return Tensor(shape: tensor.shape, scalars: values)
        }
        var inputs = ModelRunner.Inputs(x: floats(x) ?? Tensor(zeros: [0]))
        inputs.h0 = floats(byName["h0"])
        inputs.c0 = floats(byName["c0"])
        if let lengths = byName["lengths"], case .integers(let values) = lengths.values { inputs.lengths = values }
        try check(inputs, model: model, sequence: sequence)
        return inputs
    }

    /// y's size at most, so that one request cannot take the machine's memory.
    static let maximumOutputValues = 1 << 26

    static func check(_ inputs: ModelRunner.Inputs, model: ServedModel, sequence: SequenceControl?) throws {
        let x = inputs.x, batch = x.shape[0]
        if let bad = x.scalars.firstIndex(where: { !$0.isFinite }) {
            throw ServerError.badRequest("input \"x\" holds \(x.scalars[bad]) at flat index \(bad)")
        }
        for (name, state) in [("h0", inputs.h0), ("c0", inputs.c0)] {
            guard let state else { continue }
            guard state.shape[1] == batch else { throw ServerError.badRequest("input \"\(name)\": shape \(state.shape) has batch \(state.shape[1]), x has \(batch)") }
            if let bad = state.scalars.firstIndex(where: { !$0.isFinite }) {
                throw ServerError.badRequest("input \"\(name)\" holds \(state.scalars[bad]) at flat index \(bad)")
            }
        }
        if let lengths = inputs.lengths {
            guard lengths.count == batch else { throw ServerError.badRequest("input \"lengths\" has \(lengths.count) values, x has \(batch) rows") }
            if let (index, bad) = lengths.enumerated().first(where: { $0.element < 1 || $0.element > x.shape[1] }) {
                throw ServerError.badRequest("input \"lengths\": lengths[\(index)] = \(bad) is out of range 1...\(x.shape[1])")
            }
        }
        let outputWidth = model.runner.outputSignatures[0].shape.last ?? 1
        let outputCount = x.shape.prefix(2).reduce(1, *) * max(outputWidth, 1)
        guard outputCount <= maximumOutputValues else {
            throw ServerError.badRequest("input \"x\": y would hold \(outputCount) values, over the limit of \(maximumOutputValues); send fewer rows or steps")
        }
        if case .languageModel(let languageModel) = model.task {
            do { try languageModel.network.embedding.validate(x) } catch let error as RecurrentError {
                throw ServerError.badRequest("input \"x\": \(error.description)")
            }
        }
        if let sequence {
            guard model.runner.canStream else {
                throw ServerError.badRequest(model.runner.carriesState
                    ? "model \"\(model.name)\" is bidirectional: it needs whole sequences, so sequence_id does not apply"
                    : "model \"\(model.name)\" keeps no recurrent state, so sequence_id does not apply")
            }
            guard batch == 1 else { throw ServerError.badRequest("a sequence's request holds one sequence: x has \(batch) rows, expected 1") }
            guard sequence.start || (inputs.h0 == nil && inputs.c0 == nil) else {
                throw ServerError.badRequest("h0 and c0 may start a sequence (sequence_start: true) but not continue one: the server holds its state")
            }
        }
    }
}
