import XCTest
@testable import Recurrent

/// Mean/variance normalisation and SpecAugment on real features.
final class FeatureNormalizationTests: XCTestCase {
    func foxtrotFeatures() throws -> Tensor {
        try Filterbank(FilterbankOptions(sampleRate: 8000)).features(AudioFixtures.clip("foxtrot-8k.wav").samples)
    }

    /// Each column's mean and population standard deviation, in Double.
    func columnStatistics(_ features: Tensor) -> (mean: [Double], deviation: [Double]) {
        let (rows, width) = (features.shape[0], features.shape[1])
        let columns = (0..<width).map { column in (0..<rows).map { Double(features.scalars[$0 * width + column]) } }
        let means = columns.map { $0.reduce(0, +) / Double(rows) }
        let deviations = zip(columns, means).map { column, mean in (column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(rows)).squareRoot() }
        return (means, deviations)
    }

    func testPerUtteranceGivesZeroMeanAndUnitDeviation() throws {
        let original = try foxtrotFeatures()
        var features = original
        let statistics = FeatureNormalization.normalizePerUtterance(&features)
        let (mean, deviation) = columnStatistics(original)
        for column in 0..<40 {
            XCTAssertEqual(Double(statistics.mean[column]), mean[column], accuracy: 1e-5)
            XCTAssertEqual(Double(statistics.standardDeviation[column]), deviation[column], accuracy: 1e-5 * deviation[column])
        }
        let (after, afterDeviation) = columnStatistics(features)
        XCTAssertLessThan(after.map(abs).max() ?? 1, 1e-6)
        XCTAssertLessThan(afterDeviation.map { abs($0 - 1) }.max() ?? 1, 1e-5)
        XCTAssertEqual(features.scalars[5 * 40 + 7], (original.scalars[5 * 40 + 7] - statistics.mean[7]) / statistics.standardDeviation[7])
    }

    func testGlobalStatisticsOverUtterancesAndEdgeCases() throws {
        let whole = try foxtrotFeatures()
        let first = Tensor(shape: [50, 40], scalars: Array(whole.scalars[0..<2000]))
        let second = Tensor(shape: [45, 40], scalars: Array(whole.scalars[2000...]))
        var accumulator = FeatureStatisticsAccumulator(featureCount: 40)
        try accumulator.add(first)
        try accumulator.add(second)
        XCTAssertEqual(accumulator.frameCount, 95)
        let global = accumulator.statistics, direct = FeatureStatistics(of: whole)
        XCTAssertLessThan(largestDifference(global.mean, direct.mean), 1e-6)
        XCTAssertLessThan(largestDifference(global.standardDeviation, direct.standardDeviation), 1e-6)
        // Fixed statistics give what per-utterance normalisation gives with the same numbers.
        var fixed = whole, own = whole
        try FeatureNormalization.normalize(&fixed, with: direct)
        FeatureNormalization.normalizePerUtterance(&own)
        XCTAssertEqual(fixed, own)
        XCTAssertThrowsError(try accumulator.add(Tensor(zeros: [3, 80])))
        XCTAssertThrowsError(try FeatureNormalization.normalize(&fixed, with: FeatureStatistics(of: Tensor(zeros: [2, 80])))) { error in
            XCTAssertEqual("\(error)", "shape mismatch: feature statistics for 80 features (80 deviations) cannot normalize features of shape [95, 40]")
        }
        // A constant column maps to 0; no rows change nothing.
        var constant = Tensor(shape: [3, 2], scalars: [-15.94, 1, -15.94, 2, -15.94, 3])
        FeatureNormalization.normalizePerUtterance(&constant)
        XCTAssertEqual(constant.scalars.enumerated().filter { $0.offset % 2 == 0 }.map(\.element), [0, 0, 0])
        var empty = Tensor(zeros: [0, 40])
        XCTAssertEqual(FeatureNormalization.normalizePerUtterance(&empty).standardDeviation, [Float](repeating: 1, count: 40))
    }

    func testSpecAugmentMasksBandsAndStretchesWithinItsBounds() throws {
        let features = try foxtrotFeatures()
        let augment = SpecAugment(frequencyMasks: 1, maxFrequencyWidth: 15, timeMasks: 1, maxTimeWidth: 40, maxTimeFraction: 0.2)
        var widths: [Int: Int] = [:]
        var timeWidths: [Int: Int] = [:]
        for seed in 0..<2000 {
            var rng = SplitMix64(seed: UInt64(seed))
            var masked = features
            augment.apply(to: &masked, using: &rng)
            // Zeroed columns (whole, every frame) and zeroed rows (whole, every bin).
            let zeroColumns = (0..<40).filter { column in (0..<95).allSatisfy { masked.scalars[$0 * 40 + column] == 0 } }
            let zeroRows = (0..<95).filter { row in masked.scalars[row * 40..<row * 40 + 40].allSatisfy { $0 == 0 } }
            widths[zeroColumns.count, default: 0] += 1
            timeWidths[zeroRows.count, default: 0] += 1
            XCTAssertEqual(zeroColumns, zeroColumns.isEmpty ? [] : Array(zeroColumns[0]...zeroColumns.last!), "one band")
            // Everything outside the masks is untouched.
            for index in masked.scalars.indices where !zeroColumns.contains(index % 40) && !zeroRows.contains(index / 40) {
                XCTAssertEqual(masked.scalars[index], features.scalars[index])
            }
        }
        // Widths uniform in 0...15 bins and 0...min(40, 0.2 * 95 = 19) frames, both ends included.
        XCTAssertEqual(widths.keys.sorted(), Array(0...15))
        XCTAssertEqual(timeWidths.keys.sorted(), Array(0...19))
        XCTAssertEqual(Double(widths.map { $0.key * $0.value }.reduce(0, +)) / 2000, 7.5, accuracy: 0.4)
    }

    func testSpecAugmentIsSeededAndMasksEveryDeltaBlock() throws {
        var options = FilterbankOptions(sampleRate: 8000)
        options.deltaOrder = 2
        let features = try Filterbank(options).features(AudioFixtures.clip("foxtrot-8k.wav").samples)
        let augment = SpecAugment(frequencyMasks: 2, maxFrequencyWidth: 10, timeMasks: 0, melBins: 40)
        var a = features, b = features, c = features
        var rng1 = SplitMix64(seed: 7), rng2 = SplitMix64(seed: 7), rng3 = SplitMix64(seed: 8)
        augment.apply(to: &a, using: &rng1)
        augment.apply(to: &b, using: &rng2)
        augment.apply(to: &c, using: &rng3)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        let zeroColumns = (0..<120).filter { column in (0..<95).allSatisfy { a.scalars[$0 * 120 + column] == 0 } }
        let inFirstBlock = zeroColumns.filter { $0 < 40 }
        XCTAssertFalse(inFirstBlock.isEmpty)
        XCTAssertEqual(zeroColumns, inFirstBlock + inFirstBlock.map { $0 + 40 } + inFirstBlock.map { $0 + 80 })
        XCTAssertThrowsError(try SpecAugment(timeMasks: -1).validate())
        XCTAssertEqual(try JSONDecoder().decode(SpecAugment.self, from: Data(#"{"timeMasks": 3}"#.utf8)), SpecAugment(timeMasks: 3))
    }
}
