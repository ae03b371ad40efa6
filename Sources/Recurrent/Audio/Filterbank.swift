/// Log-mel filterbank features (Kaldi's fbank, as torchaudio.compliance.kaldi.fbank computes it
/// with `dither=0`), optionally with deltas (torchaudio.functional.compute_deltas).
///
/// Per frame of `frameLength` samples every `frameShift` (only whole frames, Kaldi's
/// `snip_edges`): subtract the frame's mean, pre-emphasize, window, take the power spectrum of
/// the frame zero-padded to `fftLength`, sum it through the mel filters, and take the log
/// (floored at float32's epsilon).
///
/// Power-of-two transform lengths (the default rounds up to one) go through a radix-2 FFT that
/// takes eight frames at once, one per SIMD lane (`FrameFFT`); other lengths through one matrix
/// product per block of frames with a fixed [frameLength, fftLength] cosine/sine matrix on the
/// project's GEMM. On a minute of 8 kHz speech (40 bins, one thread) the FFT took 4.0 ms and
/// the product 9.8-13 ms, against 17-18 ms for torchaudio.compliance.kaldi.fbank.
///
/// Shape letters: T frames, M mel bins, F = M * (1 + deltaOrder) features, L frame length,
/// N Fourier length.
public struct Filterbank: Sendable {
    public let options: FilterbankOptions
    let frameLength: Int
    let frameShift: Int
    let fftLength: Int
    /// [L]
    let window: [Float]
    /// The transform for power-of-two lengths (nil for others).
    let fft: FrameFFT?
    /// [L, N], see `fourierBasis`: the transform for other lengths (empty when `fft` is set).
    let basis: [Float]
    let melFilters: MelFilters

    /// Frames per matrix product: enough to run the product near its best speed, few enough
    /// that the spectra of a block ([blockFrames, N] floats) stay in cache.
    static let blockFrames = 128
    /// The fewest rows a product is given (smaller blocks are padded with zero frames): above
    /// every instruction set's in-place path (RK_STREAM_M, at most 8 rows), so every frame's
    /// spectrum goes through the packed product and gets the same bits in a block of any size.
    /// This is what lets `StreamingFilterbank` match `features` bit for bit.
    static let minimumRows = 16

    public init(_ options: FilterbankOptions) throws {
        try options.validate()
        self.options = options
        frameLength = options.frameLength
        frameShift = options.frameShift
        fftLength = options.fftLength
        window = options.window.values(length: frameLength)
        fft = FrameFFT.accepts(fftLength) ? FrameFFT(length: fftLength) : nil
        basis = fft == nil ? fourierBasis(frameLength: frameLength, fftLength: fftLength) : []
        melFilters = MelFilters(bins: options.melBins, fftLength: fftLength, sampleRate: options.sampleRate,
                                lowFrequency: options.lowFrequency, highFrequency: options.resolvedHighFrequency)
    }

    public var featureCount: Int { options.featureCount }

    /// Frames in `sampleCount` samples: 1 + (sampleCount - L) / shift, or 0 when shorter than L.
    public func frameCount(sampleCount: Int) -> Int {
        sampleCount < frameLength ? 0 : 1 + (sampleCount - frameLength) / frameShift
    }

    /// The features of a whole clip at `options.sampleRate`: [T, F]; T = 0 when the clip is
    /// shorter than one window.
    public func features(_ samples: [Float]) -> Tensor {
        let frames = frameCount(sampleCount: samples.count)
        var logMels = [Float](repeating: 0, count: frames * options.melBins)
        samples.withUnsafeBufferPointer { input in
            logMels.withUnsafeMutableBufferPointer { output in
                computeLogMels(input.baseAddress, frames: frames, into: output.baseAddress)
            }
        }
        var assembler = FeatureAssembler(options)
        var rows: [Float] = []
        rows.reserveCapacity(frames * featureCount)
        assembler.append(logMels, final: true, to: &rows)
        return Tensor(shape: [frames, featureCount], scalars: rows)
    }

    /// The log-mels [frames, M] of `frames` frames, the first starting at `samples` and each
    /// `frameShift` after the one before.
    func computeLogMels(_ samples: UnsafePointer<Float>?, frames: Int, into output: UnsafeMutablePointer<Float>?) {
        guard frames > 0, let samples, let output else { return }
        if let fft {
            computeLogMels(samples, frames: frames, into: output, fft: fft)
            return
        }
        let rows = max(Self.minimumRows, min(Self.blockFrames, frames))
        let half = fftLength / 2, melBins = options.melBins
        var windowed = [Float](repeating: 0, count: rows * frameLength)
        var spectra = [Float](repeating: 0, count: rows * fftLength)
        var power = [Float](repeating: 0, count: half + 1)
        windowed.withUnsafeMutableBufferPointer { windowed in
            spectra.withUnsafeMutableBufferPointer { spectra in
                power.withUnsafeMutableBufferPointer { power in
                    basis.withUnsafeBufferPointer { basis in
                        for first in stride(from: 0, to: frames, by: Self.blockFrames) {
                            let count = min(Self.blockFrames, frames - first)
                            for frame in 0..<count {
                                prepareFrame(samples + (first + frame) * frameShift, into: windowed.baseAddress! + frame * frameLength)
                            }
                            // Rows past `count` hold zeros or an earlier block's frames; their spectra are not read.
                            Kernels.gemm(m: max(count, Self.minimumRows), n: fftLength, k: frameLength,
                                         windowed.baseAddress!, lda: frameLength, basis.baseAddress!, ldb: fftLength,
                                         spectra.baseAddress!, ldc: fftLength)
                            for frame in 0..<count {
                                let spectrum = spectra.baseAddress! + frame * fftLength
                                // |X_k|^2 = cos part^2 + sin part^2; bins 0 and N/2 have no sine part.
                                power[0] = spectrum[0] * spectrum[0]
                                for k in 1..<half { power[k] = spectrum[k] * spectrum[k] + spectrum[half + k] * spectrum[half + k] }
                                power[half] = spectrum[half] * spectrum[half]
                                melFilters.logEnergies(of: power.baseAddress!, into: output + (first + frame) * melBins)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The same through the FFT, eight frames at a time, one frame per lane (a last group of
    /// fewer is padded with zero frames, whose lanes are not read).
    private func computeLogMels(_ samples: UnsafePointer<Float>, frames: Int, into output: UnsafeMutablePointer<Float>, fft: FrameFFT) {
        let lanes = FrameFFT.lanes, melBins = options.melBins
        // [L], [M], [M], [M + 1] vectors of eight lanes.
        let prepared = UnsafeMutablePointer<FrameFFT.Lanes>.allocate(capacity: frameLength + 3 * fft.half + 1)
        defer { prepared.deallocate() }
        let real = prepared + frameLength, imaginary = real + fft.half, power = imaginary + fft.half
        let preparedScalars = UnsafeMutableRawPointer(prepared).assumingMemoryBound(to: Float.self)
        for first in stride(from: 0, to: frames, by: lanes) {
            let count = min(lanes, frames - first)
            for lane in 0..<lanes {
                let frame = samples + (first + lane) * frameShift
                for n in 0..<frameLength { preparedScalars[n * lanes + lane] = lane < count ? frame[n] : 0 }
            }
            prepareFrames(prepared)
            fft.powerSpectra(prepared, frameLength: frameLength, real: real, imaginary: imaginary, into: power)
            melFilters.logEnergies(of: power, lanes: count, into: output + first * melBins)
        }
    }

    /// `prepareFrame` for eight frames in lanes, in place, with the same arithmetic in each lane.
    private func prepareFrames(_ frames: UnsafeMutablePointer<FrameFFT.Lanes>) {
        var mean = FrameFFT.Lanes()
        if options.removeDCOffset {
            var compensation = FrameFFT.Lanes()
            for n in 0..<frameLength { compensatedAdd(frames[n], to: &mean, &compensation) }
            mean /= FrameFFT.Lanes(repeating: Float(frameLength))
        }
        let coefficient = Float(options.preemphasis)
        var previous = frames[0] - mean
        window.withUnsafeBufferPointer { window in
            for n in 0..<frameLength {
                let value = frames[n] - mean
                frames[n] = (coefficient == 0 ? value : value - coefficient * previous) * window[n]
                previous = value
            }
        }
    }

    /// One frame made ready for the transform, as Kaldi's window processing: the frame's mean
    /// removed, pre-emphasis (x[i] - c x[i-1], x[-1] taken as x[0]), the window. The mean is a
    /// compensated float32 sum: a plain one in order drifts by up to L rounding steps, which
    /// shows in the log-mels of filters whose power is near the floor.
    @inline(__always)
    private func prepareFrame(_ frame: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        var mean: Float = 0
        if options.removeDCOffset {
            var compensation: Float = 0
            for i in 0..<frameLength { compensatedAdd(frame[i], to: &mean, &compensation) }
            mean /= Float(frameLength)
        }
        let coefficient = Float(options.preemphasis)
        var previous = frame[0] - mean
        window.withUnsafeBufferPointer { window in
            for i in 0..<frameLength {
                let value = frame[i] - mean
                output[i] = (coefficient == 0 ? value : value - coefficient * previous) * window[i]
                previous = value
            }
        }
    }
}

/// Kahan's summation step: adds `value` to `sum`, carrying the rounding error in `compensation`.
@inline(__always)
private func compensatedAdd(_ value: Float, to sum: inout Float, _ compensation: inout Float) {
    let corrected = value - compensation
    let total = sum + corrected
    compensation = (total - sum) - corrected
    sum = total
}

/// The same step in each of eight lanes.
@inline(__always)
private func compensatedAdd(_ value: FrameFFT.Lanes, to sum: inout FrameFFT.Lanes, _ compensation: inout FrameFFT.Lanes) {
    let corrected = value - compensation
    let total = sum + corrected
    compensation = (total - sum) - corrected
    sum = total
}
