import Foundation

// The fixed tables of a filterbank: the window, the Fourier basis and the mel filters. The window
// and the filters follow torchaudio.compliance.kaldi step by step in float32, so that they
// agree with torchaudio's to the last bit or two.

extension FilterbankOptions.Window {
    /// The symmetric window of `length` samples, as torch.hann_window(length, periodic=False)
    /// (and its kin) computes it in float32: cos(n * (2 pi / (N - 1))), scaled and shifted.
    func values(length: Int) -> [Float] {
        if length == 1 || self == .rectangular { return [Float](repeating: 1, count: length) }
        let angleStep = Float(2 * Double.pi / Double(length - 1))
        func cosine(_ n: Int, alpha: Float, beta: Float) -> Float { cos(Float(n) * angleStep) * -beta + alpha }
        switch self {
        case .hann: return (0..<length).map { cosine($0, alpha: 0.5, beta: 0.5) }
        case .povey: return (0..<length).map { pow(cosine($0, alpha: 0.5, beta: 0.5), 0.85) }
        case .hamming: return (0..<length).map { cosine($0, alpha: 0.54, beta: 0.46) }
        case .rectangular: return [Float](repeating: 1, count: length)
        }
    }
}

/// The real DFT of a window of `frameLength` samples zero-padded to `fftLength` (even), as a
/// [frameLength, fftLength] row-major matrix: column k (0...fftLength/2) holds cos(2 pi k n / N),
/// column fftLength/2 + k (k in 1..<fftLength/2) holds sin(2 pi k n / N). The sines of bins 0 and
/// N/2 are zero and left out, so a frame times this matrix is its whole spectrum in N numbers.
/// The padding's rows are zero inputs and are left out too.
func fourierBasis(frameLength: Int, fftLength: Int) -> [Float] {
    let half = fftLength / 2
    var basis = [Float](repeating: 0, count: frameLength * fftLength)
    for n in 0..<frameLength {
        for k in 0...half {
            // The angle reduced modulo 2 pi exactly (in integers) before it meets Double's cos.
            let angle = 2 * Double.pi * Double((k * n) % fftLength) / Double(fftLength)
            basis[n * fftLength + k] = Float(cos(angle))
            if k > 0 && k < half { basis[n * fftLength + half + k] = Float(sin(angle)) }
        }
    }
    return basis
}

/// Triangular filters on the mel scale (mel = 1127 ln(1 + f / 700)), as Kaldi's MelBanks and
/// torchaudio's get_mel_banks build them: `bins` triangles evenly spaced in mel between the low
/// and high frequencies, each rising from its left edge to its centre and falling to its right
/// edge, evaluated at the mel of each FFT bin below Nyquist (the Nyquist bin gets no weight).
/// Stored sparsely: each filter's nonzero run of weights.
struct MelFilters: Sendable {
    /// First FFT bin of filter b.
    let firstBin: [Int]
    /// Filter b's weights are weights[offset[b]..<offset[b + 1]].
    let offset: [Int]
    let weights: [Float]

    var count: Int { firstBin.count }

    init(bins: Int, fftLength: Int, sampleRate: Int, lowFrequency: Double, highFrequency: Double) {
        func melScale(_ frequency: Double) -> Double { 1127 * log(1 + frequency / 700) }
        let melLow = melScale(lowFrequency), melHigh = melScale(highFrequency)
        // Each step in float32, the order torch's tensor expressions take.
        let delta = Float((melHigh - melLow) / Double(bins + 1)), low = Float(melLow)
        let binWidth = Float(Double(sampleRate) / Double(fftLength))
        let fftMels: [Float] = (0..<fftLength / 2).map { k in
            Float(1127) * log(Float(1) + binWidth * Float(k) / Float(700))
        }
        var firstBin: [Int] = [], offset = [0], weights: [Float] = []
        for b in 0..<bins {
            let left = low + Float(b) * delta
            let centre = low + (Float(b) + 1) * delta
            let right = low + (Float(b) + 2) * delta
            let row = fftMels.map { mel in max(0, min((mel - left) / (centre - left), (right - mel) / (right - centre))) }
            let first = row.firstIndex(where: { $0 > 0 }) ?? 0
            let last = row.lastIndex(where: { $0 > 0 }) ?? -1
            firstBin.append(first)
            if last >= first { weights += row[first...last] }
            offset.append(weights.count)
        }
        self.firstBin = firstBin
        self.offset = offset
        self.weights = weights
    }

    /// ln(max(energy, epsilon)) of each filter for one frame's power spectrum; epsilon is
    /// float32's (1.19e-7), as Kaldi floors its filterbank energies.
    @inline(__always)
    func logEnergies(of power: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        weights.withUnsafeBufferPointer { weights in
            for filter in 0..<firstBin.count {
                var energy: Float = 0
                let bin = firstBin[filter], start = offset[filter]
                for i in 0..<offset[filter + 1] - start { energy += weights[start + i] * power[bin + i] }
                output[filter] = log(max(energy, Float.ulpOfOne))
            }
        }
    }

    /// The same for eight frames' power spectra in lanes (`power[k]` lane f: bin k of frame f),
    /// with the same sums in the same order, for the first `lanes` frames: frame f's log
    /// energies go to output[f * count ..< (f + 1) * count].
    @inline(__always)
    func logEnergies(of power: UnsafePointer<FrameFFT.Lanes>, lanes: Int, into output: UnsafeMutablePointer<Float>) {
        let filters = firstBin.count
        weights.withUnsafeBufferPointer { weights in
            for filter in 0..<filters {
                var energy = FrameFFT.Lanes()
                let bin = firstBin[filter], start = offset[filter]
                for i in 0..<offset[filter + 1] - start { energy += weights[start + i] * power[bin + i] }
                for lane in 0..<lanes { output[lane * filters + filter] = log(max(energy[lane], Float.ulpOfOne)) }
            }
        }
    }
}
