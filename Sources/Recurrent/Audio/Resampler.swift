import Foundation

/// Band-limited resampling between two integer rates, as torchaudio.functional.resample computes
/// it with its defaults (`sinc_interp_hann`, `lowpass_filter_width` 6, `rolloff` 0.99).
///
/// With the rates divided by their greatest common divisor, every `step` input samples give
/// `phases` output samples, and output j * phases + p is the dot product of one fixed filter
/// (phase p) with the inputs from j * step - width on: a polyphase filter bank, which runs as
/// one matrix product of the overlapping input windows (rows `step` samples apart, read in
/// place) with the [phases, taps] filter table. Each filter is a Hann-windowed sinc cut at
/// `rolloff` times the lower Nyquist frequency, so going down removes what would alias.
///
/// The taps are computed in float32 as torchaudio computes them for a float32 waveform, so the
/// outputs agree with torchaudio's to float rounding.
public struct Resampler: Sendable {
    public let sourceRate: Int
    public let targetRate: Int
    /// Zero crossings of the sinc on each side of a filter's centre.
    public static let lowpassFilterWidth = 6
    /// The cut-off as a fraction of the lower of the two Nyquist frequencies.
    public static let rolloff = 0.99
    /// Tables past this many floats (rates whose ratio reduces to large numbers, 44100 -> 44099)
    /// are not built; their taps are computed per output sample instead.
    static let largestTable = 1 << 20

    /// Input samples per `phases` output samples (the source rate over the gcd).
    let step: Int
    /// Output samples per `step` input samples (the target rate over the gcd).
    let phases: Int
    /// Input samples on each side of a window beyond its `step` samples.
    let width: Int
    /// Filter length: 2 width + step.
    let taps: Int
    let baseFrequency: Double
    /// [phases, taps], row p the filter of phase p; nil past `largestTable`.
    let table: [Float]?

    public init(from sourceRate: Int, to targetRate: Int) throws {
        guard sourceRate > 0, targetRate > 0 else {
            throw RecurrentError.invalidArgument("resampling needs positive rates, got \(sourceRate) Hz to \(targetRate) Hz")
        }
        self.sourceRate = sourceRate
        self.targetRate = targetRate
        let divisor = Self.greatestCommonDivisor(sourceRate, targetRate)
        step = sourceRate / divisor
        phases = targetRate / divisor
        baseFrequency = Double(min(step, phases)) * Self.rolloff
        width = Int((Double(Self.lowpassFilterWidth) * Double(step) / baseFrequency).rounded(.up))
        taps = 2 * width + step
        if phases <= Self.largestTable / taps {
            var table = [Float](repeating: 0, count: phases * taps)
            for phase in 0..<phases {
                for k in 0..<taps { table[phase * taps + k] = Self.tap(phase: phase, offset: k - width, step, phases, baseFrequency) }
            }
            self.table = table
        } else {
            table = nil
        }
    }

    /// Samples out for `inputCount` samples in: ceil(inputCount * target / source).
    public func outputCount(inputCount: Int) -> Int {
        let (product, overflow) = inputCount.multipliedReportingOverflow(by: phases)
        if overflow { return Int((Double(inputCount) * Double(phases) / Double(step)).rounded(.up)) }
        return (product + step - 1) / step
    }

    /// The samples at the target rate.
    public func resample(_ samples: [Float]) -> [Float] {
        if sourceRate == targetRate { return samples }
        let count = outputCount(inputCount: samples.count)
        if count == 0 { return [] }
        if let table { return resampleByTable(samples, table: table, count: count) }
        return resampleDirectly(samples, count: count)
    }

    /// The filter tap of `phase` for input offset `offset` (input j * step + offset for output
    /// j * phases + phase), step by step as torchaudio's `_get_sinc_resample_kernel` computes it
    /// for a float32 waveform: in float32. Its rounding of t (up to 1e-5 at 44.1 kHz) moves the
    /// taps by about 1e-6, far below 16-bit audio's own step (3e-5), and following it keeps the
    /// outputs within float rounding of torchaudio's.
    static func tap(phase: Int, offset: Int, _ step: Int, _ phases: Int, _ baseFrequency: Double) -> Float {
        let filterWidth = Float(lowpassFilterWidth), pi = Float(Double.pi)
        var t = Float(-phase) / Float(phases) + Float(offset) / Float(step)
        t *= Float(baseFrequency)
        t = min(max(t, -filterWidth), filterWidth)
        let cosine = cos(t * pi / filterWidth / 2)
        let window = cosine * cosine
        t *= pi
        let sinc = t == 0 ? 1 : sin(t) / t
        return sinc * (window * Float(baseFrequency / Double(step)))
    }

    /// Rows j of the product: the window of `taps` inputs from j * step - width (zeros outside
    /// the signal), times the table's filters: output j * phases + p in row j, column p.
    private func resampleByTable(_ samples: [Float], table: [Float], count: Int) -> [Float] {
        let rows = (count + phases - 1) / phases
        // Zeros before (width) and after the signal, as far as the last row reads.
        var padded = [Float](repeating: 0, count: (rows - 1) * step + taps)
        let copied = min(samples.count, padded.count - width)
        padded.replaceSubrange(width..<width + copied, with: samples[0..<copied])
        var output = [Float](repeating: 0, count: rows * phases)
        // Blocks of rows keep every size in the kernel's 32-bit range.
        let rowsPerBlock = max(1, (1 << 24) / max(phases, step))
        padded.withUnsafeBufferPointer { input in
            table.withUnsafeBufferPointer { filters in
                output.withUnsafeMutableBufferPointer { out in
                    for first in stride(from: 0, to: rows, by: rowsPerBlock) {
                        Kernels.gemm(transB: true, m: min(rowsPerBlock, rows - first), n: phases, k: taps,
                                     input.baseAddress! + first * step, lda: step, filters.baseAddress!, ldb: taps,
                                     out.baseAddress! + first * phases, ldc: phases)
                    }
                }
            }
        }
        output.removeLast(output.count - count)
        return output
    }

    /// Each output's nonzero taps computed on the spot: for rate pairs whose table is too large.
    func resampleDirectly(_ samples: [Float], count: Int) -> [Float] {
        // A tap is nonzero only while |t| < lowpassFilterWidth, i.e. |offset - phase*step/phases|
        // < lowpassFilterWidth * step / baseFrequency <= width.
        var output = [Float](repeating: 0, count: count)
        for index in 0..<count {
            let (row, phase) = index.quotientAndRemainder(dividingBy: phases)
            let start = row * step
            let centre = Double(phase) * Double(step) / Double(phases)
            let lowest = max(-start, Int((centre - Double(width)).rounded(.down)))
            let highest = min(samples.count - 1 - start, Int((centre + Double(width)).rounded(.up)))
            if lowest > highest { continue }
            var sum: Float = 0
            for offset in lowest...highest {
                sum += samples[start + offset] * Self.tap(phase: phase, offset: offset, step, phases, baseFrequency)
            }
            output[index] = sum
        }
        return output
    }

    static func greatestCommonDivisor(_ a: Int, _ b: Int) -> Int {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }
}
