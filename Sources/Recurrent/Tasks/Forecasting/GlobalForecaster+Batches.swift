import Foundation

/// A forecast origin in one series: the model reads the values before `origin` and forecasts
/// from there; its targets are the values at `origin..<end` (fewer than the horizon near a
/// series' end: the missing ones are masked).
struct ForecastWindow: Sendable {
    var series: Int
    var origin: Int
    var end: Int
    /// What each of its targets weighs in the loss (`ForecastLossScale`).
    var weight: Float = 1
}

/// Which windows train the model and which validate it: the last `holdout` values of every
/// series long enough are validation targets, read from everything before them; training
/// windows end before them. A series too short to lose them trains with all its values.
struct WindowPlan {
    var training: [ForecastWindow] = []
    var validation: [ForecastWindow] = []

    init(panel: SeriesPanel, configuration c: GlobalForecastConfiguration, holdout: Int) {
        for (index, series) in panel.series.enumerated() {
            let limit = series.count - holdout >= 2 ? series.count - holdout : series.count
            if limit < series.count { validation.append(ForecastWindow(series: index, origin: limit, end: series.count)) }
            for origin in stride(from: 1, to: limit, by: 1) {
                training.append(ForecastWindow(series: index, origin: origin, end: min(origin + c.horizon, limit)))
            }
        }
        if c.lossScale == .mase { weighByMASEScale(panel, configuration: c, holdout: holdout) }
    }

    /// The cap on a window's MASE weight, in units of the average: a series of near-constant
    /// training values would otherwise drown the others.
    static let maximumWeight = 10.0

    /// Weighs every window by its level over its series' in-sample seasonal naive MAE (of the
    /// values before the held-out ones), so that a window's loss, taken in units of its level,
    /// counts in MASE's units; normalized so that the training targets weigh 1 on average.
    /// Series whose training values never change weigh the average.
    mutating func weighByMASEScale(_ panel: SeriesPanel, configuration c: GlobalForecastConfiguration, holdout: Int) {
        let scales = panel.series.map { series -> Double in
            let limit = series.count - holdout >= 2 ? series.count - holdout : series.count
            let known = Array(series.values.prefix(limit))
            let lag = panel.season > 1 && known.count > panel.season ? panel.season : 1
            return ForecastBaselines.meanAbsoluteLagDifference(known, lag: lag)
        }
        func raw(_ w: ForecastWindow) -> Double? {
            guard scales[w.series] > 0 else { return nil }
            let values = panel.series[w.series].values
            return GlobalForecaster.level(values[(w.origin - min(c.resolvedWindow, w.origin))..<w.origin]) / scales[w.series]
        }
        var total = 0.0, targets = 0.0
        for w in training { if let r = raw(w) { total += r * Double(w.end - w.origin); targets += Double(w.end - w.origin) } }
        let mean = targets > 0 && total > 0 ? total / targets : 1
        func weigh(_ windows: inout [ForecastWindow]) {
            for i in windows.indices { windows[i].weight = Float(min(Self.maximumWeight, raw(windows[i]).map { $0 / mean } ?? 1)) }
        }
        weigh(&training)
        weigh(&validation)
    }
}

/// One mini-batch. B windows, T steps read, S targets each (the horizon, or for a recursive
/// model every step read).
struct ForecastBatch {
    /// [B, T, stepInputs], zero past each window's length.
    var input: Tensor
    var lengths: [Int]
    /// [B, S] in window units relative to the reference (counts for the negative binomial), and
    /// the mask of the targets that exist, each its window's weight (0 where none).
    var targets: Tensor
    var mask: Tensor
    /// [B] each window's level.
    var scales: [Double]
    /// [B][horizon] the reference forecast in data units (direct models).
    var references: [[Double]]
}

extension GlobalForecaster {
    /// The inputs of one step of `series` at row `t` (its ordinal may lie past the data): the
    /// value in window units (0 when unknown), calendar, covariates, the window's `statics`.
    func stepInputs(_ series: PanelSeries, row t: Int, valueRow: Int?, scale: Double, statics: [Float], into row: inout [Float]) {
        let c = configuration
        row.removeAll(keepingCapacity: true)
        row.append(valueRow.map { Float(series.values[$0] / scale - 1) } ?? 0)
        if c.calendarFeatures, let calendar = c.calendar { row += calendar.values(at: ordinal(series, t)).map(Float.init) }
        for k in c.knownCovariates.indices {
            let value = t < series.knownCovariates[k].count ? series.knownCovariates[k][t] : 0
            row.append(Float((value - c.covariateScaling[k][0]) / c.covariateScaling[k][1]))
        }
        if c.strategy == .direct {
            for p in c.pastCovariates.indices {
                // Past covariates are unknown past the window: 0, their mean, there.
                let scaling = c.covariateScaling[c.knownCovariates.count + p]
                row.append(t < series.pastCovariates[p].count ? Float((series.pastCovariates[p][t] - scaling[0]) / scaling[1]) : 0)
            }
        }
        row += statics
        if c.readsFuture { row.append(valueRow == nil ? 1 : 0) }
    }

    /// The ordinal of row `t`, continuing the series' steps past its last row.
    func ordinal(_ series: PanelSeries, _ t: Int) -> Double {
        if t < series.ordinals.count { return series.ordinals[t] }
        let last = series.ordinals.count - 1
        return series.ordinals[last] + Double(t - last) * (configuration.calendar?.step ?? 1)
    }

    /// Inputs the same at every step of a window: log(1 + scale), standardized over the series,
    /// and for a direct model where its reference forecast starts and ends, in window units.
    func windowStatics(scale: Double, reference: [Double]) -> [Float] {
        let logScale = Float((log1p(scale) - configuration.scaleScaling[0]) / configuration.scaleScaling[1])
        guard let first = reference.first, let last = reference.last else { return [logScale] }
        return [logScale, Float(first / scale - 1), Float(last / scale - 1)]
    }

    /// The reference forecast of the horizon after `origin`, from the `context` values before it
    /// (the Theta method reads the whole history).
    func referenceForecast(_ values: [Double], origin: Int, context: Int) -> [Double] {
        Self.referenceForecast(configuration.resolvedReference, values, origin: origin, context: context,
                               season: configuration.season, horizon: configuration.horizon,
                               additiveSeasons: configuration.thetaAdditiveSeasons ?? false)
    }

    static func referenceForecast(_ reference: ForecastReference, _ values: [Double], origin: Int, context: Int,
                                  season: Int, horizon: Int, additiveSeasons: Bool) -> [Double] {
        switch reference {
        case .theta: return ThetaMethod.forecast(values[..<origin], horizon: horizon, season: season, additiveSeasons: additiveSeasons)
        case .thetaSeasonalNaive:
            let theta = ThetaMethod.forecast(values[..<origin], horizon: horizon, season: season, additiveSeasons: additiveSeasons)
            let naive = referenceForecast(.seasonalNaive, values, origin: origin, context: context, season: season, horizon: horizon,
                                          additiveSeasons: additiveSeasons)
            return zip(theta, naive).map { ($0 + $1) / 2 }
        case .none: return Array(repeating: 0, count: horizon)
        case .seasonalNaive where season > 1 && context >= season: return (0..<horizon).map { values[origin - season + $0 % season] }
        default: return Array(repeating: values[origin - 1], count: horizon)
        }
    }

    /// The targets `batch` marks in the mask for window `w`.
    func targetCount(_ w: ForecastWindow, panel: SeriesPanel) -> Int {
        guard configuration.strategy != .direct else { return w.end - w.origin }
        let start = w.origin - min(configuration.resolvedWindow, w.origin)
        return max(0, min(w.end - start - 1, panel.series[w.series].values.count - start - 1))
    }

    func batch(_ windows: [ForecastWindow], panel: SeriesPanel) -> ForecastBatch {
        let c = configuration, window = c.resolvedWindow, horizon = c.horizon, features = c.stepInputs
        let direct = c.strategy == .direct, counts = c.head == .negativeBinomial
        let steps = c.encoderSteps, targetsPerWindow = direct ? horizon : steps
        var input = [Float](repeating: 0, count: windows.count * steps * features)
        var targets = [Float](repeating: 0, count: windows.count * targetsPerWindow), mask = targets
        var lengths: [Int] = [], scales: [Double] = [], references: [[Double]] = []
        var row: [Float] = []
        for (b, w) in windows.enumerated() {
            let series = panel.series[w.series], values = series.values
            let context = min(window, w.origin), start = w.origin - context
            let scale = Self.level(values[start..<w.origin])
            scales.append(scale)
            let reference = direct ? referenceForecast(values, origin: w.origin, context: context) : []
            let statics = windowStatics(scale: scale, reference: reference)
            if direct {
                for j in 0..<context {
                    stepInputs(series, row: start + j, valueRow: start + j, scale: scale, statics: statics, into: &row)
                    input.replaceSubrange(((b * steps + j) * features)..<((b * steps + j + 1) * features), with: row)
                }
                for k in 0..<(c.readsFuture ? horizon : 0) {
                    stepInputs(series, row: w.origin + k, valueRow: nil, scale: scale, statics: statics, into: &row)
                    input.replaceSubrange(((b * steps + context + k) * features)..<((b * steps + context + k + 1) * features), with: row)
                }
                lengths.append(context + (c.readsFuture ? horizon : 0))
                references.append(reference)
                for k in 0..<(w.end - w.origin) {
                    targets[b * horizon + k] = Float(counts ? values[w.origin + k] : (values[w.origin + k] - reference[k]) / scale)
                    mask[b * horizon + k] = w.weight
                }
            } else {
                // Step j reads the value at start + j with the calendar of the step it forecasts.
                let length = w.end - start - 1
                for j in 0..<length {
                    stepInputs(series, row: start + j + 1, valueRow: start + j, scale: scale, statics: statics, into: &row)
                    input.replaceSubrange(((b * steps + j) * features)..<((b * steps + j + 1) * features), with: row)
                    // Reading a context to forecast from, the last step has no target.
                    guard start + j + 1 < values.count else { continue }
                    let next = values[start + j + 1]
                    targets[b * steps + j] = Float(counts ? next : (next - values[start + j]) / scale)
                    mask[b * steps + j] = w.weight
                }
                lengths.append(length)
                references.append([])
            }
        }
        return ForecastBatch(input: Tensor(shape: [windows.count, steps, features], scalars: input), lengths: lengths,
                             targets: Tensor(shape: [windows.count, targetsPerWindow], scalars: targets),
                             mask: Tensor(shape: [windows.count, targetsPerWindow], scalars: mask), scales: scales, references: references)
    }

    /// Raw outputs of a batch: direct [B, horizon, outputs]; recursive [B, T, outputs].
    func rawOutputs(_ batch: ForecastBatch) throws -> Variable {
        let c = configuration, count = batch.lengths.count
        let result = try encoder.run(Variable(batch.input), lengths: batch.lengths)
        if c.strategy == .direct {
            return outputs(encoder.lastState(result.state)).reshaped([count, c.horizon, c.outputsPerStep])
        }
        return outputs(result.output)
    }

    /// The training loss of a batch: pinball over the quantiles, or the likelihood.
    func loss(_ batch: ForecastBatch) throws -> Variable {
        let raw = try rawOutputs(batch)
        guard let distribution = configuration.head.distribution else {
            return try pinballLoss(raw, batch.targets, levels: configuration.quantileLevels, mask: batch.mask)
        }
        let perWindow = batch.targets.shape[1]
        let scales = distribution == .negativeBinomial
            ? Tensor(shape: batch.targets.shape, scalars: batch.scales.flatMap { Array(repeating: Float($0), count: perWindow) }) : nil
        return try distribution.negativeLogLikelihood(raw, batch.targets, scales: scales, mask: batch.mask)
    }
}
