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
            while deltas.end < total && (deltas.end + halfWidth < total || final) {
                deltas.append(delta(of: logMels, at: deltas.end, last: total - 1))
            }
        }
        let ready = order == 0 ? total : deltas.end
        while emitted < ready {
            if order == 2 && !(emitted + halfWidth < deltas.end || (final && deltas.end == total)) { break }
            output += logMels.row(emitted)
            if order >= 1 { output += deltas.row(emitted) }
            if order == 2 { output += delta(of: deltas, at: emitted, last: deltas.end - 1) }
            emitted += 1
        }
        // Later rows read log-mels from the next row out (or the next delta's window) and
        // deltas from n rows back.
        logMels.drop(before: order == 0 ? emitted : min(emitted, deltas.end - halfWidth))
        deltas.drop(before: emitted - halfWidth)
    }

    /// The regression over rows t-n...t+n of `rows`, indices clamped to 0...last.
    private func delta(of rows: RowBuffer, at t: Int, last: Int) -> [Float] {
        var result = [Float](repeating: 0, count: melBins)
        for k in -halfWidth...halfWidth where k != 0 {
            let row = rows.row(min(max(t + k, 0), last))
            let weight = Float(k)
            for bin in 0..<melBins { result[bin] += weight * row[row.startIndex + bin] }
        }
        for bin in 0..<melBins { result[bin] /= denominator }
        return result
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

    func row(_ index: Int) -> ArraySlice<Float> {
        let start = (index - first) * width
        return values[start..<start + width]
    }

    mutating func append<Rows: Collection<Float>>(_ rows: Rows) { values += rows }

    /// Forgets the rows numbered below `index`.
    mutating func drop(before index: Int) {
        let dropped = min(max(0, index - first), end - first)
        if dropped == 0 { return }
        values.removeFirst(dropped * width)
        first += dropped
    }
}
