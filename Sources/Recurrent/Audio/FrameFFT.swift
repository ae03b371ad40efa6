import Foundation

/// Power spectra of real frames by a radix-2 FFT, eight frames at a time: lane f of every
/// vector belongs to frame f, so the butterflies of eight frames are one vector operation and
/// no lane ever looks at another (a frame's bits do not depend on its lane or its neighbours).
///
/// A real frame x of even length N is read as the complex sequence z[n] = x[2n] + i x[2n+1] of
/// length M = N/2; its FFT Z gives X[k] = E[k] + W^k O[k] with E[k] = (Z[k] + conj Z[M-k]) / 2,
/// O[k] = (Z[k] - conj Z[M-k]) / 2i and W = exp(-2 pi i / N), for k = 0...M.
struct FrameFFT: Sendable {
    typealias Lanes = SIMD8<Float>
    static let lanes = 8

    /// N, a power of two of at least 4.
    let length: Int
    /// M = N / 2, the complex transform's length.
    let half: Int
    /// Where input pair n goes before the butterflies (bit reversal of n over log2 M bits).
    let bitReversed: [Int]
    /// exp(-2 pi i j / M) for j < M / 2: the butterflies' twiddles.
    let twiddleReal: [Float], twiddleImaginary: [Float]
    /// exp(-2 pi i k / N) for k <= M: the real transform's final twiddles.
    let finalReal: [Float], finalImaginary: [Float]

    /// Whether `length` is a length this transform takes.
    static func accepts(_ length: Int) -> Bool { length >= 4 && length & (length - 1) == 0 }

    init(length: Int) {
        let half = length / 2
        self.length = length
        self.half = half
        let bits = half.trailingZeroBitCount
        bitReversed = (0..<half).map { n in (0..<bits).reduce(0) { reversed, bit in reversed | ((n >> bit) & 1) << (bits - 1 - bit) } }
        let quarter = max(half / 2, 1)
        twiddleReal = (0..<quarter).map { Float(cos(2 * Double.pi * Double($0) / Double(half))) }
        twiddleImaginary = (0..<quarter).map { Float(-sin(2 * Double.pi * Double($0) / Double(half))) }
        finalReal = (0...half).map { Float(cos(2 * Double.pi * Double($0) / Double(length))) }
        finalImaginary = (0...half).map { Float(-sin(2 * Double.pi * Double($0) / Double(length))) }
    }

    /// |X[k]|^2 for k = 0...M of eight frames. `frames` holds `frameLength` (<= N) vectors, sample n
    /// of frame f in lane f of vector n (the rest of the N samples are zeros); `real` and
    /// `imaginary` are M vectors of work space; `power` receives M + 1 vectors.
    func powerSpectra(_ frames: UnsafePointer<Lanes>, frameLength: Int, real: UnsafeMutablePointer<Lanes>,
                      imaginary: UnsafeMutablePointer<Lanes>, into power: UnsafeMutablePointer<Lanes>) {
        bitReversed.withUnsafeBufferPointer { order in
            for n in 0..<half {
                real[order[n]] = 2 * n < frameLength ? frames[2 * n] : Lanes()
                imaginary[order[n]] = 2 * n + 1 < frameLength ? frames[2 * n + 1] : Lanes()
            }
        }
        butterflies(real, imaginary)
        finalReal.withUnsafeBufferPointer { cosine in
            finalImaginary.withUnsafeBufferPointer { sine in
                // k = 0 and M: E and O are real; X[0] = Re Z0 + Im Z0, X[M] = Re Z0 - Im Z0.
                let sum = real[0] + imaginary[0], difference = real[0] - imaginary[0]
                power[0] = sum * sum
                power[half] = difference * difference
                for k in 1..<half {
                    let mirror = half - k
                    // E = (Z[k] + conj Z[M-k]) / 2, O = (Z[k] - conj Z[M-k]) / 2i.
                    let evenReal = (real[k] + real[mirror]) * 0.5, evenImaginary = (imaginary[k] - imaginary[mirror]) * 0.5
                    let oddReal = (imaginary[k] + imaginary[mirror]) * 0.5, oddImaginary = (real[mirror] - real[k]) * 0.5
                    let c = Lanes(repeating: cosine[k]), s = Lanes(repeating: sine[k])
                    let xReal = evenReal + (c * oddReal - s * oddImaginary)
                    let xImaginary = evenImaginary + (c * oddImaginary + s * oddReal)
                    power[k] = xReal * xReal + xImaginary * xImaginary
                }
            }
        }
    }

    /// The in-place radix-2 decimation-in-time transform of M points in bit-reversed order.
    private func butterflies(_ real: UnsafeMutablePointer<Lanes>, _ imaginary: UnsafeMutablePointer<Lanes>) {
        // Stage of size 2: twiddle 1.
        for a in stride(from: 0, to: half, by: 2) {
            let (re, im) = (real[a + 1], imaginary[a + 1])
            real[a + 1] = real[a] - re; imaginary[a + 1] = imaginary[a] - im
            real[a] += re; imaginary[a] += im
        }
        twiddleReal.withUnsafeBufferPointer { cosine in
            twiddleImaginary.withUnsafeBufferPointer { sine in
                var size = 4
                while size <= half {
                    let span = size / 2, step = half / size
                    for start in stride(from: 0, to: half, by: size) {
                        for j in 0..<span {
                            let a = start + j, b = a + span
                            let c = Lanes(repeating: cosine[j * step]), s = Lanes(repeating: sine[j * step])
                            let re = c * real[b] - s * imaginary[b]
                            let im = c * imaginary[b] + s * real[b]
                            real[b] = real[a] - re; imaginary[b] = imaginary[a] - im
                            real[a] += re; imaginary[a] += im
                        }
                    }
                    size *= 2
                }
            }
        }
    }
}
