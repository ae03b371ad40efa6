import Foundation

/// Independent Bernoulli outputs over K units: unit k of a step is on with probability
/// sigmoid(logit_k), independently of the others, so one step can hold several notes (a piano
/// roll's chord) or none. The logits come from a `Dense` layer of K outputs.
///
/// Trained by the negative log-likelihood of the targets (0 or 1 per unit): binary
/// cross-entropy with logits summed over the K units of a step and averaged over the steps that
/// count. That per-step figure is what Boulanger-Lewandowski et al. (2012) report for
/// polyphonic music.
public struct BernoulliHead: Codable, Equatable, Sendable {
    /// K: the units of one step.
    public var unitCount: Int

    public init(unitCount: Int) {
        self.unitCount = unitCount
    }

    /// The mean over steps of -sum_k log P(target_k): logits and targets [..., K]; `mask`
    /// (the leading dimensions, e.g. [B, T]) weights each step, 0 for padding. A batch whose
    /// mask is all zeros gives 0 with a zero gradient.
    public func negativeLogLikelihood(logits: Variable, targets: Tensor, mask: Tensor? = nil) throws -> Variable {
        guard logits.shape.last == unitCount else {
            throw RecurrentError.shapeMismatch("Bernoulli head: logits \(logits.shape) should end in its \(unitCount) units")
        }
        if let mask, mask.rank >= logits.value.rank {
            throw RecurrentError.shapeMismatch("Bernoulli head: mask \(mask.shape) must weight whole steps of \(logits.shape)")
        }
        let total = try binaryCrossEntropyWithLogits(logits, targets, mask: mask, reduction: .sum)
        let steps = mask.map { Double($0.sum()) } ?? Double(logits.value.count / max(unitCount, 1))
        return steps > 0 ? total.scaled(by: Float(1 / steps)) : total.scaled(by: 0)
    }

    /// The probability of each unit, sigmoid(logit / temperature), for one step's K logits.
    public func probabilities(logits: [Float], temperature: Float = 1) -> [Float] {
        logits.map { stableSigmoid($0 / temperature) }
    }

    /// One step drawn from the logits: each unit on with its own probability at `temperature`
    /// (below 1 sharpens towards the likelier value of each unit, above 1 flattens towards a coin
    /// toss). At most `maximumOn` units are kept on (the most probable of those drawn).
    public func sample(logits: [Float], temperature: Float = 1, maximumOn: Int? = nil, using rng: inout SplitMix64) -> [Bool] {
        let probabilities = probabilities(logits: logits, temperature: temperature)
        var on = probabilities.map { rng.nextFloat() < $0 }
        if let maximumOn {
            let drawn = on.indices.filter { on[$0] }.sorted { probabilities[$0] > probabilities[$1] }
            for unit in drawn.dropFirst(max(maximumOn, 0)) { on[unit] = false }
        }
        return on
    }
}
