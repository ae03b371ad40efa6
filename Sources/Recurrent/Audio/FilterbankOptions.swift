/// What `Filterbank` computes: Kaldi's log-mel filterbank (`compute-fbank-feats`), as
/// torchaudio.compliance.kaldi.fbank defines it, with optional deltas as
/// torchaudio.functional.compute_deltas computes them. Defaults: 25 ms windows every 10 ms, a
/// Hann window, 40 bins from 20 Hz to Nyquist, pre-emphasis 0.97, each frame's mean removed,
/// the FFT size rounded up to a power of two; no dither (features are a function of the audio).
public struct FilterbankOptions: Codable, Sendable, Equatable {
    /// Windows applied to each frame, as torchaudio's `window_type` names them.
    public enum Window: String, Codable, Sendable, CaseIterable {
        /// 0.5 - 0.5 cos(2 pi n / (N - 1)) (torchaudio's "hanning", symmetric).
        case hann
        /// Kaldi's default: the Hann window to the power 0.85.
        case povey
        /// 0.54 - 0.46 cos(2 pi n / (N - 1)).
        case hamming
        case rectangular
    }

    /// The rate the features are computed at (the caller resamples its audio to it).
    public var sampleRate: Int
    public var melBins: Int = 40
    public var frameLengthMs: Double = 25
    public var frameShiftMs: Double = 10
    /// 0: log-mels only; 1: and their deltas; 2: and the deltas' deltas. Each row is
    /// [log-mels | deltas | delta-deltas], melBins * (1 + deltaOrder) values.
    public var deltaOrder: Int = 0
    /// Frames in the deltas' regression (torchaudio's `win_length`, odd): 5 spans t-2...t+2.
    public var deltaWindow: Int = 5
    /// The lowest mel filter's left edge, Hz.
    public var lowFrequency: Double = 20
    /// The highest mel filter's right edge, Hz; 0 or less means Nyquist plus this, as in Kaldi.
    public var highFrequency: Double = 0
    public var window: Window = .hann
    /// x[n] - preemphasis * x[n-1] within each frame (the first sample uses itself); 0 turns it off.
    public var preemphasis: Double = 0.97
    /// Subtract each frame's mean before pre-emphasis.
    public var removeDCOffset: Bool = true
    /// Zero-pad each frame to the next power of two for the Fourier transform (finer bins).
    public var roundToPowerOfTwo: Bool = true

    public init(sampleRate: Int) {
        self.sampleRate = sampleRate
    }

    /// Values per row: melBins * (1 + deltaOrder).
    public var featureCount: Int { melBins * (1 + deltaOrder) }

    /// Samples per window, truncated as Kaldi does (200 at 8 kHz and 25 ms).
    public var frameLength: Int { Self.samples(sampleRate, frameLengthMs) }

    /// Samples between the starts of consecutive windows (80 at 8 kHz and 10 ms).
    public var frameShift: Int { Self.samples(sampleRate, frameShiftMs) }

    /// The Fourier transform's length: the window, zero-padded to a power of two if asked.
    public var fftLength: Int {
        guard roundToPowerOfTwo, frameLength > 1 else { return frameLength }
        return 1 << (Int.bitWidth - (frameLength - 1).leadingZeroBitCount)
    }

    /// The high edge in Hz with Kaldi's rule for values <= 0 applied.
    public var resolvedHighFrequency: Double {
        highFrequency <= 0 ? Double(sampleRate) / 2 + highFrequency : highFrequency
    }

    /// Throws `RecurrentError.invalidArgument` naming the first option out of range.
    public func validate() throws {
        func fail(_ message: String) -> RecurrentError { .invalidArgument("filterbank options: \(message)") }
        guard (1...1_000_000).contains(sampleRate) else { throw fail("sampleRate \(sampleRate) Hz is not in 1...1000000") }
        guard (1...1024).contains(melBins) else { throw fail("melBins \(melBins) is not in 1...1024") }
        guard frameLengthMs.isFinite, frameShiftMs.isFinite, frameLengthMs > 0, frameShiftMs > 0 else {
            throw fail("frame length \(frameLengthMs) ms and shift \(frameShiftMs) ms must be positive")
        }
        guard (2...65536).contains(frameLength) else {
            throw fail("a \(frameLengthMs) ms frame is \(frameLength) samples at \(sampleRate) Hz; it must be 2...65536")
        }
        guard frameShift >= 1, frameShift <= frameLength * 1000 else {
            throw fail("a \(frameShiftMs) ms shift is \(frameShift) samples at \(sampleRate) Hz; it must be 1...1000 frame lengths")
        }
        guard fftLength % 2 == 0 else {
            throw fail("the Fourier transform needs an even length; the \(frameLength)-sample frame is odd (set roundToPowerOfTwo)")
        }
        guard (0...2).contains(deltaOrder) else { throw fail("deltaOrder \(deltaOrder) is not 0, 1 or 2") }
        guard deltaWindow >= 3, deltaWindow <= 99, deltaWindow % 2 == 1 else {
            throw fail("deltaWindow \(deltaWindow) must be odd, 3...99")
        }
        let nyquist = Double(sampleRate) / 2, high = resolvedHighFrequency
        guard lowFrequency >= 0, lowFrequency < nyquist, high > 0, high <= nyquist, lowFrequency < high else {
            throw fail("mel filters from \(lowFrequency) Hz to \(high) Hz do not fit 0...\(nyquist) Hz (the Nyquist frequency)")
        }
        guard preemphasis >= 0, preemphasis <= 1 else { throw fail("preemphasis \(preemphasis) is not in 0...1") }
    }

    static func samples(_ rate: Int, _ milliseconds: Double) -> Int {
        let count = Double(rate) * milliseconds * 0.001
        return count.isFinite && count >= 0 && count < 1e15 ? Int(count) : 0
    }

    // Decoding takes the defaults for options a file leaves out, so saved options stay readable
    // when options are added.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(sampleRate: try container.decode(Int.self, forKey: .sampleRate))
        func read<Value: Decodable>(_ key: CodingKeys, into value: inout Value) throws {
            if let decoded = try container.decodeIfPresent(Value.self, forKey: key) { value = decoded }
        }
        try read(.melBins, into: &melBins)
        try read(.frameLengthMs, into: &frameLengthMs)
        try read(.frameShiftMs, into: &frameShiftMs)
        try read(.deltaOrder, into: &deltaOrder)
        try read(.deltaWindow, into: &deltaWindow)
        try read(.lowFrequency, into: &lowFrequency)
        try read(.highFrequency, into: &highFrequency)
        try read(.window, into: &window)
        try read(.preemphasis, into: &preemphasis)
        try read(.removeDCOffset, into: &removeDCOffset)
        try read(.roundToPowerOfTwo, into: &roundToPowerOfTwo)
    }
}
