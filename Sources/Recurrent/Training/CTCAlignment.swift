import CRecurrentKernels
import Foundation

/// The floating-point types the CTC recursion runs in: Float in training, Double to check it
/// against PyTorch's float64 values at a tight tolerance. One generic recursion serves both;
/// its two row operations are vector kernels for Float (`ctc.c`) and plain loops for Double.
protocol CTCFloatingPoint: BinaryFloatingPoint {
    static func exponential(_ x: Self) -> Self
    static func logarithm(_ x: Self) -> Self
    /// out[s] = log(e^x[s] + e^y[s] + e^(z[s] + zMask[s])) + (add?[s] ?? 0) for s < count.
    static func logAddExpRow(_ x: UnsafePointer<Self>, _ y: UnsafePointer<Self>, _ z: UnsafePointer<Self>,
                             zMask: UnsafePointer<Self>, add: UnsafePointer<Self>?, into out: UnsafeMutablePointer<Self>, count: Int)
    /// out[s] = e^(a[s] + (b?[s] ?? 0) + c) for s < count.
    static func exponentialRow(_ a: UnsafePointer<Self>, plus b: UnsafePointer<Self>?, plus c: Self,
                               into out: UnsafeMutablePointer<Self>, count: Int)
}

extension CTCFloatingPoint {
    static func logAddExpRow(_ x: UnsafePointer<Self>, _ y: UnsafePointer<Self>, _ z: UnsafePointer<Self>,
                             zMask: UnsafePointer<Self>, add: UnsafePointer<Self>?, into out: UnsafeMutablePointer<Self>, count: Int) {
        for s in 0..<count { out[s] = CTCLattice.logAddExp(x[s], y[s], z[s] + zMask[s]) + (add?[s] ?? 0) }
    }

    static func exponentialRow(_ a: UnsafePointer<Self>, plus b: UnsafePointer<Self>?, plus c: Self,
                               into out: UnsafeMutablePointer<Self>, count: Int) {
        for s in 0..<count { out[s] = exponential(a[s] + (b?[s] ?? 0) + c) }
    }
}

extension Float: CTCFloatingPoint {
    @inline(__always) static func exponential(_ x: Float) -> Float { exp(x) }
    @inline(__always) static func logarithm(_ x: Float) -> Float { log(x) }

    static func logAddExpRow(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ z: UnsafePointer<Float>,
                             zMask: UnsafePointer<Float>, add: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>, count: Int) {
        rk_ctc_log_add_exp3(x, y, z, zMask, add, out, Int64(count))
    }

    static func exponentialRow(_ a: UnsafePointer<Float>, plus b: UnsafePointer<Float>?, plus c: Float,
                               into out: UnsafeMutablePointer<Float>, count: Int) {
        rk_ctc_exp_sum(a, b, c, out, Int64(count))
    }
}

extension Double: CTCFloatingPoint {
    @inline(__always) static func exponential(_ x: Double) -> Double { exp(x) }
    @inline(__always) static func logarithm(_ x: Double) -> Double { log(x) }
}

/// One utterance's alignment lattice (Graves et al. 2006): the extended label sequence
/// l' = blank, l1, blank, l2, ..., lS, blank (L = 2S + 1 positions), over which the log-space
/// forward (alpha) and backward (beta) recursions run, a frame at a time, each frame one row
/// operation over the positions that can still be on a path.
///
/// Conventions: alpha[t, s] = log p(frames 0...t emit l'_1..s, ending at s), emission at t
/// included; beta[t, s] = log p(frames t+1..<T complete l' from s), emission at t excluded, so
/// that alpha[t, s] + beta[t, s] is the log-probability of the paths through (t, s) without a
/// subtraction that would cancel digits.
struct CTCLattice {
    /// l'.
    let extended: [Int]
    /// L = 2S + 1.
    let positions: Int
    /// The fewest frames that can emit the target: one per label, plus a blank between each
    /// pair of equal neighbours.
    let requiredFrames: Int
    /// 0 where the path may jump from s - 2 to s (s holds a label that differs from the label
    /// two back: equal neighbours need the blank between them), -infinity elsewhere; two more
    /// -infinity after the end for the backward row, which reads s + 2.
    private let skipPenalty: [Double]

    init(target: [Int], blank: Int) {
        var extended = [blank]
        for label in target { extended += [label, blank] }
        self.extended = extended
        positions = extended.count
        skipPenalty = extended.indices.map { s in s >= 2 && extended[s] != blank && extended[s] != extended[s - 2] ? 0 : -.infinity }
            + [-.infinity, -.infinity]
        let repeats = zip(target, target.dropFirst()).filter { $0 == $1 }.count
        requiredFrames = target.count + repeats
    }

    /// The positions that can still be on a path at frame t of `frames`: above 2t + 1 none can be
    /// reached from the start, and below L - 2(T - t) none can reach the end (even skipping every
    /// blank). Everything outside stays at log 0 = -infinity.
    @inline(__always) func band(at t: Int, frames: Int) -> Range<Int> {
        let first = max(0, positions - 2 * (frames - t)), last = min(positions - 1, 2 * t + 1)
        return first..<max(first, last + 1)
    }

    /// Values of work space that `forward` and `subtractPosteriors` need for `frames` frames.
    func workspaceCount(frames: Int) -> Int { frames * (positions + 2) + 4 * (positions + 2) }

    /// -log p(target | frames), +infinity when no path has a non-zero probability, from
    /// `logProbabilities` [frames, C]. Leaves alpha at the start of `workspace` for
    /// `subtractPosteriors`: rows of L + 2, two leading log 0 before each row's positions (what
    /// s - 1 and s - 2 read at s = 0 and 1).
    func forward<Scalar: CTCFloatingPoint>(
        _ logProbabilities: UnsafePointer<Scalar>, frames: Int, classes: Int, workspace: UnsafeMutablePointer<Scalar>
    ) -> Scalar {
        let L = positions, stride = L + 2
        guard frames > 0 else { return L == 1 ? 0 : .infinity }
        let alpha = workspace, skip = workspace + frames * stride, emission = skip + stride
        alpha.update(repeating: -.infinity, count: frames * stride)
        for s in 0..<stride { skip[s] = Scalar(skipPenalty[s]) }
        extended.withUnsafeBufferPointer { extended in
            alpha[2] = logProbabilities[extended[0]]
            if L > 1 { alpha[3] = logProbabilities[extended[1]] }
            for t in 1..<frames {
                let band = band(at: t, frames: frames)
                guard !band.isEmpty else { continue }
                let previous = alpha + (t - 1) * stride + 2 + band.lowerBound, row = logProbabilities + t * classes
                for s in band { emission[s] = row[extended[s]] }
                Scalar.logAddExpRow(previous, previous - 1, previous - 2, zMask: skip + band.lowerBound,
                                    add: emission + band.lowerBound, into: alpha + t * stride + 2 + band.lowerBound, count: band.count)
            }
        }
        let last = alpha + (frames - 1) * stride + 2
        let logLikelihood = L > 1 ? Self.logAddExp(last[L - 1], last[L - 2], -.infinity) : last[L - 1]
        return -logLikelihood
    }

    /// Subtracts from `slopes` [frames, C] the posterior occupation gamma[t, c] of each class
    /// (summed over the positions carrying c), from the alpha that `forward` left in `workspace`
    /// and its finite loss.
    func subtractPosteriors<Scalar: CTCFloatingPoint>(
        _ logProbabilities: UnsafePointer<Scalar>, frames: Int, classes: Int, loss: Scalar,
        slopes: UnsafeMutablePointer<Scalar>, workspace: UnsafeMutablePointer<Scalar>
    ) {
        let L = positions, stride = L + 2
        guard frames > 0 else { return }
        let alpha = workspace, skip = workspace + frames * stride
        // beta at the current frame, beta + emission at the frame after it, and the posteriors.
        let beta = skip + stride, emitted = beta + stride, posterior = emitted + stride
        beta.update(repeating: -.infinity, count: stride)
        emitted.update(repeating: -.infinity, count: stride)
        extended.withUnsafeBufferPointer { extended in
            func subtract(at t: Int) {
                let band = band(at: t, frames: frames), first = band.lowerBound
                Scalar.exponentialRow(alpha + t * stride + 2 + first, plus: beta + first, plus: loss, into: posterior + first, count: band.count)
                let slopeRow = slopes + t * classes
                for s in band { slopeRow[extended[s]] -= posterior[s] }
            }
            beta[L - 1] = 0
            if L > 1 { beta[L - 2] = 0 }
            subtract(at: frames - 1)
            for t in Swift.stride(from: frames - 2, through: 0, by: -1) {
                let row = logProbabilities + (t + 1) * classes
                for s in 0..<L { emitted[s] = beta[s] + row[extended[s]] }
                beta.update(repeating: -.infinity, count: L)
                let band = band(at: t, frames: frames), first = band.lowerBound
                Scalar.logAddExpRow(emitted + first, emitted + first + 1, emitted + first + 2, zMask: skip + first + 2,
                                    add: nil, into: beta + first, count: band.count)
                subtract(at: t)
            }
        }
    }

    /// log(e^a + e^b + e^c) with two exponentials (the largest term contributes 1); log 0 stays
    /// -infinity. log(1 + x) rather than log1p: its error is under one step of 1, below the
    /// rounding of `high` itself wherever |high| >= 1, and log is the faster function.
    @inline(__always) static func logAddExp<Scalar: CTCFloatingPoint>(_ a: Scalar, _ b: Scalar, _ c: Scalar) -> Scalar {
        let high = max(a, max(b, c))
        guard high > -.infinity else { return high }
        let low = min(a, min(b, c)), middle = max(min(a, b), min(max(a, b), c))
        return high + .logarithm(1 + .exponential(middle - high) + .exponential(low - high))
    }
}
