import Foundation

/// A distribution over one value whose parameters a network emits as raw, unconstrained numbers,
/// as DeepAR's output layers do. Trained by the negative log-likelihood of the observed values.
///
/// Raw outputs [..., P] map to parameters (softplus(x) = log(1 + e^x) keeps scales positive):
/// - Gaussian (P = 2): mean = s * x0, standard deviation sigma = s * (softplus(x1) + 1e-6)
/// - Student-t (P = 3): location s * x0, scale s * (softplus(x1) + 1e-6), degrees of freedom
///   nu = 2 + softplus(x2) (finite variance)
/// - negative binomial (P = 2): mean mu = s * (softplus(x0) + 1e-6), shape
///   alpha = (softplus(x1) + 1e-6) / sqrt(s), variance mu + alpha mu^2 (counts)
///
/// where s is the value's scale (1 unless given): a network working in units of each series'
/// level forecasts every series' own magnitude (DeepAR's scaling). The likelihoods are
/// `torch.distributions`' Normal, StudentT and NegativeBinomial(total_count = 1 / alpha,
/// logits = log(alpha mu)).
public enum DistributionKind: String, Codable, Sendable, CaseIterable {
    case gaussian
    case studentT
    case negativeBinomial

    /// Raw outputs per value.
    public var parameterCount: Int {
        switch self {
        case .gaussian, .negativeBinomial: return 2
        case .studentT: return 3
        }
    }

    /// The smallest scale, so a head that learns a constant series keeps a finite likelihood.
    static let minimumScale = 1e-6

    /// The negative log-likelihood of `targets` [...] under the distributions of `raw` [..., P],
    /// with optional per-value `scales` [...] (see the type's note), masked and reduced as the
    /// other losses are.
    public func negativeLogLikelihood(
        _ raw: Variable, _ targets: Tensor, scales: Tensor? = nil, mask: Tensor? = nil, reduction: LossReduction = .mean
    ) throws -> Variable {
        let p = parameterCount, name = "\(rawValue) negative log-likelihood"
        guard raw.value.rank >= 1, raw.shape.last == p, Array(raw.shape.dropLast()) == targets.shape else {
            throw RecurrentError.shapeMismatch("\(name): raw outputs \(raw.shape) must be the targets' shape \(targets.shape) plus [\(p)]")
        }
        if let scales, scales.shape != targets.shape {
            throw RecurrentError.shapeMismatch("\(name): scales \(scales.shape) differ from the targets \(targets.shape)")
        }
        if self == .negativeBinomial, let bad = targets.scalars.firstIndex(where: { $0 < 0 || $0 != $0.rounded() }) {
            throw RecurrentError.invalidArgument("\(name): target \(bad) is \(targets.scalars[bad]), not a count")
        }
        if let scales, let bad = scales.scalars.firstIndex(where: { !($0 > 0 && $0.isFinite) }) {
            throw RecurrentError.invalidArgument("\(name): scale \(bad) is \(scales.scalars[bad]), not positive")
        }
        var terms = [Float](repeating: 0, count: targets.count), slopes = [Float](repeating: 0, count: raw.value.count)
        raw.value.withUnsafeBufferPointer { x in
            for i in 0..<targets.count {
                var input = SIMD4<Double>.zero
                for k in 0..<p { input[k] = Double(x[i * p + k]) }
                let (value, gradient) = Self.elementNegativeLogLikelihood(
                    self, raw: input, target: Double(targets.scalars[i]), scale: Double(scales?.scalars[i] ?? 1))
                terms[i] = Float(value)
                for k in 0..<p { slopes[i * p + k] = Float(gradient[k]) }
            }
        }
        return try recordRowLoss(raw, rowShape: targets.shape, terms: terms, slopes: slopes, mask: mask, reduction: reduction, loss: name)
    }

    /// One value's negative log-likelihood and its gradient with respect to the raw outputs, in
    /// Double (tests check it against central differences in Double).
    static func elementNegativeLogLikelihood(_ kind: DistributionKind, raw x: SIMD4<Double>, target y: Double, scale s: Double)
        -> (value: Double, gradient: SIMD4<Double>) {
        var gradient = SIMD4<Double>.zero
        switch kind {
        case .gaussian:
            let sigma = s * (softplus(x[1]) + minimumScale), mean = s * x[0]
            let z = (y - mean) / sigma
            gradient[0] = -z / sigma * s
            gradient[1] = (1 - z * z) / sigma * s * logistic(x[1])
            return (0.5 * log(2 * Double.pi) + log(sigma) + 0.5 * z * z, gradient)
        case .studentT:
            let mean = s * x[0], sigma = s * (softplus(x[1]) + minimumScale), nu = 2 + softplus(x[2])
            let z = (y - mean) / sigma, ratio = z * z / nu
            let normalizer: Double = lgamma(nu / 2) - lgamma((nu + 1) / 2) + 0.5 * log(Double.pi * nu)
            let value: Double = normalizer + log(sigma) + (nu + 1) / 2 * log1p(ratio)
            gradient[0] = -(nu + 1) * z / (sigma * (nu + z * z)) * s
            gradient[1] = (1 / sigma - (nu + 1) * z * z / (sigma * (nu + z * z))) * s * logistic(x[1])
            let dNormalizer: Double = 0.5 * digamma(nu / 2) - 0.5 * digamma((nu + 1) / 2) + 0.5 / nu
            let dNu: Double = dNormalizer + 0.5 * log1p(ratio) - (nu + 1) / 2 * ratio / (nu * (1 + ratio))
            gradient[2] = dNu * logistic(x[2])
            return (value, gradient)
        case .negativeBinomial:
            let mu = s * (softplus(x[0]) + minimumScale), alpha = (softplus(x[1]) + minimumScale) / s.squareRoot()
            let r = 1 / alpha, growth = log1p(alpha * mu)
            let logProbability = lgamma(y + r) - lgamma(r) - lgamma(y + 1) - r * growth + y * (log(alpha * mu) - growth)
            let dMu = y / mu - (1 + alpha * y) / (1 + alpha * mu)
            let dAlpha = -(digamma(y + r) - digamma(r)) / (alpha * alpha) + growth / (alpha * alpha)
                - (r + y) * mu / (1 + alpha * mu) + y / alpha
            gradient[0] = -dMu * s * logistic(x[0])
            gradient[1] = -dAlpha / s.squareRoot() * logistic(x[1])
            return (-logProbability, gradient)
        }
    }
}

/// The parameters of one value's distribution, read from the raw outputs as the likelihood reads
/// them: what sampling, means and quantiles start from.
public struct DistributionParameters: Sendable, Equatable {
    public var kind: DistributionKind
    /// Gaussian: mean, standard deviation. Student-t: location, scale, degrees of freedom.
    /// Negative binomial: mean, shape alpha.
    public var values: SIMD4<Double>

    /// `raw` holds `kind.parameterCount` outputs; `scale` as in `DistributionKind`.
    public init(kind: DistributionKind, raw: [Float], scale: Double = 1) {
        self.kind = kind
        let x = (0..<4).map { $0 < raw.count ? Double(raw[$0]) : 0 }
        let m = DistributionKind.minimumScale
        switch kind {
        case .gaussian: values = [scale * x[0], scale * (softplus(x[1]) + m), 0, 0]
        case .studentT: values = [scale * x[0], scale * (softplus(x[1]) + m), 2 + softplus(x[2]), 0]
        case .negativeBinomial: values = [scale * (softplus(x[0]) + m), (softplus(x[1]) + m) / scale.squareRoot(), 0, 0]
        }
    }

    /// The distribution's mean.
    public var mean: Double { values[0] }

    /// One draw.
    public func sample(using rng: inout SplitMix64) -> Double {
        switch kind {
        case .gaussian:
            return values[0] + values[1] * rng.standardNormal()
        case .studentT:
            // z / sqrt(chi2(nu) / nu), chi2(nu) = 2 Gamma(nu / 2).
            let chiSquare = 2 * rng.gamma(shape: values[2] / 2)
            return values[0] + values[1] * rng.standardNormal() / (chiSquare / values[2]).squareRoot()
        case .negativeBinomial:
            // A Poisson whose rate is Gamma(1 / alpha) distributed with mean mu.
            let (mu, alpha) = (values[0], values[1])
            return rng.poisson(mean: rng.gamma(shape: 1 / alpha) * alpha * mu)
        }
    }
}

// MARK: - Special functions and samplers

@inline(__always) func softplus(_ x: Double) -> Double { x > 30 ? x : log1p(exp(x)) }
@inline(__always) func logistic(_ x: Double) -> Double { x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)) }

/// The digamma function psi(x) = d log Gamma(x) / dx for x > 0: the recurrence
/// psi(x) = psi(x + 1) - 1 / x up to x >= 10, then the asymptotic series (error below 1e-13).
func digamma(_ x: Double) -> Double {
    var x = x, result = 0.0
    while x < 10 { result -= 1 / x; x += 1 }
    let inverse = 1 / x, inverseSquare = inverse * inverse
    let series = inverseSquare * (1.0 / 12 - inverseSquare * (1.0 / 120 - inverseSquare * (1.0 / 252 - inverseSquare
        * (1.0 / 240 - inverseSquare / 132))))
    return result + log(x) - 0.5 * inverse - series
}

extension SplitMix64 {
    /// Uniform in (0, 1), never 0, in Double.
    mutating func openUnit() -> Double { (Double(next() >> 11) + 0.5) * 0x1p-53 }

    /// Standard normal in Double (Box-Muller).
    public mutating func standardNormal() -> Double {
        let u1 = openUnit(), u2 = openUnit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Gamma(shape, 1) (Marsaglia and Tsang 2000; shapes below 1 boosted by U^(1/shape)).
    public mutating func gamma(shape: Double) -> Double {
        guard shape >= 1 else { return gamma(shape: shape + 1) * pow(openUnit(), 1 / shape) }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            let z = standardNormal(), v = pow(1 + c * z, 3)
            guard v > 0 else { continue }
            if log(openUnit()) < 0.5 * z * z + d - d * v + d * log(v) { return d * v }
        }
    }

    /// Poisson(mean): multiplication of uniforms for small means, and for larger ones a normal
    /// draw of the same mean and variance rounded (the error is below the sampling noise at
    /// the sample sizes forecasts use).
    public mutating func poisson(mean: Double) -> Double {
        guard mean.isFinite, mean > 0 else { return 0 }
        if mean > 50 { return max(0, (mean + mean.squareRoot() * standardNormal()).rounded()) }
        let limit = exp(-mean)
        var count = 0.0, product = openUnit()
        while product > limit { count += 1; product *= openUnit() }
        return count
    }
}
