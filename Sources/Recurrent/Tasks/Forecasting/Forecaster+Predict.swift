import Foundation

extension Forecaster {
    /// The next `steps` values of the target after the end of `data`. A direct model reaches past
    /// its horizon by feeding its forecasts back when it has no covariates (their future is
    /// unknown); a recursive model forecasts every feature and always can.
    public func forecast(after data: TimeSeriesData, steps: Int) throws -> [Double] {
        guard data.names == configuration.features else {
            throw RecurrentError.invalidArgument("\(data.source): the model reads the columns \(configuration.features), not \(data.names)")
        }
        return try forecastWindows(data, windowEnds: [data.count], steps: steps)[0]
    }

    /// The next `steps` values after `series`, for a model trained on one series.
    public func forecast(after series: [Double], steps: Int) throws -> [Double] {
        let name = configuration.features.first ?? "value"
        return try forecast(after: try TimeSeriesData(values: series, name: name), steps: steps)
    }

    /// Forecasts from the windows that end just before each of `windowEnds` (series indices),
    /// in the data's units: [window][step].
    func forecastWindows(_ data: TimeSeriesData, windowEnds: [Int], steps: Int) throws -> [[Double]] {
        let c = configuration, window = self.window, features = configuration.features.count
        guard steps > 0 else { throw RecurrentError.invalidArgument("the number of steps to forecast must be positive, got \(steps)") }
        guard data.featureCount == features else {
            throw RecurrentError.invalidArgument("\(data.source): the model reads \(features) columns, the data hold \(data.featureCount)")
        }
        guard let shortest = windowEnds.min(), shortest >= window, (windowEnds.max() ?? 0) <= data.count else {
            throw RecurrentError.invalidFile(path: data.source, reason:
                "column \"\(data.names[0])\": forecasting needs at least \(window) rows (the model's window), got \(data.count)")
        }
        if c.strategy == .direct, features > 1, steps > c.horizon {
            throw RecurrentError.invalidArgument(
                "this direct model with covariates forecasts at most \(c.horizon) steps (its horizon); asked for \(steps)")
        }
        // [N][W * F] scaled, slid forward as forecasts come in.
        var windows: [[Float]] = windowEnds.map { end in
            (end - window..<end).flatMap { t in (0..<features).map { Float(scaler.transform(data.columns[$0][t], feature: $0)) } }
        }
        var forecasts = [[Double]](repeating: [], count: windowEnds.count)
        while forecasts[0].count < steps {
            let levels = Tensor(shape: [windows.count, window, features], scalars: windows.flatMap { $0 })
            let input = c.relativeInputs ? Self.relativeToLastStep(levels) : levels
            let output = GradientMode.withoutRecording { model.layer(Variable(input)) }.value
            let perWindow = output.shape[1], stepsOut = perWindow / outputsPerStep
            for n in windows.indices {
                let start = windows[n]
                for s in 0..<stepsOut {
                    // One step: the target alone (direct) or every feature (recursive); covariates
                    // of a direct model's later steps are never read.
                    var next = Array(start.suffix(features))
                    for k in 0..<outputsPerStep {
                        let j = s * outputsPerStep + k
                        let value = output.scalars[n * perWindow + j] * Float(c.outputScales.isEmpty ? 1 : c.outputScales[j % c.outputScales.count])
                            * Float(c.networkWeight ?? 1)
                        next[k] = c.referenceTerms(step: s).reduce(value) { $0 + $1.weight * start[$1.position * features + k] }
                    }
                    forecasts[n].append(scaler.inverse(Double(next[0]), feature: 0))
                    windows[n] = Array(windows[n].dropFirst(features)) + next
                }
            }
        }
        return forecasts.map { Array($0.prefix(steps)) }
    }
}
