import Foundation

/// A training run between two steps, as one safetensors file: parameters ("parameter.I"), the
/// optimizer's buffers ("optimizer.I.exp_avg", ...), the best parameters so far ("best.I"), the
/// sample order (I64 "order"), the loss of every step ("step_losses"), each process's task state
/// ("task.RANK.NAME"), and in the metadata the position, generators, history and what the run
/// is made of, as JSON. Written by a temporary name and a rename: a run killed while writing
/// leaves the previous checkpoint whole.
struct TrainingCheckpoint {
    static let format = "recurrent-checkpoint"
    static let version = "1"

    /// Where the run stands, and what it must match to continue.
    struct Record: Codable {
        /// The epoch being trained (1-based) and its next batch.
        var epoch: Int
        var batchIndex: Int
        /// Whether this epoch's order has been shuffled already.
        var shuffled: Bool
        /// The shuffle generator, as a hexadecimal string (JSON numbers lose 64-bit integers).
        var shuffleState: String
        var epochLoss: Double
        var epochBatches: Int
        var history: TrainingHistory
        var bestLoss: Double?
        var epochsWithoutImprovement: Int
        /// The schedule as planned (a cosine's length is fixed when the run starts).
        var schedule: LearningRateSchedule
        var baseLearningRate: Double
        /// The steps after which each validation ran.
        var validationSteps: [Int]

        // What the run is made of.
        var options: TrainingOptions
        var optimizer: String
        var parameterShapes: [[Int]]
        var sampleCount: Int
        var configuration: String?
        var dataFingerprint: String?
        var ranks: Int
    }

    var record: Record
    var parameters: [Tensor]
    var optimizerState: [String: Tensor]
    var best: [Tensor]?
    var order: [Int]
    var stepLosses: [Float]
    /// One per process, in rank order.
    var taskStates: [TrainingTaskState]
    var notes: [String: String]

    // MARK: writing

    func encoded() throws -> Data {
        var file = SafeTensors()
        for (index, tensor) in parameters.enumerated() { file.tensors["parameter.\(index)"] = tensor }
        for (name, tensor) in optimizerState { file.tensors["optimizer.\(name)"] = tensor }
        for (index, tensor) in (best ?? []).enumerated() { file.tensors["best.\(index)"] = tensor }
        file.integerTensors["order"] = IntegerTensor(order)
        file.tensors["step_losses"] = Tensor(shape: [stepLosses.count], scalars: stepLosses)
        for (rank, state) in taskStates.enumerated() {
            for (name, tensor) in state.tensors { file.tensors["task.\(rank).\(name)"] = tensor }
            file.metadata["task_state.\(rank)"] = String(decoding: state.json, as: UTF8.self)
        }
        file.metadata = file.metadata.merging(notes.mapKeys { "note." + $0 }) { first, _ in first }
        file.metadata["format"] = Self.format
        file.metadata["format_version"] = Self.version
        file.metadata["task_states"] = String(taskStates.count)
        file.metadata["has_best"] = best == nil ? "false" : "true"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        file.metadata["training"] = String(decoding: try encoder.encode(record), as: UTF8.self)
        return try file.encoded()
    }

    // MARK: reading

    /// Reads a checkpoint, naming `path` in every error: not a checkpoint, truncated, damaged.
    init(decoding data: Data, path: String) throws {
        func fail(_ reason: String) -> RecurrentError { .invalidFile(path: path, reason: reason) }
        let file: SafeTensors
        do {
            file = try SafeTensors(decoding: data, path: path)
        } catch let error as RecurrentError {
            throw fail("not a readable checkpoint (truncated or damaged?): \(error.description.replacingOccurrences(of: "\(path): ", with: ""))")
        }
        guard file.metadata["format"] == Self.format else {
            let found = file.metadata["format"].map { "a \"\($0)\" file" } ?? "not a checkpoint"
            throw fail("\(found), not a training checkpoint (\"\(Self.format)\")")
        }
        guard file.metadata["format_version"] == Self.version else {
            throw fail("checkpoint format version \(file.metadata["format_version"] ?? "none"); this build reads version \(Self.version)")
        }
        guard let json = file.metadata["training"], let record = try? JSONDecoder().decode(Record.self, from: Data(json.utf8)) else {
            throw fail("the checkpoint's training record is missing or damaged")
        }
        self.record = record
        parameters = try record.parameterShapes.indices.map { index in
            guard let tensor = file.tensors["parameter.\(index)"], tensor.shape == record.parameterShapes[index] else {
                throw fail("parameter \(index) is missing or has the wrong shape")
            }
            return tensor
        }
        best = file.metadata["has_best"] == "true" ? try record.parameterShapes.indices.map { index in
            guard let tensor = file.tensors["best.\(index)"], tensor.shape == record.parameterShapes[index] else {
                throw fail("the best parameters' tensor \(index) is missing or has the wrong shape")
            }
            return tensor
        } : nil
        var optimizerState: [String: Tensor] = [:]
        for (name, tensor) in file.tensors where name.hasPrefix("optimizer.") { optimizerState[String(name.dropFirst(10))] = tensor }
        self.optimizerState = optimizerState
        guard let order = file.integerTensors["order"]?.values, order.count == record.sampleCount,
              Set(order).count == order.count, order.allSatisfy({ (0..<record.sampleCount).contains($0) }) else {
            throw fail("the sample order is missing or is not a permutation of \(record.sampleCount) samples")
        }
        self.order = order
        guard let losses = file.tensors["step_losses"], losses.count == record.history.steps else {
            throw fail("the step losses are missing or do not match the \(record.history.steps) steps taken")
        }
        stepLosses = losses.scalars
        let stateCount = Int(file.metadata["task_states"] ?? "") ?? -1
        guard stateCount >= 0 else { throw fail("the count of task states is missing") }
        taskStates = try (0..<stateCount).map { rank in
            guard let json = file.metadata["task_state.\(rank)"] else { throw fail("the task state of rank \(rank) is missing") }
            var tensors: [String: Tensor] = [:]
            for (name, tensor) in file.tensors where name.hasPrefix("task.\(rank).") {
                tensors[String(name.dropFirst("task.\(rank).".count))] = tensor
            }
            return TrainingTaskState(tensors: tensors, json: Data(json.utf8))
        }
        var notes: [String: String] = [:]
        for (key, value) in file.metadata where key.hasPrefix("note.") { notes[String(key.dropFirst(5))] = value }
        self.notes = notes
    }

    init(record: Record, parameters: [Tensor], optimizerState: [String: Tensor], best: [Tensor]?, order: [Int],
         stepLosses: [Float], taskStates: [TrainingTaskState], notes: [String: String]) {
        self.record = record
        self.parameters = parameters
        self.optimizerState = optimizerState
        self.best = best
        self.order = order
        self.stepLosses = stepLosses
        self.taskStates = taskStates
        self.notes = notes
    }

    /// The notes of the checkpoint at `path` (the command line's arguments), read before a run.
    static func notes(at path: String) throws -> [String: String] {
        try TrainingCheckpoint(decoding: FileContents.read(path), path: path).notes
    }
}

extension Dictionary {
    func mapKeys<NewKey: Hashable>(_ transform: (Key) -> NewKey) -> [NewKey: Value] {
        Dictionary<NewKey, Value>(uniqueKeysWithValues: map { (transform($0.key), $0.value) })
    }
}

/// Reading a checkpoint's notes from outside the library (the command line checks its options
/// against the ones a checkpoint was written with before loading any data).
public enum CheckpointFile {
    /// The notes stored by the writer, after checking that `path` is a whole checkpoint.
    public static func notes(at path: String) throws -> [String: String] {
        try TrainingCheckpoint.notes(at: path)
    }
}
