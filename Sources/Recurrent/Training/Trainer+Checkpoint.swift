import Foundation

/// Checkpoints: written between steps by process 0 (each process's task state gathered to it),
/// read by process 0 and broadcast, so that processes need no shared file system.
extension Trainer {
    func writeCheckpoint(_ run: RunState, clock: RunClock) throws {
        guard let checkpointOptions = options.checkpoint else { return }
        let local = try taskState?.save() ?? TrainingTaskState()
        var states = [local]
        if let communicator = options.communicator, communicator.size > 1 {
            states = try communicator.allGather(Array(try Self.encode(local))).enumerated().map { rank, bytes in
                try Self.decodeTaskState(Data(bytes), rank: rank)
            }
            guard communicator.rank == 0 else { return }
        }
        var history = run.history
        history.seconds = clock.elapsed
        let record = TrainingCheckpoint.Record(
            epoch: run.epoch, batchIndex: run.batchIndex, shuffled: run.shuffled,
            shuffleState: String(run.shuffleGenerator.state, radix: 16), epochLoss: run.epochLoss, epochBatches: run.epochBatches,
            history: history, bestLoss: run.best?.loss, epochsWithoutImprovement: run.epochsWithoutImprovement,
            schedule: run.schedule, baseLearningRate: run.baseLearningRate, validationSteps: validationSteps,
            options: options, optimizer: optimizerDescription, parameterShapes: parameters.map(\.shape), sampleCount: run.order.count,
            configuration: identity.map { String(decoding: $0.configuration, as: UTF8.self) },
            dataFingerprint: identity.map { String($0.data, radix: 16) }, ranks: options.communicator?.size ?? 1)
        let checkpoint = TrainingCheckpoint(
            record: record, parameters: parameters.map(\.value), optimizerState: optimizer.exportState(), best: run.best?.values,
            order: run.order, stepLosses: stepLosses.map(Float.init), taskStates: states, notes: checkpointOptions.notes)
        try AtomicFile.write(try checkpoint.encoded(), to: checkpointOptions.path)
        reporter?.note("checkpoint: step \(run.history.steps), epoch \(run.epoch) -> \(checkpointOptions.path)")
    }

    /// The run as a checkpoint left it, after checking that the checkpoint belongs to this run:
    /// the same model, optimizer, options that change the result, task configuration and data.
    func resume(from path: String, sampleCount: Int, budget: RunBudget, fresh: RunState) throws -> RunState {
        let checkpoint = try TrainingCheckpoint(decoding: try readOnProcessZero(path), path: path)
        let record = checkpoint.record
        let differences = try differences(from: record, sampleCount: sampleCount, budget: budget, fresh: fresh)
        guard differences.isEmpty else {
            throw RecurrentError.invalidFile(path: path, reason: "cannot resume: this run differs from the checkpoint's in "
                + differences.prefix(4).joined(separator: "; ") + (differences.count > 4 ? " and \(differences.count - 4) more" : "") + "; resume with the options the checkpoint was written with, or start afresh")
        }
        let rank = options.communicator?.rank ?? 0, size = options.communicator?.size ?? 1
        if let taskState {
            guard checkpoint.taskStates.count == size else {
                throw RecurrentError.invalidFile(path: path, reason: "cannot resume: the checkpoint holds the state of \(checkpoint.taskStates.count) "
                    + "rank\(checkpoint.taskStates.count == 1 ? "" : "s") and this task keeps state per rank; resume with \(checkpoint.taskStates.count) rank\(checkpoint.taskStates.count == 1 ? "" : "s")")
            }
            try taskState.restore(checkpoint.taskStates[rank])
        }
        restore(checkpoint.parameters)
        do {
            try optimizer.importState(checkpoint.optimizerState)
        } catch let error as RecurrentError {
            throw RecurrentError.invalidFile(path: path, reason: "the optimizer's state does not fit: \(error.description)")
        }
        guard let shuffleState = UInt64(record.shuffleState, radix: 16) else {
            throw RecurrentError.invalidFile(path: path, reason: "the shuffle generator's state \"\(record.shuffleState)\" is not a number")
        }
        stepLosses = checkpoint.stepLosses.map(Double.init)
        validationSteps = record.validationSteps
        var run = fresh
        run.epoch = record.epoch
        run.batchIndex = record.batchIndex
        run.shuffled = record.shuffled
        run.order = checkpoint.order
        run.shuffleGenerator = SplitMix64(seed: shuffleState)
        run.epochLoss = record.epochLoss
        run.epochBatches = record.epochBatches
        run.history = record.history
        if let loss = record.bestLoss, let values = checkpoint.best { run.best = (loss, values) } else { run.best = nil }
        run.epochsWithoutImprovement = record.epochsWithoutImprovement
        run.schedule = record.schedule
        run.elapsedBefore = record.history.seconds
        if record.ranks != size {
            reporter?.note("resuming with \(size) rank\(size == 1 ? "" : "s") a run checkpointed by \(record.ranks): "
                + "the sums of the gradients are taken in another order, so the result may differ in the last bits")
        }
        reporter?.note("resuming from \(path): step \(record.history.steps), epoch \(record.epoch)")
        return run
    }

    /// What differs between this run and the checkpoint's, each as "the seed (1 in the
    /// checkpoint, 2 now)".
    private func differences(from record: TrainingCheckpoint.Record, sampleCount: Int, budget: RunBudget, fresh: RunState) throws -> [String] {
        var found: [String] = []
        func compare<Value: Equatable>(_ name: String, _ stored: Value, _ now: Value) {
            if stored != now { found.append("\(name) (\(stored) in the checkpoint, \(now) now)") }
        }
        if record.parameterShapes.count != parameters.count {
            found.append("the model: \(record.parameterShapes.count) parameter tensors in the checkpoint, \(parameters.count) now")
        } else if let index = parameters.indices.first(where: { record.parameterShapes[$0] != parameters[$0].shape }) {
            found.append("the model: parameter \(index) has shape \(record.parameterShapes[index]) in the checkpoint, \(parameters[index].shape) now")
        }
        compare("the optimizer", record.optimizer, optimizerDescription)
        compare("the base learning rate", record.baseLearningRate, fresh.baseLearningRate)
        compare("the sample count", record.sampleCount, sampleCount)
        let stored = record.options
        compare("the seed", stored.seed, options.seed)
        compare("the batch size", stored.batchSize, options.batchSize)
        compare("shuffling", stored.shuffle, options.shuffle)
        compare("gradient norm clipping", stored.clipNorm.map { "\($0)" } ?? "none", options.clipNorm.map { "\($0)" } ?? "none")
        compare("gradient value clipping", stored.clipValue.map { "\($0)" } ?? "none", options.clipValue.map { "\($0)" } ?? "none")
        compare("the patience", stored.patience.map(String.init) ?? "none", options.patience.map(String.init) ?? "none")
        compare("the learning-rate schedule", "\(stored.schedule)", "\(options.schedule)")
        if options.schedule.dependsOnRunLength, !budget.isTimed, stored.maxMinutes == nil {
            // Planned over the run: the epochs and the step limit fix its length.
            compare("the length the epochs and the step limit give the learning-rate schedule", "\(record.schedule)", "\(fresh.schedule)")
        }
        if let identity {
            let storedIdentity = RunIdentity(configuration: Data((record.configuration ?? "{}").utf8),
                                             data: record.dataFingerprint.flatMap { UInt64($0, radix: 16) } ?? 0)
            found += identity.differences(from: storedIdentity)
        }
        return found
    }

    /// The optimizer's kind and hyperparameters, for comparing a checkpoint's with this run's.
    var optimizerDescription: String {
        String(describing: type(of: optimizer))
    }

    /// The file's bytes, read by process 0 and given to every process.
    private func readOnProcessZero(_ path: String) throws -> Data {
        try Self.readOnProcessZero(path, communicator: options.communicator)
    }

    /// The notes of the checkpoint at `path` (read by process 0 and given to every process): what
    /// a task stored beside the run, such as the networks it finished before this one.
    static func checkpointNotes(at path: String, communicator: Communicator?) throws -> [String: String] {
        try TrainingCheckpoint(decoding: readOnProcessZero(path, communicator: communicator), path: path).notes
    }

    static func readOnProcessZero(_ path: String, communicator: Communicator?) throws -> Data {
        guard let communicator, communicator.size > 1 else { return try FileContents.read(path) }
        var message: [UInt8] = []
        if communicator.rank == 0 {
            do {
                message = [0] + Array(try FileContents.read(path))
            } catch let error as RecurrentError {
                message = [1] + Array(error.description.utf8)
            }
        }
        try communicator.broadcast(&message, from: 0)
        guard let status = message.first else { throw RecurrentError.io(path: path, reason: "rank 0 sent nothing") }
        if status == 1 {
            throw RecurrentError.io(path: path, reason: "rank 0 cannot read it: " + String(decoding: message.dropFirst(), as: UTF8.self))
        }
        return Data(message.dropFirst())
    }

    static func encode(_ state: TrainingTaskState) throws -> Data {
        try SafeTensors(tensors: state.tensors, metadata: ["json": String(decoding: state.json, as: UTF8.self)]).encoded()
    }

    static func decodeTaskState(_ data: Data, rank: Int) throws -> TrainingTaskState {
        let file = try SafeTensors(decoding: data, path: "the task state of rank \(rank)")
        return TrainingTaskState(tensors: file.tensors, json: Data((file.metadata["json"] ?? "{}").utf8))
    }
}
