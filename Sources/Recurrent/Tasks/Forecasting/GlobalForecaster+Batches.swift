import Foundation

/// A forecast origin in one series: the model reads the values before `origin` and forecasts
/// from there; its targets are the values at `origin..<end` (fewer than the horizon near a
/// series' end: the missing ones are masked).
struct ForecastWindow: Sendable {
    var series: Int
    var origin: Int
    var end: Int
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
    }
}

/// One mini-batch. B windows, T steps read, S targets each (the horizon, or for a recursive
/// model every step read).
struct ForecastBatch {
    /// [B, T, stepInputs], zero past each window's length.
    var input: Tensor
    var lengths: [Int]
    /// [B, horizon * futureInputs] or nil.
    var future: Tensor?
    /// [B, S] in window units relative to the reference (counts for the negative binomial), and
    /// the mask of the targets that exist.
    var targets: Tensor
    var mask: Tensor
    /// [B] each window's level.
    var scales: [Double]
    /// [B][horizon] the reference forecast in data units (direct models).
    var references: [[Double]]
}

extension GlobalForecaster {
    /// The inputs of one step of `series` at row `t` (its ordinal may lie past the data): the
    /// value in window units (0 when unknown), calendar, covariates, log-scale.
    func stepInputs(_ series: PanelSeries, row t: Int, valueRow: Int?, scale: Double, logScale: Double, into row: inout [Float]) {
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
                let scaling = c.covariateScaling[c.knownCovariates.count + p]
                row.append(Float((series.pastCovariates[p][min(t, series.count - 1)] - scaling[0]) / scaling[1]))
            }
        }
        row.append(Float(logScale))
    }

    /// The ordinal of row `t`, continuing the series' steps past its last row.
    func ordinal(_ series: PanelSeries, _ t: Int) -> Double {
        if t < series.ordinals.count { return series.ordinals[t] }
        let last = series.ordinals.count - 1
        return series.ordinals[last] + Double(t - last) * (configuration.calendar?.step ?? 1)
    }

    /// The reference forecast of step `k` (from 0) after `origin`, reading `context` values.
    func reference(_ values: [Double], origin: Int, context: Int, step k: Int) -> Double {
        let season = configuration.season
        if configuration.resolvedReference == .seasonalNaive, season > 1, context >= season {
            return values[origin - season + k % season]
        }
        return configuration.resolvedReference == .none ? 0 : values[origin - 1]
    }

    func batch(_ windows: [ForecastWindow], panel: SeriesPanel) -> ForecastBatch {
        let c = configuration, window = c.resolvedWindow, horizon = c.horizon, features = c.stepInputs
        let direct = c.strategy == .direct, counts = c.head == .negativeBinomial
        let steps = direct ? window : window + horizon - 1, targetsPerWindow = direct ? horizon : steps
        var input = [Float](repeating: 0, count: windows.count * steps * features)
        var future = [Float](repeating: 0, count: windows.count * horizon * c.futureInputs)
        var targets = [Float](repeating: 0, count: windows.count * targetsPerWindow), mask = targets
        var lengths: [Int] = [], scales: [Double] = [], references: [[Double]] = []
        var row: [Float] = []
        for (b, w) in windows.enumerated() {
            let series = panel.series[w.series], values = series.values
            let context = min(window, w.origin), start = w.origin - context
            let scale = Self.level(values[start..<w.origin])
            let logScale = (log1p(scale) - c.scaleScaling[0]) / c.scaleScaling[1]
            scales.append(scale)
            if direct {
                for j in 0..<context {
                    stepInputs(series, row: start + j, valueRow: start + j, scale: scale, logScale: logScale, into: &row)
                    input.replaceSubrange(((b * steps + j) * features)..<((b * steps + j + 1) * features), with: row)
                }
                lengths.append(context)
                for k in 0..<horizon where c.futureInputs > 0 {
                    stepInputs(series, row: w.origin + k, valueRow: nil, scale: scale, logScale: logScale, into: &row)
                    // The future inputs are the calendar and the known covariates: row[1...].
                    let offset = (b * horizon + k) * c.futureInputs
                    for f in 0..<c.futureInputs { future[offset + f] = row[1 + f] }
                }
                let reference = (0..<horizon).map { self.reference(values, origin: w.origin, context: context, step: $0) }
                references.append(reference)
                for k in 0..<(w.end - w.origin) {
                    targets[b * horizon + k] = Float(counts ? values[w.origin + k] : (values[w.origin + k] - reference[k]) / scale)
                    mask[b * horizon + k] = 1
                }
            } else {
                // Step j reads the value at start + j with the calendar of the step it forecasts.
                let length = w.end - start - 1
                for j in 0..<length {
                    stepInputs(series, row: start + j + 1, valueRow: start + j, scale: scale, logScale: logScale, into: &row)
                    input.replaceSubrange(((b * steps + j) * features)..<((b * steps + j + 1) * features), with: row)
                    // Reading a context to forecast from, the last step has no target.
                    guard start + j + 1 < values.count else { continue }
                    let next = values[start + j + 1]
                    targets[b * steps + j] = Float(counts ? next : (next - values[start + j]) / scale)
                    mask[b * steps + j] = 1
                }
                lengths.append(length)
                references.append([])
            }
        }
        return ForecastBatch(input: Tensor(shape: [windows.count, steps, features], scalars: input), lengths: lengths,
                             future: c.futureInputs > 0 ? Tensor(shape: [windows.count, horizon * c.futureInputs], scalars: future) : nil,
                             targets: Tensor(shape: [windows.count, targetsPerWindow], scalars: targets),
                             mask: Tensor(shape: [windows.count, targetsPerWindow], scalars: mask), scales: scales, references: references)
    }

    /// Raw outputs of a batch: direct [B, horizon, outputs]; recursive [B, T, outputs].
    func rawOutputs(_ batch: ForecastBatch) throws -> Variable {
        let c = configuration, count = batch.lengths.count
        let result = try encoder.run(Variable(batch.input), lengths: batch.lengths)
        if c.strategy == .direct {
            var encoding = encoder.lastState(result.state)
            if let future = batch.future { encoding = Variable.concatenateLastAxis([encoding, Variable(future)]) }
            return outputs(encoding).reshaped([count, c.horizon, c.outputsPerStep])
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
