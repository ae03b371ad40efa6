import Foundation

/// The forecast of one series: a point forecast with its intervals for every step ahead.
public struct SeriesForecast: Codable, Sendable {
    public var id: String
    /// [horizon] the steps' ordinals (write them with `SeriesPanel.format(ordinal:)`).
    public var ordinals: [Double]
    /// [horizon] the mean of a distribution head or of the sample paths; the median of a
    /// quantile head.
    public var point: [Double]
    /// [interval][horizon] the bounds of each of the configuration's intervals, in its order.
    public var lower: [[Double]]
    public var upper: [[Double]]
    /// [path][horizon] sample paths of a recursive model (empty otherwise).
    public var paths: [[Double]]
    /// [level][horizon] the quantiles at the configuration's `quantileLevels`.
    public var quantiles: [[Double]]
}

extension GlobalForecaster {
    /// The columns of a prediction table (`forecast predict`'s CSV and JSON, the server's
    /// `forecasts`): unique_id, ds, mean, then lo- and hi- of each interval.
    public var predictionColumns: [String] {
        ["unique_id", "ds", "mean"] + configuration.intervals.flatMap { ["lo-\($0)", "hi-\($0)"] }
    }

    /// One row per series and step (the first `steps` of each forecast): the series' id, the
    /// step's date as `panel` writes dates, and the mean and the bounds in `predictionColumns`'
    /// order.
    public func predictionRows(_ forecasts: [SeriesForecast], panel: SeriesPanel, steps: Int) -> [(id: String, ds: String, values: [Double])] {
        forecasts.flatMap { forecast in
            (0..<min(steps, forecast.point.count)).map { k in
                (forecast.id, panel.format(ordinal: forecast.ordinals[k]),
                 [forecast.point[k]] + configuration.intervals.indices.flatMap { [forecast.lower[$0][k], forecast.upper[$0][k]] })
            }
        }
    }

    /// The next `horizon` steps after the last value of every series of `panel`, with the
    /// configured intervals. Known covariates must be given for those steps. Series the model
    /// never saw are forecast from their own history (the model holds nothing per series).
    /// Each series draws from a generator of its own, keyed by `seed` and its place in the panel,
    /// so with a `communicator` each process forecasts its share of the series and every process
    /// gets all of them, in order, the same bit for bit as one process's.
    public func forecast(_ panel: SeriesPanel, seed: UInt64 = 0, communicator: (any Communicator)? = nil) throws -> [SeriesForecast] {
        try checkCompatible(panel)
        let forecasts = try Communicators.mapInOrder(Array(panel.series.indices), over: communicator) { part in
            try forecast(panel, series: Array(part), seed: seed)
        }
        // Values far past float32's range (the network computes in it) give no forecast at all.
        for (series, forecast) in zip(panel.series, forecasts)
        where !(forecast.point + forecast.lower.joined() + forecast.upper.joined()).allSatisfy(\.isFinite) {
            let largest = series.values.map(abs).max() ?? 0
            throw RecurrentError.invalidArgument("\(panel.source): series \"\(series.id)\": the forecast is not finite; its values reach "
                + "\(largest), beyond what the model computes in 32-bit floats")
        }
        return forecasts
    }

    /// The forecasts of the series at `indices` in `panel`.
    func forecast(_ panel: SeriesPanel, series indices: [Int], seed: UInt64) throws -> [SeriesForecast] {
        if !members.isEmpty { return try ensembleForecast(panel, series: indices, seed: seed) }
        let c = configuration
        var forecasts: [SeriesForecast] = []
        // Chunks bound the memory of the sample paths (series x samples rows of state).
        let chunk = c.strategy == .recursive ? max(1, 20_000 / c.samples) : 512
        for first in stride(from: 0, to: indices.count, by: chunk) {
            let chosen = indices[first..<min(first + chunk, indices.count)]
            let windows = chosen.map { ForecastWindow(series: $0, origin: panel.series[$0].count, end: panel.series[$0].count) }
            var generators = chosen.map { SplitMix64(seed: mixSeeds(seed, UInt64($0))) }
            let drawn = c.strategy == .direct ? try directForecasts(windows, panel: panel, generators: &generators)
                : try recursiveForecasts(windows, panel: panel, generators: &generators)
            for (window, forecast) in zip(windows, drawn) {
                var result = forecast
                result.id = panel.series[window.series].id
                result.ordinals = panel.futureOrdinals(of: panel.series[window.series], count: c.horizon)
                forecasts.append(result)
            }
        }
        return forecasts
    }

    func checkCompatible(_ panel: SeriesPanel) throws {
        let c = configuration
        guard panel.knownCovariateNames == c.knownCovariates, panel.pastCovariateNames == c.pastCovariates else {
            throw RecurrentError.invalidFile(path: panel.source, reason: "the model reads the known covariates \(c.knownCovariates) and the past ones "
                + "\(c.pastCovariates); the data give \(panel.knownCovariateNames) and \(panel.pastCovariateNames)")
        }
        if (panel.calendar == nil) != (c.calendar?.calendar == nil) || panel.calendar?.format != c.calendar?.calendar?.format
            || panel.step != c.calendar?.step ?? 1 {
            throw RecurrentError.invalidFile(path: panel.source, reason: "the dates are not written at the model's frequency "
                + "(\(c.calendar?.calendar.map { "\($0.format.rawValue), step \(c.calendar?.step ?? 1)" } ?? "step numbers"))")
        }
        try panel.checkShapes()
        for series in panel.series where !c.knownCovariates.isEmpty && series.futureCount < c.horizon {
            throw RecurrentError.invalidFile(path: panel.source, reason: "series \"\(series.id)\" gives its known covariates for \(series.futureCount) "
                + "steps after its last value; the model forecasts \(c.horizon) and needs them all")
        }
    }

    /// The intervals from the quantiles of each step (widened or narrowed by the calibration's
    /// factors around the median), with the point forecast.
    func summary(quantiles raw: [[Double]], point: [Double], paths: [[Double]] = []) -> SeriesForecast {
        let c = configuration, levels = c.quantileLevels
        let tails = c.intervals.map { (1 - Double($0) / 100) / 2 }
        var quantiles = raw
        if let median = levels.firstIndex(of: 0.5), c.intervalScales.count == c.intervals.count {
            for (tail, factor) in zip(tails, c.intervalScales) {
                for l in levels.indices where abs(levels[l] - tail) < 1e-9 || abs(levels[l] - (1 - tail)) < 1e-9 {
                    quantiles[l] = zip(raw[l], raw[median]).map { $1 + factor * ($0 - $1) }
                }
            }
        }
        func bound(_ level: Double) -> [Double] { quantiles[levels.firstIndex { abs($0 - level) < 1e-9 } ?? 0] }
        return SeriesForecast(id: "", ordinals: [], point: point, lower: tails.map { bound($0) }, upper: tails.map { bound(1 - $0) },
                              paths: paths, quantiles: quantiles)
    }

    /// `generators[b]`: the draws of window b.
    func directForecasts(_ windows: [ForecastWindow], panel: SeriesPanel, generators: inout [SplitMix64]) throws -> [SeriesForecast] {
        let c = configuration, batch = batch(windows, panel: panel), levels = c.quantileLevels
        let raw = try GradientMode.withoutRecording { try rawOutputs(batch) }.value
        let outputs = c.outputsPerStep
        return windows.indices.map { b in
            let scale = batch.scales[b], reference = batch.references[b]
            var quantiles = [[Double]](repeating: [], count: levels.count), point: [Double] = []
            for k in 0..<c.horizon {
                let offset = (b * c.horizon + k) * outputs
                let values = Array(raw.scalars[offset..<(offset + outputs)])
                if let kind = c.head.distribution {
                    let parameters = DistributionParameters(kind: kind, raw: values, scale: kind == .negativeBinomial ? scale : 1)
                    let toData: (Double) -> Double = kind == .negativeBinomial ? { $0 } : { reference[k] + scale * $0 }
                    let draws = (0..<c.samples).map { _ in toData(parameters.sample(using: &generators[b])) }.sorted()
                    for (l, level) in levels.enumerated() { quantiles[l].append(ProbabilisticScores.quantile(sorted: draws, level: level)) }
                    point.append(toData(parameters.mean))
                } else {
                    // Quantile outputs may cross; sorted, they are the nearest ordered set.
                    let sorted = values.map { reference[k] + scale * Double($0) }.sorted()
                    for l in levels.indices { quantiles[l].append(sorted[l]) }
                    point.append(sorted[levels.firstIndex { $0 == 0.5 } ?? levels.count / 2])
                }
            }
            return summary(quantiles: quantiles, point: point)
        }
    }

    /// DeepAR's ancestral sampling: the context encoded once, then `samples` paths per series,
    /// each step's draw read back as the next step's value.
    func recursiveForecasts(_ windows: [ForecastWindow], panel: SeriesPanel, generators: inout [SplitMix64]) throws -> [SeriesForecast] {
        let c = configuration, count = windows.count, paths = c.samples, features = c.stepInputs
        guard let kind = c.head.distribution else { throw RecurrentError.invalidArgument("a recursive model needs a distribution head") }
        // Reading the context, the last step's inputs carry the first forecast step's calendar.
        let reading = windows.map { ForecastWindow(series: $0.series, origin: $0.origin, end: $0.origin + 1) }
        let batch = batch(reading, panel: panel)
        let encoded = try GradientMode.withoutRecording { try encoder.run(Variable(batch.input), lengths: batch.lengths) }
        func repeated(_ state: Variable) -> Variable {
            let (layers, hidden) = (state.shape[0], state.shape[2])
            var values = [Float](); values.reserveCapacity(layers * count * paths * hidden)
            for l in 0..<layers {
                for b in 0..<count {
                    let row = state.value.scalars[((l * count + b) * hidden)..<((l * count + b + 1) * hidden)]
                    for _ in 0..<paths { values += row }
                }
            }
            return Variable(Tensor(shape: [layers, count * paths, hidden], scalars: values))
        }
        var state = RecurrentLayer.State(hidden: repeated(encoded.state.hidden), cell: encoded.state.cell.map(repeated))
        var top = encoder.lastState(state).value
        var drawn = [[Double]](repeating: [], count: count * paths)
        var last = windows.map { panel.series[$0.series].values[$0.origin - 1] }.flatMap { Array(repeating: $0, count: paths) }
        var row: [Float] = []
        for k in 0..<c.horizon {
            let raw = GradientMode.withoutRecording { outputs(Variable(top)) }.value
            var input = [Float](repeating: 0, count: count * paths * features)
            for b in 0..<count {
                let series = panel.series[windows[b].series], scale = batch.scales[b]
                let statics = windowStatics(scale: scale, reference: [])
                for p in 0..<paths {
                    let n = b * paths + p
                    let parameters = DistributionParameters(kind: kind, raw: Array(raw.scalars[(n * kind.parameterCount)..<((n + 1) * kind.parameterCount)]),
                                                            scale: kind == .negativeBinomial ? scale : 1)
                    let draw = parameters.sample(using: &generators[b])
                    let value = kind == .negativeBinomial ? draw : last[n] + scale * draw
                    drawn[n].append(value)
                    last[n] = value
                    guard k + 1 < c.horizon else { continue }
                    stepInputs(series, row: windows[b].origin + k + 1, valueRow: nil, scale: scale, statics: statics, into: &row)
                    row[0] = Float(value / scale - 1)
                    input.replaceSubrange((n * features)..<((n + 1) * features), with: row)
                }
            }
            guard k + 1 < c.horizon else { break }
            let stepped = try encoder.step(Tensor(shape: [count * paths, features], scalars: input), state: state)
            state = stepped.state
            top = stepped.output
        }
        let levels = c.quantileLevels
        return (0..<count).map { b in
            let sample = Array(drawn[(b * paths)..<((b + 1) * paths)])
            var quantiles = [[Double]](repeating: [], count: levels.count), point: [Double] = []
            for k in 0..<c.horizon {
                let column = sample.map { $0[k] }.sorted()
                for (l, level) in levels.enumerated() { quantiles[l].append(ProbabilisticScores.quantile(sorted: column, level: level)) }
                point.append(column.reduce(0, +) / Double(paths))
            }
            return summary(quantiles: quantiles, point: point, paths: sample)
        }
    }
}
