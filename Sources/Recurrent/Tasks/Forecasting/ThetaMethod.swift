import Foundation

/// The standard Theta method (Assimakopoulos and Nikolopoulos 2000, the M3 competition's best),
/// in the form of Hyndman and Billah (2003): simple exponential smoothing with a drift of half
/// the series' linear trend, on the series deseasonalized by classical decomposition when its
/// autocorrelation at the season passes the 90% test: multiplicative, or, as statsforecast does,
/// additive for a series that is not all positive or whose multiplicative indices fall below 0.01.
/// A global model can forecast its changes from this reference (`ForecastReference.theta`).
enum ThetaMethod {
    /// A season taken out of a series: divided out (multiplicative) or subtracted (additive), by
    /// position modulo its length.
    struct Season {
        var components: [Double]
        var multiplicative: Bool

        func removed(_ value: Double, at t: Int) -> Double {
            let c = components[t % components.count]
            return multiplicative ? value / c : value - c
        }

        func restored(_ value: Double, at t: Int) -> Double {
            let c = components[t % components.count]
            return multiplicative ? value * c : value + c
        }
    }

    /// The next `horizon` values after `values`. `additiveSeasons` false smooths a series that
    /// has no multiplicative season as it is, season and all, and forecasts no season for it
    /// (how model files written before additive seasons forecast).
    static func forecast(_ values: ArraySlice<Double>, horizon: Int, season: Int, additiveSeasons: Bool = true) -> [Double] {
        let y = Array(values), n = y.count
        guard let last = y.last else { return Array(repeating: 0, count: horizon) }
        guard n >= 3 else { return Array(repeating: last, count: horizon) }
        let found = Self.season(y, season: season, additiveSeasons: additiveSeasons)
        let x = found.map { s in y.indices.map { s.removed(y[$0], at: $0) } } ?? y
        let alpha = smoothingParameter(x)
        var level = x[0]
        for value in x.dropFirst() { level += alpha * (value - level) }
        let drift = slope(x) / 2, memory = (1 - pow(1 - alpha, Double(n))) / alpha
        return (0..<horizon).map { k in
            let deseasonalized = level + drift * (Double(k) + memory)
            return found.map { $0.restored(deseasonalized, at: n + k) } ?? deseasonalized
        }
    }

    /// The season to take out of `y`, or nil when the season is 1, the series is shorter than
    /// three seasons or constant, or its autocorrelation at the season is within the 90% band of
    /// a white noise's. Multiplicative (indices of mean 1) for a positive series whose indices
    /// are all at least 0.01; additive (components of mean 0) otherwise. `additiveSeasons` false
    /// (the rule of model files written before): multiplicative for any positive series, nil for
    /// the others.
    static func season(_ y: [Double], season: Int, additiveSeasons: Bool = true) -> Season? {
        guard isSeasonal(y, season: season) else { return nil }
        if y.allSatisfy({ $0 > 0 }) {
            let indices = classicalComponents(y, season: season, multiplicative: true)
            if !additiveSeasons || indices.allSatisfy({ $0 >= 0.01 }) { return Season(components: indices, multiplicative: true) }
        }
        guard additiveSeasons else { return nil }
        return Season(components: classicalComponents(y, season: season, multiplicative: false), multiplicative: false)
    }

    /// The 90% test of the autocorrelation at the season (Assimakopoulos and Nikolopoulos), on a
    /// series of at least three seasons that is not constant.
    static func isSeasonal(_ y: [Double], season: Int) -> Bool {
        let n = y.count
        guard season > 1, n >= 3 * season else { return false }
        // A constant series has every autocorrelation 0: below any limit.
        let r = ForecastBaselines.autocorrelations(y, lags: 1...season)
        let limit = 1.645 * ((1 + 2 * r.dropLast().reduce(0) { $0 + $1 * $1 }) / Double(n)).squareRoot()
        return abs(r[season - 1]) > limit
    }

    /// Classical decomposition's seasonal components: the mean by position of each value over
    /// (multiplicative) or minus (additive) its centered moving average of order `season` (2 x
    /// season for an even season), normalized to mean 1 or 0.
    static func classicalComponents(_ y: [Double], season: Int, multiplicative: Bool) -> [Double] {
        let n = y.count, half = season / 2
        var sums = [Double](repeating: 0, count: season), counts = [Double](repeating: 0, count: season)
        for t in half..<(n - half) {
            var average: Double
            if season % 2 == 0 {
                average = (y[t - half] + y[t + half]) / 2
                for j in (t - half + 1)..<(t + half) { average += y[j] }
            } else {
                average = y[(t - half)...(t + half)].reduce(0, +)
            }
            average /= Double(season)
            sums[t % season] += multiplicative ? y[t] / average : y[t] - average
            counts[t % season] += 1
        }
        let neutral = multiplicative ? 1.0 : 0.0
        let raw = zip(sums, counts).map { $1 > 0 ? $0 / $1 : neutral }
        let mean = raw.reduce(0, +) / Double(season)
        return raw.map { multiplicative ? $0 / mean : $0 - mean }
    }

    /// The smoothing parameter in [0.05, 0.99] with the least squared one-step error
    /// (golden-section search; the error is smooth and nearly always unimodal in alpha).
    static func smoothingParameter(_ x: [Double]) -> Double {
        func error(_ alpha: Double) -> Double {
            var level = x[0], total = 0.0
            for value in x.dropFirst() {
                let e = value - level
                total += e * e
                level += alpha * e
            }
            return total
        }
        var (a, b) = (0.05, 0.99)
        let ratio = (5.0.squareRoot() - 1) / 2
        var c = b - ratio * (b - a), d = a + ratio * (b - a)
        var (fc, fd) = (error(c), error(d))
        for _ in 0..<30 {
            if fc < fd { b = d; d = c; fd = fc; c = b - ratio * (b - a); fc = error(c) } else { a = c; c = d; fc = fd; d = a + ratio * (b - a); fd = error(d) }
        }
        return (a + b) / 2
    }

    /// The least-squares slope of `x` against 0, 1, 2, ...
    static func slope(_ x: [Double]) -> Double {
        let n = Double(x.count), meanT = (n - 1) / 2, meanX = x.reduce(0, +) / n
        var numerator = 0.0, denominator = 0.0
        for (t, value) in x.enumerated() {
            numerator += (Double(t) - meanT) * (value - meanX)
            denominator += (Double(t) - meanT) * (Double(t) - meanT)
        }
        return denominator > 0 ? numerator / denominator : 0
    }
}
