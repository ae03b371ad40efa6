/// Turns log-mel rows, arriving in order, into feature rows [log-mels | deltas | delta-deltas],
/// each as soon as it is determined. `Filterbank.features` gives it every row at once;
/// `StreamingFilterbank` a few at a time. Either way each value comes from the same inputs by
/// the same arithmetic, so the rows are the same bits.
///
/// Deltas as torchaudio.functional.compute_deltas (mode "replicate"): with n = (window - 1) / 2,
/// d_t = sum_{k=-n..n} k c_{t+k} / (n (n+1) (2n+1) / 3), frames before the first and after the
/// last taken as the first and the last. So d_t is known once c_{t+n} is (or the clip ended),
/// and the delta-delta at t once d_{t+n} is: 2n frames of look-ahead.
struct FeatureAssembler: Sendable {
    let melBins: Int
    let order: Int
    /// n: frames on each side in the regression.
    let halfWidth: Int
    let denominator: Float
    /// The log-mels still needed, and the deltas.
    private var logMels: RowBuffer
    private var deltas: RowBuffer
    /// Rows handed out so far.
    private(set) var emitted = 0

    init(_ options: FilterbankOptions) {
        melBins = options.melBins
        order = options.deltaOrder
        halfWidth = (options.deltaWindow - 1) / 2
        denominator = Float(Double(halfWidth * (halfWidth + 1) * (2 * halfWidth + 1)) / 3)
        logMels = RowBuffer(width: melBins)
        deltas = RowBuffer(width: melBins)
    }

    /// Takes the next log-mel rows ([rows, M], row-major) and appends to `output` every feature
    /// row that is now determined; with `final`, the clip has ended and every row is.
    mutating func append(_ newLogMels: [Float], final: Bool, to output: inout [Float]) {
        logMels.append(newLogMels)
        let total = logMels.end
        if order >= 1 {
            deltas.reserve(rows: total - deltas.first)
            while deltas.end < total && (deltas.end + halfWidth < total || final) {
                let t = deltas.end, (halfWidth, denominator, logMels) = (halfWidth, denominator, logMels)
                deltas.appendRow { row in
                    Self.regression(over: logMels, at: t, last: total - 1, halfWidth: halfWidth, denominator: denominator, into: row)
                }
            }
        }
        let ready = order == 0 ? total : deltas.end
        while emitted < ready {
            if order == 2 && !(emitted + halfWidth < deltas.end || (final && deltas.end == total)) { break }
            logMels.appendRow(emitted, to: &output)
            if order >= 1 { deltas.appendRow(emitted, to: &output) }
            if order == 2 {
                let start = output.count, t = emitted, last = deltas.end - 1
                output.append(contentsOf: repeatElement(0, count: melBins))
                output.withUnsafeMutableBufferPointer {
                    Self.regression(over: deltas, at: t, last: last, halfWidth: halfWidth, denominator: denominator, into: $0.baseAddress! + start)
                }
            }
            emitted += 1
        }
        // Later rows read log-mels from the next row out (or the next delta's window) and
        // deltas from n rows back.
        logMels.drop(before: order == 0 ? emitted : min(emitted, deltas.end - halfWidth))
        deltas.drop(before: emitted - halfWidth)
    }

    /// The regression over rows t-n...t+n of `rows`, indices clamped to 0...last, into `result`
    /// [M]: sum_k k c_{t+k} in the order of k, then divided, as compute_deltas' convolution.
    private static func regression(over rows: RowBuffer, at t: Int, last: Int, halfWidth: Int, denominator: Float,
                                   into result: UnsafeMutablePointer<Float>) {
        let melBins = rows.width
        result.initialize(repeating: 0, count: melBins)
        rows.withRows { row in
            for k in -halfWidth...halfWidth where k != 0 {
                let values = row(min(max(t + k, 0), last))
                let weight = Float(k)
                for bin in 0..<melBins { result[bin] += weight * values[bin] }
            }
        }
        for bin in 0..<melBins { result[bin] /= denominator }
    }
}

/// Consecutive rows of a fixed width, numbered from 0 since the stream began, of which the
/// last few are kept.
struct RowBuffer: Sendable {
    let width: Int
    private var values: [Float] = []
    /// The number of the first row kept.
    private(set) var first = 0

    init(width: Int) { self.width = width }

    /// One past the number of the last row.
    var end: Int { first + (width == 0 ? 0 : values.count / width) }

    /// Calls `body` with a function giving the start of each row kept.
    func withRows<Result>(_ body: ((Int) -> UnsafePointer<Float>) -> Result) -> Result {
        values.withUnsafeBufferPointer { values in
            let base = values.baseAddress!, first = first, width = width
            return body { index in base + (index - first) * width }
        }
    }

    /// Appends row `index` to `output`.
    func appendRow(_ index: Int, to output: inout [Float]) {
        let start = (index - first) * width
        output.append(contentsOf: values[start..<start + width])
    }

    mutating func append<Rows: Collection<Float>>(_ rows: Rows) { values += rows }

    mutating func reserve(rows: Int) { values.reserveCapacity(rows * width) }

    /// Appends a row that `fill` writes.
    mutating func appendRow(_ fill: (UnsafeMutablePointer<Float>) -> Void) {
        let start = values.count
        values.append(contentsOf: repeatElement(0, count: width))
        values.withUnsafeMutableBufferPointer { fill($0.baseAddress! + start) }
    }

    /// Forgets the rows numbered below `index`.
    mutating func drop(before index: Int) {
        let dropped = min(max(0, index - first), end - first)
        if dropped == 0 { return }
        values.removeFirst(dropped * width)
        first += dropped
    }
}
