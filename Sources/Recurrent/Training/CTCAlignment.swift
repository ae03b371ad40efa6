import Foundation

/// The floating-point types the CTC recursion runs in: Float in training, Double to check it
/// against PyTorch's float64 values at a tight tolerance. One generic recursion serves both.
protocol CTCFloatingPoint: BinaryFloatingPoint {
    static func exponential(_ x: Self) -> Self
    static func logarithm(_ x: Self) -> Self
}

extension Float: CTCFloatingPoint {
    @inline(__always) static func exponential(_ x: Float) -> Float { exp(x) }
    @inline(__always) static func logarithm(_ x: Float) -> Float { log(x) }
}

extension Double: CTCFloatingPoint {
    @inline(__always) static func exponential(_ x: Double) -> Double { exp(x) }
    @inline(__always) static func logarithm(_ x: Double) -> Double { log(x) }
}

/// One utterance's alignment lattice (Graves et al. 2006): the extended label sequence
/// l' = blank, l1, blank, l2, ..., lS, blank (L = 2S + 1 positions), over which the log-space
/// forward (alpha) and backward (beta) recursions run.
///
/// Conventions: alpha[t, s] = log p(frames 0...t emit l'_1..s, ending at s), emission at t
/// included; beta[t, s] = log p(frames t+1..<T complete l' from s), emission at t excluded, so
/// that alpha[t, s] + beta[t, s] is the log-probability of the paths through (t, s) without a
/// subtraction that would cancel digits.
struct CTCLattice {
    /// l', with two blanks of padding after it so that the backward step reads s + 2 freely.
    let extended: [Int]
    /// Whether the path may jump from s - 2 to s: s holds a label that differs from the label
    /// two back (equal adjacent labels need the blank between them). Padded like `extended`.
    let canSkip: [Bool]
    /// L = 2S + 1.
    let positions: Int
    /// The fewest frames that can emit the target: one per label, plus a blank between each
    /// pair of equal neighbours.
    let requiredFrames: Int

    init(target: [Int], blank: Int) {
        var extended = [blank]
        for label in target { extended += [label, blank] }
        positions = extended.count
        canSkip = extended.indices.map { s in s >= 2 && extended[s] != blank && extended[s] != extended[s - 2] } + [false, false]
        self.extended = extended + [blank, blank]
        let repeats = zip(target, target.dropFirst()).filter { $0 == $1 }.count
        requiredFrames = target.count + repeats
    }

    /// The positions that can still be on a path at frame t of `frames`: above 2t + 1 none can be
    /// reached from the start, and below L - 2(T - t) none can reach the end (even skipping every
    /// blank). Everything outside stays at log 0 = -infinity.
    @inline(__always) func band(at t: Int, frames: Int) -> ClosedRange<Int>? {
        let first = max(0, positions - 2 * (frames - t)), last = min(positions - 1, 2 * t + 1)
        return first <= last ? first...last : nil
    }

    /// -log p(target | frames): fills alpha [frames, L] and returns the loss, +infinity when no
    /// path has a non-zero probability. `logProbabilities` is [frames, C], one row per frame.
    func forward<Scalar: CTCFloatingPoint>(
        _ logProbabilities: UnsafePointer<Scalar>, frames: Int, classes: Int, alpha: UnsafeMutablePointer<Scalar>
    ) -> Scalar {
        let L = positions
        guard frames > 0 else { return L == 1 ? 0 : .infinity }
        alpha.update(repeating: -.infinity, count: frames * L)
        extended.withUnsafeBufferPointer { extended in
            canSkip.withUnsafeBufferPointer { canSkip in
                alpha[0] = logProbabilities[extended[0]]
                if L > 1 { alpha[1] = logProbabilities[extended[1]] }
                for t in 1..<frames {
                    guard let band = band(at: t, frames: frames) else { continue }
                    let previous = alpha + (t - 1) * L, current = alpha + t * L, row = logProbabilities + t * classes
                    for s in band {
                        var sum = previous[s]
                        if s > 0 {
                            sum = canSkip[s] ? Self.logAddExp(sum, previous[s - 1], previous[s - 2]) : Self.logAddExp(sum, previous[s - 1])
                        }
                        current[s] = sum + row[extended[s]]
                    }
                }
            }
        }
        let last = alpha + (frames - 1) * L
        let logLikelihood = L > 1 ? Self.logAddExp(last[L - 1], last[L - 2]) : last[L - 1]
        return -logLikelihood
    }

    /// Subtracts from `slopes` [frames, C] the posterior occupation gamma[t, c] of each class
    /// (summed over the positions carrying c) from the alpha that `forward` left and its
    /// (finite) loss. `work` holds 2 (L + 2) values.
    func subtractPosteriors<Scalar: CTCFloatingPoint>(
        _ logProbabilities: UnsafePointer<Scalar>, frames: Int, classes: Int, alpha: UnsafePointer<Scalar>, loss: Scalar,
        slopes: UnsafeMutablePointer<Scalar>, work: UnsafeMutablePointer<Scalar>
    ) {
        let L = positions
        guard frames > 0 else { return }
        // beta at the current frame, and beta + emission at the frame after it.
        let beta = work, emitted = work + (L + 2)
        beta.update(repeating: -.infinity, count: L + 2)
        emitted.update(repeating: -.infinity, count: L + 2)
        extended.withUnsafeBufferPointer { extended in
            canSkip.withUnsafeBufferPointer { canSkip in
                func subtract(at t: Int) {
                    guard let band = band(at: t, frames: frames) else { return }
                    let alphaRow = alpha + t * L, slopeRow = slopes + t * classes
                    for s in band {
                        let logPaths = alphaRow[s] + beta[s]
                        if logPaths > -.infinity { slopeRow[extended[s]] -= Scalar.exponential(logPaths + loss) }
                    }
                }
                beta[L - 1] = 0
                if L > 1 { beta[L - 2] = 0 }
                subtract(at: frames - 1)
                for t in stride(from: frames - 2, through: 0, by: -1) {
                    let row = logProbabilities + (t + 1) * classes
                    for s in 0..<L { emitted[s] = beta[s] + row[extended[s]] }
                    beta.update(repeating: -.infinity, count: L)
                    guard let band = band(at: t, frames: frames) else { continue }
                    for s in band {
                        beta[s] = canSkip[s + 2] ? Self.logAddExp(emitted[s], emitted[s + 1], emitted[s + 2])
                                                 : Self.logAddExp(emitted[s], emitted[s + 1])
                    }
                    subtract(at: t)
                }
            }
        }
    }

    /// log(e^a + e^b), one exponential and one logarithm; log 0 stays -infinity. log(1 + x)
    /// rather than log1p: its error is under one step of 1, below the rounding of `high` itself
    /// wherever |high| >= 1, and log is the faster function.
    @inline(__always) static func logAddExp<Scalar: CTCFloatingPoint>(_ a: Scalar, _ b: Scalar) -> Scalar {
        let high = max(a, b), low = min(a, b)
        guard high > -.infinity else { return high }
        return high + .logarithm(1 + .exponential(low - high))
    }

    /// log(e^a + e^b + e^c), with two exponentials: the largest term contributes 1.
    @inline(__always) static func logAddExp<Scalar: CTCFloatingPoint>(_ a: Scalar, _ b: Scalar, _ c: Scalar) -> Scalar {
        let high = max(a, max(b, c))
        guard high > -.infinity else { return high }
        let low = min(a, min(b, c)), middle = max(min(a, b), min(max(a, b), c))
        return high + .logarithm(1 + .exponential(middle - high) + .exponential(low - high))
    }
}
