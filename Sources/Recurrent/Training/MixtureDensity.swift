import Foundation

/// A mixture density output for pen strokes (Graves 2013, section 4; sketch-rnn, Ha and Eck 2017):
/// the next offset (dx, dy) is drawn from M bivariate Gaussians and the pen's next state from a
/// categorical distribution, both read from one row of raw network outputs.
///
/// A row of `outputSize` = 6M + P raw values ŷ holds, in this order, for components j = 1...M:
/// mixture logits π̂_j | means μx_j | means μy_j | log σx_j | log σy_j | ρ̂_j | P pen logits, read as
/// (Graves eq. 19-22) π = softmax(π̂), σ = exp(log σ), ρ = tanh(ρ̂), and for the pen:
/// - `.stroke5` (sketch-rnn): P = 3 logits, softmax over (pen down, pen up after this point, end);
///   targets are (dx, dy, p1, p2, p3) with one p set;
/// - `.endOfStroke` (Graves): P = 1 logit, e = sigmoid(ê) the probability that the stroke ends
///   here (Graves writes e = 1 / (1 + exp(ê)): the same model with the sign of ê flipped);
///   targets are (dx, dy, e).
///
/// The loss of a step is -log sum_j π_j N(dx, dy | μ_j, σ_j, ρ_j) (eq. 23-26) plus the pen's
/// cross-entropy; with `.stroke5` the offsets of a step whose target is the end state (p3 = 1)
/// do not count, as in sketch-rnn, where that point is not drawn.
public struct MixtureDensityHead: Codable, Equatable, Sendable {
    public enum PenStates: String, Codable, Sendable {
        case stroke5
        case endOfStroke
    }

    /// M: the Gaussian components.
    public var componentCount: Int
    public var penStates: PenStates

    public init(componentCount: Int, penStates: PenStates = .stroke5) {
        self.componentCount = componentCount
        self.penStates = penStates
    }

    /// P: the pen's logits.
    public var penLogitCount: Int { penStates == .stroke5 ? 3 : 1 }
    /// The raw outputs of one step, 6M + P: the size of the `Dense` layer in front of the head.
    public var outputSize: Int { 6 * componentCount + penLogitCount }
    /// The values of one target step: (dx, dy) and the pen's 3 states or its one end flag.
    public var targetWidth: Int { penStates == .stroke5 ? 5 : 3 }

    public func validate() throws {
        guard (1...1024).contains(componentCount) else {
            throw RecurrentError.invalidArgument("mixture density head: \(componentCount) components, expected 1...1024")
        }
    }

    /// The mixture and pen distribution of one row of raw outputs, sharpened or flattened by
    /// `temperature` as sketch-rnn samples: π̂ / τ, σ √τ, pen logits / τ (τ = 1: the model's own).
    public func distribution(_ row: some Collection<Float>, temperature: Double = 1) -> StrokeDistribution {
        let y = row.map(Double.init), m = componentCount
        let part = { (k: Int) in Array(y[(k * m)..<((k + 1) * m)]) }
        let spread = temperature.squareRoot()
        let pen = Array(y[(6 * m)...]).map { $0 / temperature }
        return StrokeDistribution(
            weights: softmax(part(0).map { $0 / temperature }),
            meanX: part(1), meanY: part(2),
            deviationX: part(3).map { exp($0) * spread }, deviationY: part(4).map { exp($0) * spread },
            correlation: part(5).map { Foundation.tanh($0) },
            pen: penStates == .stroke5 ? softmax(pen) : [1 / (1 + exp(-pen[0]))])
    }

    /// The mean over the steps that count of each step's negative log-likelihood: raw outputs
    /// [..., 6M + P], targets [..., 5] (`.stroke5`) or [..., 3] (`.endOfStroke`), `mask` the
    /// leading dimensions ([B, T]) weighting each step, 0 for padding. A fully masked batch gives 0
    /// with a zero gradient. Computed in Double, one recorded operation with its exact gradient.
    public func negativeLogLikelihood(output: Variable, targets: Tensor, mask: Tensor? = nil) throws -> Variable {
        let shape = output.shape
        guard shape.count >= 1, shape.last == outputSize else {
            throw RecurrentError.shapeMismatch("mixture density head: output \(shape) should end in its \(outputSize) values (6 x \(componentCount) + \(penLogitCount))")
        }
        let steps = output.value.count / outputSize
        guard targets.shape == Array(shape.dropLast()) + [targetWidth] else {
            throw RecurrentError.shapeMismatch("mixture density head: targets \(targets.shape) should be \(Array(shape.dropLast()) + [targetWidth])")
        }
        if let mask, mask.count != steps || mask.rank >= shape.count || Array(shape.prefix(mask.rank)) != mask.shape {
            throw RecurrentError.shapeMismatch("mixture density head: mask \(mask.shape) should be \(Array(shape.dropLast())), one value per step")
        }
        if let bad = targets.scalars.firstIndex(where: { !$0.isFinite }) {
            throw RecurrentError.invalidArgument("mixture density head: target value \(targets.scalars[bad]) at flat index \(bad) is not finite")
        }
        let weights = mask?.scalars.map(Double.init) ?? [Double](repeating: 1, count: steps)
        if weights.contains(where: { !($0 >= 0 && $0.isFinite) }) {
            throw RecurrentError.invalidArgument("mixture density head: mask values must be finite and not negative")
        }
        let weightTotal = weights.reduce(0, +)
        let scale = weightTotal > 0 ? 1 / weightTotal : 0
        let width = outputSize, targetWidth = targetWidth
        var slopes = [Float](repeating: 0, count: output.value.count)
        // Each step's loss on its own (the steps split over the threads), then summed in order:
        // the same bits on any thread count.
        var losses = [Double](repeating: 0, count: steps)
        let m = componentCount
        output.value.withUnsafeBufferPointer { y in
            targets.withUnsafeBufferPointer { t in
                slopes.withUnsafeMutableBufferPointer { g in
                    losses.withUnsafeMutableBufferPointer { losses in
                        guard let y = y.baseAddress, let t = t.baseAddress, let g = g.baseAddress, let losses = losses.baseAddress else { return }
                        let pointers = UncheckedSendable((y, t, g, losses))
                        Parallel.forEachRange(steps, grain: 1) { range in
                            let (y, t, g, losses) = pointers.value
                            withUnsafeTemporaryAllocation(of: Double.self, capacity: 9 * m) { scratch in
                                guard let scratch = scratch.baseAddress else { return }
                                for step in range where weights[step] > 0 {
                                    losses[step] = stepLoss(y: y + step * width, target: t + step * targetWidth,
                                                            gradient: g + step * width, weight: weights[step] * scale, scratch: scratch)
                                }
                            }
                        }
                    }
                }
            }
        }
        var total = 0.0
        for step in 0..<steps where weights[step] > 0 { total += weights[step] * losses[step] }
        return Variable.record(Tensor(Float(total * scale)), inputs: [output]) { upstream in
            [Tensor(shape: shape, scalars: slopes).map { $0 * upstream.scalar }]
        }
    }

    /// One step's loss; writes its gradient with respect to the raw outputs, times `weight`.
    /// `scratch` holds 9M Doubles.
    private func stepLoss(y: UnsafePointer<Float>, target: UnsafePointer<Float>, gradient g: UnsafeMutablePointer<Float>,
                          weight: Double, scratch: UnsafeMutablePointer<Double>) -> Double {
        let m = componentCount
        let x1 = Double(target[0]), x2 = Double(target[1])
        var loss = 0.0
        let offsetsCount = penStates == .endOfStroke || target[4] < 0.5
        if offsetsCount {
            // scratch: log weights | log terms | zx | zy | rho | q | sx | sy | π, M each. Six
            // transcendental functions a component: e^(log σ) twice, u = e^(-2|ρ̂|) and log1p(u)
            // give ρ, 1 - ρ² and its log; the two log-sum-exps' exponentials give the mixture
            // weights and the responsibilities.
            let logWeights = scratch, logTerms = scratch + m
            let zxs = scratch + 2 * m, zys = scratch + 3 * m, rhos = scratch + 4 * m, qs = scratch + 5 * m
            let sxs = scratch + 6 * m, sys = scratch + 7 * m, weights = scratch + 8 * m
            for j in 0..<m { logWeights[j] = Double(y[j]) }
            // The mixture weights π (softmax) and log π.
            let logNormalizer = logSumExp(logWeights, count: m, exponentials: weights)
            for j in 0..<m { logWeights[j] -= logNormalizer }
            for j in 0..<m {
                let logSx = Double(y[3 * m + j]), logSy = Double(y[4 * m + j]), rhoHat = Double(y[5 * m + j])
                let sx = exp(logSx), sy = exp(logSy)
                let zx = (x1 - Double(y[m + j])) / sx, zy = (x2 - Double(y[2 * m + j])) / sy
                // tanh(r) = sign(r) (1 - u) / (1 + u) and 1 - tanh²(r) = 4u / (1 + u)² with
                // u = e^(-2|r|); log(1 - tanh²) = log 4 - 2 (|r| + log1p(u)), exact where 1 - ρ²
                // would round to 0.
                let a = abs(rhoHat), u = exp(-2 * a), onePlusU = 1 + u
                let rho = (rhoHat < 0 ? -1 : 1) * (1 - u) / onePlusU
                let logQ = 2 * M_LN2 - 2 * (a + log1p(u))
                let q = 4 * u / (onePlusU * onePlusU)
                let z = zx * zx + zy * zy - 2 * rho * zx * zy
                logTerms[j] = logWeights[j] - log(2 * Double.pi) - logSx - logSy - 0.5 * logQ - z / (2 * q)
                (zxs[j], zys[j], rhos[j], qs[j], sxs[j], sys[j]) = (zx, zy, rho, q, sx, sy)
            }
            // Responsibilities γ_j = e^(logTerms_j - logDensity), from the log-sum-exp's own
            // exponentials (in the logWeights slots, no longer needed).
            let logDensity = logSumExp(logTerms, count: m, exponentials: logWeights)
            loss -= logDensity
            for j in 0..<m {
                let (zx, zy, rho, q, sx, sy) = (zxs[j], zys[j], rhos[j], qs[j], sxs[j], sys[j])
                let responsibility = logWeights[j]
                let z = zx * zx + zy * zy - 2 * rho * zx * zy
                g[j] = Float(weight * (weights[j] - responsibility))
                g[m + j] = Float(weight * -responsibility * (zx - rho * zy) / (sx * q))
                g[2 * m + j] = Float(weight * -responsibility * (zy - rho * zx) / (sy * q))
                g[3 * m + j] = Float(weight * -responsibility * (zx * (zx - rho * zy) / q - 1))
                g[4 * m + j] = Float(weight * -responsibility * (zy * (zy - rho * zx) / q - 1))
                g[5 * m + j] = Float(weight * -responsibility * (rho + zx * zy - rho * z / q))
            }
        }
        let pen = 6 * m
        switch penStates {
        case .stroke5:
            // The offsets are done with the scratch: the pen's 3 logits go there.
            for k in 0..<3 { scratch[k] = Double(y[pen + k]) }
            let total = logSumExp(scratch, count: 3)
            let targetMass = 0.0 + Double(target[2]) + Double(target[3]) + Double(target[4])
            for k in 0..<3 {
                let logProbability = scratch[k] - total
                loss -= Double(target[2 + k]) * logProbability
                g[pen + k] = Float(weight * (exp(logProbability) * targetMass - Double(target[2 + k])))
            }
        case .endOfStroke:
            let logit = Double(y[pen]), end = Double(target[2])
            // -[e log σ(u) + (1 - e) log(1 - σ(u))] = (1 - e) u + softplus(-u)
            loss += (1 - end) * logit + max(-logit, 0) + log1p(exp(-abs(logit)))
            g[pen] = Float(weight * (1 / (1 + exp(-logit)) - end))
        }
        return loss
    }
}

/// The distribution of a pen's next move: a mixture of bivariate Gaussians over (dx, dy), and
/// the pen's state (`.stroke5`: probabilities of down, up, end; `.endOfStroke`: of the end).
public struct StrokeDistribution: Sendable {
    public var weights: [Double]
    public var meanX: [Double]
    public var meanY: [Double]
    public var deviationX: [Double]
    public var deviationY: [Double]
    public var correlation: [Double]
    public var pen: [Double]

    /// Draws (dx, dy) and the pen's state: 0 down, 1 up, 2 end for stroke-5; 0 or 1 (the stroke
    /// ends) for end-of-stroke.
    public func sample(using rng: inout SplitMix64) -> (dx: Double, dy: Double, pen: Int) {
        let j = Self.draw(weights, using: &rng)
        let n1 = Double(rng.normal()), n2 = Double(rng.normal())
        let rho = correlation[j]
        let dx = meanX[j] + deviationX[j] * n1
        let dy = meanY[j] + deviationY[j] * (rho * n1 + (max(0, 1 - rho * rho)).squareRoot() * n2)
        let penState = pen.count == 1 ? (Double(rng.next() >> 11) * 0x1p-53 < pen[0] ? 1 : 0) : Self.draw(pen, using: &rng)
        return (dx, dy, penState)
    }

    static func draw(_ probabilities: [Double], using rng: inout SplitMix64) -> Int {
        let u = Double(rng.next() >> 11) * 0x1p-53
        var cumulative = 0.0
        for (index, probability) in probabilities.enumerated() {
            cumulative += probability
            if u < cumulative { return index }
        }
        return probabilities.lastIndex { $0 > 0 } ?? 0
    }
}

/// log(sum(exp(values))) of `count` values, around the maximum so that nothing overflows; with
/// `exponentials`, also each exp(value - result) there (the softmax), from the same exponentials.
private func logSumExp(_ values: UnsafePointer<Double>, count: Int, exponentials: UnsafeMutablePointer<Double>? = nil) -> Double {
    guard count > 0 else { return -.infinity }
    var largest = values[0]
    for j in 1..<count where values[j] > largest { largest = values[j] }
    guard largest.isFinite else {
        // Diverged outputs: no distribution to give (the loss is not finite either).
        if let exponentials { for j in 0..<count { exponentials[j] = .nan } }
        return largest
    }
    var sum = 0.0
    if let exponentials {
        for j in 0..<count {
            exponentials[j] = exp(values[j] - largest)
            sum += exponentials[j]
        }
        for j in 0..<count { exponentials[j] /= sum }
    } else {
        for j in 0..<count { sum += exp(values[j] - largest) }
    }
    return largest + log(sum)
}
