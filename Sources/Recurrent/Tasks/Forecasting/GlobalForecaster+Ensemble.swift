import Foundation

/// Ensembles of global forecasters (N-BEATS and ES-RNN forecast with many networks): networks
/// trained alike from different seeds, forecasting the element-wise median of their quantiles
/// and points. The first network is an ordinary model file's network; the others travel in its
/// metadata (`ensemble-members`), so tools that read one network still read the file.
extension GlobalForecaster {
    static let membersKey = "ensemble-members"

    /// JSON with its keys sorted: the same networks always give the same bytes (in the model
    /// file, and in checkpoint notes that every rank of a job must hold alike).
    static var sortedJSON: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    /// The seed of network `index` of an ensemble trained with `seed`: the seed itself for the
    /// first (so an ensemble of one is the single model), then the outputs of a SplitMix64
    /// seeded with it. Not seed + index x SplitMix64's step: a generator seeded so runs the
    /// first network's numbers shifted by `index` places, so every layer would start from the
    /// first network's weights moved along by a few entries.
    public static func memberSeed(_ seed: UInt64, _ index: Int) -> UInt64 {
        guard index > 0 else { return seed }
        var generator = SplitMix64(seed: seed ^ 0x5851_F42D_4C95_7F2D)
        var value = seed
        for _ in 0..<index { value = generator.next() }
        return value
    }

    /// One forecaster of `networks` (trained with the same configuration but the ensemble size),
    /// forecasting their median; its intervals are left to calibrate.
    public static func ensemble(_ networks: [GlobalForecaster], configuration: GlobalForecastConfiguration) throws -> GlobalForecaster {
        guard let first = networks.first else { throw RecurrentError.invalidArgument("an ensemble needs at least one network") }
        var c = configuration
        c.ensemble = networks.count
        c.intervalScales = []
        var memberConfiguration = c
        memberConfiguration.ensemble = nil
        let model = Model(first.model.layer)
        try model.setMetadata("task", "global-forecast")
        try model.setMetadata("forecast", c)
        let stored = networks.dropFirst().map(\.storedTensors)
        model.metadata[membersKey] = String(decoding: try sortedJSON.encode(stored), as: UTF8.self)
        let forecaster = try GlobalForecaster(model: model, configuration: c)
        forecaster.members = try networks.map { try GlobalForecaster(model: Model($0.model.layer), configuration: memberConfiguration) }
        return forecaster
    }

    /// The networks of a loaded ensemble: `forecaster`'s own, then those stored in its metadata.
    static func loadMembers(of forecaster: GlobalForecaster, path: String) throws -> [GlobalForecaster] {
        var c = forecaster.configuration
        c.ensemble = nil
        c.intervalScales = []
        guard let text = forecaster.model.metadata[membersKey],
              let stored = try? JSONDecoder().decode([[String: StoredTensor]].self, from: Data(text.utf8)),
              stored.count == forecaster.configuration.networkCount - 1 else {
            throw RecurrentError.invalidFile(path: path, reason: "the ensemble's \(forecaster.configuration.networkCount - 1) other networks are missing "
                + "from the metadata (\"\(membersKey)\") or unreadable")
        }
        var members = [try GlobalForecaster(model: Model(forecaster.model.layer), configuration: c)]
        for (index, tensors) in stored.enumerated() {
            members.append(try rebuilt(c, from: tensors, path: path, network: index + 2))
        }
        return members
    }

    /// This network's parameters as they travel in metadata (an ensemble's members, the networks
    /// a checkpoint of several carries).
    var storedTensors: [String: StoredTensor] { model.layer.namedTensors.mapValues(StoredTensor.init) }

    /// A network of configuration `c` with the parameters `tensors` (network `network` of what
    /// `path` holds, for messages).
    static func rebuilt(_ c: GlobalForecastConfiguration, from tensors: [String: StoredTensor], path: String, network: Int) throws -> GlobalForecaster {
        let forecaster = try make(c, seed: 0)
        try forecaster.model.layer.loadParameters(try tensors.mapValues { try $0.tensor(path: path, network: network) }, from: path)
        return forecaster
    }

    /// The element-wise median of the members' forecasts (their intervals uncalibrated), the
    /// ensemble's calibration then applied; sample paths are pooled.
    func ensembleForecast(_ panel: SeriesPanel, series indices: [Int], seed: UInt64) throws -> [SeriesForecast] {
        let each = try members.map { try $0.forecast(panel, series: indices, seed: seed) }
        return each[0].indices.map { s in
            let forecasts = each.map { $0[s] }
            func median(_ rows: [[Double]]) -> [Double] {
                rows[0].indices.map { k in
                    let sorted = rows.map { $0[k] }.sorted(), middle = sorted.count / 2
                    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
                }
            }
            let quantiles = forecasts[0].quantiles.indices.map { l in median(forecasts.map { $0.quantiles[l] }) }
            var result = summary(quantiles: quantiles, point: median(forecasts.map(\.point)), paths: forecasts.flatMap(\.paths))
            result.id = forecasts[0].id
            result.ordinals = forecasts[0].ordinals
            return result
        }
    }

    /// One history for the ensemble: the first network's losses and epochs; the time and steps
    /// of every network in `timing` (those trained and not kept, such as the loss scale's
    /// other candidate, included).
    static func combined(_ histories: [TrainingHistory], timing: [TrainingHistory]) -> TrainingHistory {
        var history = histories[0]
        history.seconds = timing.reduce(0) { $0 + $1.seconds }
        history.validationSeconds = timing.reduce(0) { $0 + $1.validationSeconds }
        history.steps = timing.reduce(0) { $0 + $1.steps }
        if let diverged = histories.first(where: { $0.stopReason == .diverged }) {
            history.stopReason = .diverged
            history.message = diverged.message
        }
        return history
    }

    /// Each candidate reference's MASE on the held-out last `holdout` values of every series
    /// with at least two values before them, forecast from those values alone (the same split
    /// that chooses the epoch: nothing after a series' training part is read). MASE: the mean
    /// over series of the MAE over the in-sample MAE of the seasonal naive forecast. The Theta
    /// method is the one training gives the configuration (additive seasons unless it says not).
    public static func referenceErrors(_ panel: SeriesPanel, configuration c: GlobalForecastConfiguration, holdout: Int)
        -> [(reference: ForecastReference, mase: Double)] {
        let candidates: [ForecastReference] = [.theta] + (panel.season > 1 ? [.seasonalNaive, .thetaSeasonalNaive] : []) + [.lastValue]
        var totals = [Double](repeating: 0, count: candidates.count), counted = 0
        let horizon = min(holdout, c.horizon)
        for series in panel.series where series.count - holdout >= 2 {
            let origin = series.count - holdout, known = Array(series.values[..<origin])
            let lag = panel.season > 1 && origin > panel.season ? panel.season : 1
            let scale = ForecastBaselines.meanAbsoluteLagDifference(known, lag: lag)
            guard scale > 0 else { continue }
            counted += 1
            for (i, reference) in candidates.enumerated() {
                let forecast = referenceForecast(reference, known, origin: origin, context: min(c.resolvedWindow, origin),
                                                 season: panel.season, horizon: c.horizon,
                                                 additiveSeasons: c.thetaAdditiveSeasons ?? true)
                let error = (0..<horizon).reduce(0) { $0 + abs(series.values[origin + $1] - forecast[$1]) } / Double(horizon)
                totals[i] += error / scale
            }
        }
        return zip(candidates, totals).map { ($0, counted > 0 ? $1 / Double(counted) : .infinity) }
    }
}

/// A tensor in a model's metadata: its shape and its scalars as little-endian Float32, base64.
struct StoredTensor: Codable {
    var shape: [Int]
    var data: String

    init(_ tensor: Tensor) {
        shape = tensor.shape
        var bytes = Data(capacity: tensor.scalars.count * 4)
        for scalar in tensor.scalars { withUnsafeBytes(of: scalar.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        data = bytes.base64EncodedString()
    }

    func tensor(path: String, network: Int) throws -> Tensor {
        guard let bytes = Data(base64Encoded: data), shape.allSatisfy({ $0 >= 0 }),
              bytes.count == 4 * shape.reduce(1, { $0 &* $1 }) else {
            throw RecurrentError.invalidFile(path: path, reason: "network \(network) of the ensemble holds a tensor whose data do not fit its shape \(shape)")
        }
        let scalars = stride(from: 0, to: bytes.count, by: 4).map { offset in
            Float(bitPattern: bytes[bytes.startIndex + offset..<bytes.startIndex + offset + 4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        }
        return Tensor(shape: shape, scalars: scalars)
    }
}
