/// SpecAugment's frequency and time masks (Park et al. 2019, "SpecAugment: A Simple Data
/// Augmentation Method for Automatic Speech Recognition"), a training-time augmentation of
/// features [T, F]; time warping is left out.
///
/// Each frequency mask sets f consecutive bins [f0, f0 + f) to 0, with f uniform in
/// 0...maxFrequencyWidth and f0 uniform in 0...(bins - f); each time mask sets t consecutive
/// frames [t0, t0 + t) to 0, with t uniform in 0...min(maxTimeWidth, floor(maxTimeFraction * T))
/// and t0 uniform in 0...(T - t). Masks may overlap. Apply it after normalisation, where 0 is
/// the mean. The defaults are the paper's LibriSpeech "LD" policy with its p = 0.2 time bound
/// and a smaller frequency width for 40 bins.
public struct SpecAugment: Codable, Sendable, Equatable {
    public var frequencyMasks: Int = 2
    /// F: the widest frequency mask, in bins.
    public var maxFrequencyWidth: Int = 15
    public var timeMasks: Int = 2
    /// T: the widest time mask, in frames.
    public var maxTimeWidth: Int = 40
    /// p: a time mask covers at most this fraction of the frames.
    public var maxTimeFraction: Double = 0.2
    /// When rows hold [log-mels | deltas | ...]: the log-mel count, so that a frequency mask
    /// covers the same bins in every block. 0: the whole row is one block of bins.
    public var melBins: Int = 0

    public init(frequencyMasks: Int = 2, maxFrequencyWidth: Int = 15, timeMasks: Int = 2, maxTimeWidth: Int = 40,
                maxTimeFraction: Double = 0.2, melBins: Int = 0) {
        self.frequencyMasks = frequencyMasks
        self.maxFrequencyWidth = maxFrequencyWidth
        self.timeMasks = timeMasks
        self.maxTimeWidth = maxTimeWidth
        self.maxTimeFraction = maxTimeFraction
        self.melBins = melBins
    }

    /// Throws `RecurrentError.invalidArgument` naming a negative count or width, or a
    /// fraction outside 0...1.
    public func validate() throws {
        for (name, value) in [("frequencyMasks", frequencyMasks), ("maxFrequencyWidth", maxFrequencyWidth),
                              ("timeMasks", timeMasks), ("maxTimeWidth", maxTimeWidth), ("melBins", melBins)] where value < 0 {
            throw RecurrentError.invalidArgument("SpecAugment: \(name) is \(value), must be 0 or more")
        }
        guard maxTimeFraction >= 0, maxTimeFraction <= 1 else {  // false for NaN too
            throw RecurrentError.invalidArgument("SpecAugment: maxTimeFraction is \(maxTimeFraction), must be in 0...1")
        }
    }

    /// Masks `features` [T, F] in place, drawing from `rng` (the same seed, the same masks).
    /// Options out of range (see `validate`) are taken at their nearest valid value.
    public func apply(to features: inout Tensor, using rng: inout SplitMix64) {
        guard features.rank == 2 else { return }
        let frames = features.shape[0], width = features.shape[1]
        guard frames > 0, width > 0 else { return }
        let block = melBins > 0 && melBins <= width ? melBins : width
        features.withUnsafeMutableBufferPointer { values in
            for _ in 0..<max(frequencyMasks, 0) {
                let size = Self.uniform(0...min(max(maxFrequencyWidth, 0), block), &rng)
                let start = Self.uniform(0...(block - size), &rng)
                for frame in 0..<frames {
                    for blockStart in stride(from: 0, to: width, by: block) {
                        let end = min(blockStart + start + size, width)
                        for column in min(blockStart + start, end)..<end { values[frame * width + column] = 0 }
                    }
                }
            }
            let fraction = maxTimeFraction.isNaN ? 0 : min(max(maxTimeFraction, 0), 1)
            let widest = min(max(maxTimeWidth, 0), Int(fraction * Double(frames)))
            for _ in 0..<max(timeMasks, 0) {
                let size = Self.uniform(0...widest, &rng)
                let start = Self.uniform(0...(frames - size), &rng)
                for index in start * width..<(start + size) * width { values[index] = 0 }
            }
        }
    }

    /// Uniform in `range` from the generator's next number (the modulo's bias is below 2^-40
    /// for the ranges met here).
    static func uniform(_ range: ClosedRange<Int>, _ rng: inout SplitMix64) -> Int {
        range.lowerBound + Int(rng.next() % UInt64(range.count))
    }

    // Decoding takes the defaults for fields a file leaves out.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        frequencyMasks = try container.decodeIfPresent(Int.self, forKey: .frequencyMasks) ?? frequencyMasks
        maxFrequencyWidth = try container.decodeIfPresent(Int.self, forKey: .maxFrequencyWidth) ?? maxFrequencyWidth
        timeMasks = try container.decodeIfPresent(Int.self, forKey: .timeMasks) ?? timeMasks
        maxTimeWidth = try container.decodeIfPresent(Int.self, forKey: .maxTimeWidth) ?? maxTimeWidth
        maxTimeFraction = try container.decodeIfPresent(Double.self, forKey: .maxTimeFraction) ?? maxTimeFraction
        melBins = try container.decodeIfPresent(Int.self, forKey: .melBins) ?? melBins
    }
}
