import Foundation

/// One optimization step, alone or as one of several processes (data parallelism): each
/// process computes the loss and gradients of its part of the global batch, the weighted
/// gradients are summed over the processes with one all-reduce of a single buffer, and every
/// process applies the same clipped update to the same parameters.
extension Trainer {
    /// This process's part of a step.
    struct LocalStep {
        /// The part's loss times its share of the batch's weight.
        var weightedLoss: Float
        var hasGradient: [Bool]
    }

    /// The loss and gradients of this process's part of `batch`, scaled by the part's share of
    /// the batch's weight (1 for a process alone, which keeps its gradients bit for bit).
    func computeLocal(_ batch: [Int], step: Int, loss: ([Int]) throws -> Variable) throws -> LocalStep {
        for parameter in parameters { parameter.grad = nil }
        let size = options.communicator?.size ?? 1, rank = options.communicator?.rank ?? 0
        let part = Communicators.share(of: batch.count, rank: rank, size: size)
        guard !part.isEmpty else { return LocalStep(weightedLoss: 0, hasGradient: parameters.map { _ in false }) }
        let shard = Array(batch[part])
        var factor: Float = 1
        if size > 1, partLoss == nil {
            let weights = (0..<size).map { r -> Double in
                let range = Communicators.share(of: batch.count, rank: r, size: size)
                return range.isEmpty ? 0 : shardWeight?(Array(batch[range])) ?? Double(range.count)
            }
            factor = Float(weights[rank] / max(weights.reduce(0, +), .leastNonzeroMagnitude))
        }
        let value = try LearningPhase.training(at: BatchPosition(step: step, firstRow: part.lowerBound)) {
            if size > 1, let partLoss { return try partLoss(shard, batch) }
            return try loss(shard)
        }
        let lossValue = value.value.scalar
        if lossValue.isFinite {
            value.backward()
            if factor != 1 {
                for parameter in parameters where parameter.grad != nil {
                    parameter.grad?.withUnsafeMutableBufferPointer { g in for i in g.indices { g[i] *= factor } }
                }
            }
        }
        return LocalStep(weightedLoss: lossValue * factor, hasGradient: parameters.map { $0.grad != nil })
    }

    /// Sums the parts of a step over the processes (one all-reduce of the gradients, the loss
    /// and the votes) and returns the batch's loss and what the processes agreed on.
    func combine(_ local: LocalStep, votes: Agreement) throws -> (loss: Double, agreement: Agreement) {
        guard let communicator = options.communicator, communicator.size > 1 else {
            return (Double(local.weightedLoss), votes)
        }
        var buffer: [Float] = []
        buffer.reserveCapacity(parameters.reduce(0) { $0 + $1.value.count } + parameters.count + 5)
        for parameter in parameters {
            if let grad = parameter.grad { buffer += grad.scalars } else { buffer += [Float](repeating: 0, count: parameter.value.count) }
        }
        buffer += local.hasGradient.map { $0 ? 1 : 0 }
        buffer.append(local.weightedLoss)
        buffer += encode(votes, rank: communicator.rank)
        let start = Date()
        try communicator.allReduceSum(&buffer)
        communicationSeconds += Date().timeIntervalSince(start)
        var offset = 0
        let flagsStart = buffer.count - parameters.count - 5
        for (index, parameter) in parameters.enumerated() {
            let count = parameter.value.count
            parameter.grad = buffer[flagsStart + index] > 0
                ? Tensor(shape: parameter.shape, scalars: Array(buffer[offset..<(offset + count)])) : nil
            offset += count
        }
        let loss = Double(buffer[buffer.count - 5])
        return (loss, decode(Array(buffer.suffix(4))))
    }

    /// Agreement between steps (at the start and after each epoch): a small all-reduce.
    func agree(votes: Agreement, budget: RunBudget) throws -> Agreement {
        guard let communicator = options.communicator, communicator.size > 1 else { return votes }
        var buffer = encode(votes, rank: communicator.rank)
        try communicator.allReduceSum(&buffer)
        return decode(buffer)
    }

    /// The votes as four numbers to sum: any process's yes is a yes; the plan is process 0's.
    private func encode(_ votes: Agreement, rank: Int) -> [Float] {
        [votes.timeIsUp ? 1 : 0, votes.interrupted ? 1 : 0, votes.checkpointDue ? 1 : 0, rank == 0 ? Float(votes.plannedSteps) : 0]
    }

    private func decode(_ sums: [Float]) -> Agreement {
        var agreement = Agreement(plannedSteps: max(1, Int(sums[3])))
        agreement.timeIsUp = sums[0] > 0
        agreement.interrupted = sums[1] > 0
        agreement.checkpointDue = sums[2] > 0
        return agreement
    }

    /// Clips the gradients and applies the update; false when the loss or the gradient is not
    /// finite (the run diverged; the parameters are still the last good ones).
    func apply(loss: Double, run: inout RunState) -> Bool {
        guard loss.isFinite else {
            diverge(&run.history, message: "the loss became \(loss) at step \(run.history.steps + 1) (epoch \(run.epoch))")
            return false
        }
        if let clipValue = options.clipValue { clipGradientValues(parameters, limit: clipValue) }
        let norm = options.clipNorm.map { clipGradientNorm(parameters, maxNorm: $0) } ?? globalNorm(parameters.compactMap(\.grad))
        guard norm.isFinite else {
            diverge(&run.history, message: "the gradient became \(norm) at step \(run.history.steps + 1) (epoch \(run.epoch))")
            return false
        }
        run.schedule.apply(to: optimizer, base: run.baseLearningRate, step: run.history.steps)
        optimizer.step()
        run.history.steps += 1
        stepLosses.append(loss)
        return true
    }

    /// Every process starts from process 0's parameters.
    func broadcastParameters() throws {
        guard let communicator = options.communicator, communicator.size > 1 else { return }
        var bytes: [UInt8] = []
        if communicator.rank == 0 {
            for parameter in parameters { parameter.value.withUnsafeBufferPointer { bytes += UnsafeRawBufferPointer($0) } }
        }
        try communicator.broadcast(&bytes, from: 0)
        let expected = parameters.reduce(0) { $0 + $1.value.count } * MemoryLayout<Float>.size
        guard bytes.count == expected else {
            throw RecurrentError.invalidArgument("rank 0's parameters hold \(bytes.count / 4) values, this rank's \(expected / 4): the ranks build different models")
        }
        var offset = 0
        for parameter in parameters {
            let count = parameter.value.count
            let values = bytes[offset..<(offset + count * 4)].withUnsafeBytes { raw in
                (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            }
            parameter.value = Tensor(shape: parameter.shape, scalars: values)
            offset += count * 4
        }
    }

    /// Before anything else: the processes must train the same model on the same data with the
    /// same options (a fingerprint of each compared across them).
    func checkAgreementOfProcesses(sampleCount: Int) throws {
        guard let communicator = options.communicator, communicator.size > 1 else { return }
        var data = Fingerprint()
        data.add(sampleCount)
        if let identity { data.add(Int(bitPattern: UInt(identity.data))) }
        try communicator.checkAgreement(on: data.value, what: "the training data (its fingerprint)")
        var setup = Fingerprint()
        setup.add(parameters.map { $0.shape.reduce(1, *) })
        if let identity { setup.add(String(decoding: identity.configuration, as: UTF8.self)) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Not the checkpoint's notes: what a task keeps there (times of finished runs) is its own.
        var compared = options
        compared.checkpoint?.notes = [:]
        setup.add(String(decoding: (try? encoder.encode(compared)) ?? Data(), as: UTF8.self))
        try communicator.checkAgreement(on: setup.value, what: "the model and the training options (their fingerprint)")
    }
}

extension Trainer {
    /// After a data-parallel run: checks that every process ends with the same parameters (a
    /// fingerprint of their bits compared), and reports the all-reduce's share of the time of the
    /// `steps` this process took (waiting for the slowest process included).
    func reportDistributedRun(steps: Int) throws {
        guard let communicator = options.communicator, communicator.size > 1 else { return }
        var fingerprint = Fingerprint()
        fingerprint.add(parameters.map(\.value))
        try communicator.checkAgreement(on: fingerprint.value, what: "the parameters after training")
        reporter?.note(String(format: "the parameters are identical, bit for bit, on all %d ranks (fingerprint %016llx)",
                              communicator.size, fingerprint.value))
        guard stepSecondsTotal > 0 else { return }
        let perStep = communicationSeconds / Double(max(1, steps))
        reporter?.note(String(format: "all-reduce over %d ranks: %.2f ms per step, %.1f%% of the step time", communicator.size,
                              perStep * 1000, 100 * communicationSeconds / stepSecondsTotal))
    }
}

/// Parts of a batch for processes, shared by the Trainer and `Communicator.share(of:)`, and work
/// split over processes that may be absent.
public enum Communicators {
    /// `Communicator.mapInOrder` for work that may run alone: without a communicator (or with
    /// one process) `body` takes every item.
    public static func mapInOrder<Item, Result: Codable>(_ items: [Item], over communicator: (any Communicator)?,
                                                          _ body: (ArraySlice<Item>) throws -> [Result]) throws -> [Result] {
        guard let communicator, communicator.size > 1 else { return try body(items[...]) }
        return try communicator.mapInOrder(items, body)
    }

    /// The contiguous part of `0..<count` process `rank` of `size` takes: parts differ in size by
    /// at most one, the larger ones first.
    static func share(of count: Int, rank: Int, size: Int) -> Range<Int> {
        let base = count / max(1, size), extra = count % max(1, size)
        let start = rank * base + min(rank, extra)
        return start..<(start + base + (rank < extra ? 1 : 0))
    }
}
