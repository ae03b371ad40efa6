import Foundation

/// The standard Theta method (Assimakopoulos and Nikolopoulos 2000, the M3 competition's best),
/// in the form of Hyndman and Billah (2003): simple exponential smoothing with a drift of half
/// the series' linear trend, on the series deseasonalized by classical multiplicative
/// decomposition when its autocorrelation at the season passes the 90% test. A global model can
/// forecast its changes from this reference (`ForecastReference.theta`).
enum ThetaMethod {
    /// The next `horizon` values after `values`.
    static func forecast(_ values: ArraySlice<Double>, horizon: Int, season: Int) -> [Double] {
        let y = Array(values), n = y.count
        guard let last = y.last else { return Array(repeating: 0, count: horizon) }
        guard n >= 3 else { return Array(repeating: last, count: horizon) }
        let indices = seasonalIndices(y, season: season)
        let x = indices.map { index in y.indices.map { y[$0] / index[$0 % season] } } ?? y
        let alpha = smoothingParameter(x)
        var level = x[0]
        for value in x.dropFirst() { level += alpha * (value - level) }
        let drift = slope(x) / 2, memory = (1 - pow(1 - alpha, Double(n))) / alpha
        return (0..<horizon).map { k in
            let deseasonalized = level + drift * (Double(k) + memory)
            return indices.map { deseasonalized * $0[(n + k) % season] } ?? deseasonalized
        }
    }

    /// Multiplicative seasonal indices by position modulo `season` (mean 1), or nil when the
    /// season is 1, the series is shorter than three seasons or not positive, or the
    /// autocorrelation at the season is within the 90% band of a white noise's.
    static func seasonalIndices(_ y: [Double], season: Int) -> [Double]? {
        let n = y.count
        guard season > 1, n >= 3 * season, y.allSatisfy({ $0 > 0 }) else { return nil }
        let mean = y.reduce(0, +) / Double(n)
        let variance = y.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        guard variance > 0 else { return nil }
        let r = (1...season).map { lag in (lag..<n).reduce(0) { $0 + (y[$1] - mean) * (y[$1 - lag] - mean) } / variance }
        let limit = 1.645 * ((1 + 2 * r.dropLast().reduce(0) { $0 + $1 * $1 }) / Double(n)).squareRoot()
        guard abs(r[season - 1]) > limit else { return nil }
        // Centered moving average of order `season` (2 x season for an even season).
        let half = season / 2
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
            sums[t % season] += y[t] / average
            counts[t % season] += 1
        }
        let raw = zip(sums, counts).map { $1 > 0 ? $0 / $1 : 1 }
        let norm = raw.reduce(0, +) / Double(season)
        return raw.map { $0 / norm }
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
