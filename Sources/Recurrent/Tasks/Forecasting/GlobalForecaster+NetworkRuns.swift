import Foundation

/// The networks one training fits one after another (the loss scales' candidates, then the
/// ensemble's other members), as its checkpoints record them. A checkpoint written during network
/// k holds networks 1...k-1 finished (their parameters and histories) in its notes, so that
/// resuming from it rebuilds those, continues network k where the checkpoint left it and trains
/// the rest: the run ends with the model of the run never interrupted, bit for bit.
struct NetworkRuns {
    static let planKey = "forecast.networks", finishedKey = "forecast.finished-networks"

    /// A network trained to its end, as a checkpoint of a later network carries it.
    struct Finished: Codable {
        var lossScale: ForecastLossScale?
        var seed: UInt64
        var tensors: [String: StoredTensor]
        var history: TrainingHistory
    }

    /// What the training fits, in words ("one network" for a single one): a checkpoint must
    /// have been written by a run of the same plan.
    let plan: String
    let several: Bool
    /// How many networks the run trains.
    let count: Int
    let options: TrainingOptions
    private var restored: [Finished] = []
    private var finished: [Finished] = []

    /// The histories of every network trained so far, those not kept included.
    var histories: [TrainingHistory] { finished.map(\.history) }

    /// Whether `c` trains more than one network (the loss scale's choice, an ensemble).
    static func trainsSeveral(_ c: GlobalForecastConfiguration) -> Bool { c.chooseLossScale == true || c.networkCount > 1 }

    init(_ c: GlobalForecastConfiguration, options: TrainingOptions, progress: ProgressReporter?) throws {
        let choosing = c.chooseLossScale == true, count = c.networkCount
        switch (choosing, count > 1) {
        case (true, true): plan = "\(count + 1) networks: 2 to choose the loss scale, then \(count - 1) more for an ensemble of \(count)"
        case (true, false): plan = "2 networks to choose the loss scale"
        case (false, true): plan = "an ensemble of \(count) networks"
        case (false, false): plan = "one network"
        }
        several = Self.trainsSeveral(c)
        self.count = choosing ? count + 1 : count
        self.options = options
        guard let path = options.checkpoint?.resumeFrom else { return }
        let notes = try Trainer.checkpointNotes(at: path, communicator: options.communicator)
        let stored = notes[Self.planKey] ?? "one network"
        guard stored == plan else {
            throw RecurrentError.invalidFile(path: path, reason: "cannot resume: the checkpoint is of a training of \(stored), this one fits \(plan); "
                + "resume with the options the checkpoint was written with, or start afresh")
        }
        if let text = notes[Self.finishedKey] {
            guard let networks = try? JSONDecoder().decode([Finished].self, from: Data(text.utf8)) else {
                throw RecurrentError.invalidFile(path: path, reason: "the networks finished before the checkpoint (note \"\(Self.finishedKey)\") are unreadable")
            }
            restored = networks
        }
        if several {
            progress?.note("resuming network \(restored.count + 1) of \(plan)"
                           + (restored.isEmpty ? "" : " (\(restored.count == 1 ? "network 1" : "networks 1-\(restored.count)") finished in the checkpoint)"))
        }
    }

    /// The next network of the run with configuration `c` from `seed`: rebuilt when the
    /// checkpoint resumed from holds it finished, continued from the checkpoint when it was
    /// under way there, trained afresh after.
    mutating func fit(_ panel: SeriesPanel, configuration c: GlobalForecastConfiguration, seed: UInt64, holdout: Int,
                      progress: ProgressReporter?) throws -> (GlobalForecaster, TrainingHistory) {
        let index = finished.count
        if index < restored.count {
            let record = restored[index], path = options.checkpoint?.resumeFrom ?? ""
            guard record.seed == seed, record.lossScale == c.lossScale else {
                throw RecurrentError.invalidFile(path: path, reason: "cannot resume: network \(index + 1) in the checkpoint was trained from seed \(record.seed) "
                    + "with loss scale \(record.lossScale?.rawValue ?? "level"), this run's from seed \(seed) with \(c.lossScale?.rawValue ?? "level")")
            }
            let network = try GlobalForecaster.rebuilt(c, from: record.tensors, path: path, network: index + 1)
            finished.append(record)
            progress?.note("network \(index + 1) of \(plan): taken from the checkpoint, as it ended (epoch \(record.history.bestEpoch.map(String.init) ?? "last") kept)")
            return (network, record.history)
        }
        var o = options
        o.seed = seed
        // A time limit bounds the whole training: each network has its share.
        o.maxMinutes = options.maxMinutes.map { $0 / Double(count) }
        if several, var checkpoint = o.checkpoint {
            checkpoint.notes[Self.planKey] = plan
            checkpoint.notes[Self.finishedKey] = String(decoding: try GlobalForecaster.sortedJSON.encode(finished), as: UTF8.self)
            if index > restored.count { checkpoint.resumeFrom = nil }
            o.checkpoint = checkpoint
        }
        let (network, history) = try GlobalForecaster.fitNetwork(panel, configuration: c, options: o, holdout: holdout, progress: progress)
        finished.append(Finished(lossScale: c.lossScale, seed: seed,
                                 tensors: several ? network.storedTensors : [:], history: history))
        return (network, history)
    }
}
