import Foundation
import XCTest
@testable import Recurrent

/// Distribution heads against torch.distributions (Fixtures/distributions, made by
/// make_distribution_references.py) and against central differences in Double; the pinball loss,
/// CRPS and the samplers against their definitions.
final class DistributionHeadTests: XCTestCase {
    struct Case: Decodable {
        let name: String, kind: String, shape: [Int]
        let raw: [Double], targets: [Double], scales: [Double], seed: [Double], nll: [Double], gradient: [Double]
    }
    struct File: Decodable { let cases: [Case] }

    func loadCases() throws -> [Case] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "distributions", withExtension: "json", subdirectory: "Fixtures/distributions"))
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).cases
    }

    func testNegativeLogLikelihoodsAndGradientsMatchTorchDistributions() throws {
        let cases = try loadCases()
        XCTAssertEqual(cases.count, 6)
        for c in cases {
            let kind = try XCTUnwrap(DistributionKind(rawValue: c.kind))
            let raw = Variable(Tensor(shape: c.shape, scalars: c.raw.map(Float.init)), requiresGrad: true)
            let targets = Tensor(shape: [c.shape[0]], scalars: c.targets.map(Float.init))
            let scales = Tensor(shape: [c.shape[0]], scalars: c.scales.map(Float.init))
            let nll = try kind.negativeLogLikelihood(raw, targets, scales: scales, reduction: .none)
            assertTrainingClose(nll.value.scalars, c.nll, "\(c.name) value")
            nll.backward(seed: Tensor(shape: [c.shape[0]], scalars: c.seed.map(Float.init)))
            assertTrainingClose(try XCTUnwrap(raw.grad).scalars, c.gradient, tolerance: 1e-4, "\(c.name) gradient")
            // The mean reduction is the plain mean of the values.
            let mean = try kind.negativeLogLikelihood(Variable(raw.value), targets, scales: scales)
            XCTAssertEqual(Double(mean.value.scalar), c.nll.reduce(0, +) / Double(c.nll.count), accuracy: 1e-4 * max(1, abs(c.nll.reduce(0, +))))
        }
    }

    /// Every kind's gradient in Double against central differences in Double, at raw outputs
    /// where each parameter's map is far from flat and near zero, for unscaled and scaled values.
    func testElementGradientsMatchCentralDifferencesInDouble() {
        let points: [(SIMD4<Double>, Double, Double)] = [
            ([0.3, -0.7, 1.2, 0], 1.9, 1), ([-1.1, 0.4, -2.0, 0], -0.5, 1), ([2.5, 1.5, 0.1, 0], 7, 3.5),
            ([0.0, -3.0, 4.0, 0], 0.2, 0.25),
        ]
        for kind in DistributionKind.allCases {
            for (raw, value, scale) in points {
                let target = kind == .negativeBinomial ? (abs(value) * 3).rounded() : value
                let (_, analytic) = DistributionKind.elementNegativeLogLikelihood(kind, raw: raw, target: target, scale: scale)
                for k in 0..<kind.parameterCount {
                    let h = 1e-6
                    var plus = raw, minus = raw
                    plus[k] += h; minus[k] -= h
                    let numeric = (DistributionKind.elementNegativeLogLikelihood(kind, raw: plus, target: target, scale: scale).value
                        - DistributionKind.elementNegativeLogLikelihood(kind, raw: minus, target: target, scale: scale).value) / (2 * h)
                    XCTAssertEqual(analytic[k], numeric, accuracy: 1e-7 * max(1, abs(numeric)), "\(kind) raw \(raw) parameter \(k)")
                }
            }
        }
    }

    func testDigammaMatchesKnownValues() {
        // psi(1) = -Euler-Mascheroni, psi(1/2) = -gamma - 2 ln 2, psi(10) = H_9 - gamma.
        let euler = 0.57721566490153286
        XCTAssertEqual(digamma(1), -euler, accuracy: 1e-12)
        XCTAssertEqual(digamma(0.5), -euler - 2 * log(2), accuracy: 1e-12)
        XCTAssertEqual(digamma(10), (1...9).reduce(0) { $0 + 1 / Double($1) } - euler, accuracy: 1e-12)
    }

    func testMaskedMeanCountsOnlyTheRowsThatCount() throws {
        let raw = Variable(Tensor(shape: [2, 2, 2], scalars: [0, 0, 1, 0, 5, 5, 9, 9]), requiresGrad: true)
        let targets = Tensor(shape: [2, 2], scalars: [0.5, 1, 2, 3])
        let mask = Tensor(shape: [2, 2], scalars: [1, 1, 0, 0])
        let masked = try DistributionKind.gaussian.negativeLogLikelihood(raw, targets, mask: mask)
        let kept = try DistributionKind.gaussian.negativeLogLikelihood(
            Variable(Tensor(shape: [2, 2], scalars: [0, 0, 1, 0])), Tensor(shape: [2], scalars: [0.5, 1]))
        XCTAssertEqual(masked.value.scalar, kept.value.scalar, accuracy: 1e-6)
        masked.backward()
        XCTAssertEqual(Array(try XCTUnwrap(raw.grad).scalars.suffix(4)), [0, 0, 0, 0], "padding gets no gradient")
        XCTAssertThrowsError(try DistributionKind.negativeBinomial.negativeLogLikelihood(raw, Tensor(shape: [2, 2], scalars: [1, 2.5, 3, 4])))
        XCTAssertThrowsError(try DistributionKind.studentT.negativeLogLikelihood(raw, targets), "Student-t needs 3 raw outputs")
    }

    func testPinballLossValuesAndGradients() throws {
        // y = 1, predictions 0 (below) and 3 (above) at levels 0.1 and 0.9.
        let prediction = Variable(Tensor(shape: [1, 2], scalars: [0, 3]), requiresGrad: true)
        let loss = try pinballLoss(prediction, Tensor(shape: [1], scalars: [1]), levels: [0.1, 0.9])
        XCTAssertEqual(loss.value.scalar, Float((0.1 * 1 + 0.1 * 2) / 2), accuracy: 1e-7)
        loss.backward()
        XCTAssertEqual(try XCTUnwrap(prediction.grad).scalars, [-0.05, 0.05])
        var rng = SplitMix64(seed: 4)
        let p = Variable(Tensor.normal(shape: [3, 4, 3], using: &rng), requiresGrad: true)
        let y = Tensor.normal(shape: [3, 4], using: &rng)
        checkGradients(of: [p], epsilon: 1e-3) { (try? pinballLoss(p, y, levels: [0.1, 0.5, 0.95], mask: Tensor(shape: [3], scalars: [1, 0, 2]))) ?? p }
        XCTAssertThrowsError(try pinballLoss(p, y, levels: [0.1, 1, 0.5]))
    }

    /// Minimizing the pinball loss over a constant finds the sample quantile.
    func testPinballMinimizerIsTheQuantile() {
        var rng = SplitMix64(seed: 11)
        let values = (0..<2001).map { _ in rng.standardNormal() }
        let sorted = values.sorted()
        for level in [0.1, 0.5, 0.9] {
            let best = sorted.min { a, b in
                values.reduce(0) { $0 + pinball(prediction: a, truth: $1, level: level).value }
                    < values.reduce(0) { $0 + pinball(prediction: b, truth: $1, level: level).value }
            } ?? .nan
            XCTAssertEqual(best, sorted[Int(level * 2000)], accuracy: 1e-12, "level \(level)")
            XCTAssertEqual(ProbabilisticScores.quantile(sorted: sorted, level: level), sorted[Int(level * 2000)], accuracy: 1e-12)
        }
    }

    func testCRPSOfSamplesApproachesTheGaussianClosedForm() {
        var rng = SplitMix64(seed: 3)
        let samples = (0..<40000).map { _ in 2 + 0.5 * rng.standardNormal() }
        for truth in [2.0, 2.7, -1] {
            XCTAssertEqual(ProbabilisticScores.crps(samples: samples, truth: truth),
                           ProbabilisticScores.gaussianCRPS(mean: 2, standardDeviation: 0.5, truth: truth), accuracy: 5e-3, "\(truth)")
        }
        XCTAssertEqual(ProbabilisticScores.crps(samples: [4], truth: 1), 3, "one sample: the absolute error")
        // Quantiles at 99 even levels give nearly the same score.
        let levels = (1...99).map { Double($0) / 100 }, sorted = samples.sorted()
        let quantiles = levels.map { ProbabilisticScores.quantile(sorted: sorted, level: $0) }
        XCTAssertEqual(ProbabilisticScores.quantileCRPS(quantiles: [quantiles], levels: levels, truths: [2.7]),
                       ProbabilisticScores.gaussianCRPS(mean: 2, standardDeviation: 0.5, truth: 2.7), accuracy: 0.01)
    }

    /// Samples have the distributions' means and variances (Student-t: s^2 nu / (nu - 2);
    /// negative binomial: mu + alpha mu^2).
    func testSamplesHaveTheDistributionsMoments() {
        var rng = SplitMix64(seed: 8)
        let cases: [(DistributionParameters, Double, Double)] = [
            (DistributionParameters(kind: .gaussian, raw: [1.5, 0.2]), 1.5, pow(softplus(0.2) + 1e-6, 2)),
            (DistributionParameters(kind: .studentT, raw: [-1, 0, 3]), -1, pow(softplus(0) + 1e-6, 2) * (2 + softplus(3)) / softplus(3)),
            (DistributionParameters(kind: .negativeBinomial, raw: [2, -1], scale: 10), 10 * (softplus(2) + 1e-6), 0),
            (DistributionParameters(kind: .negativeBinomial, raw: [5, -2], scale: 40), 40 * (softplus(5) + 1e-6), 0),
        ]
        for (parameters, mean, knownVariance) in cases {
            let draws = (0..<100_000).map { _ in parameters.sample(using: &rng) }
            let sampleMean = draws.reduce(0, +) / Double(draws.count)
            let sampleVariance = draws.reduce(0) { $0 + ($1 - sampleMean) * ($1 - sampleMean) } / Double(draws.count - 1)
            let variance = parameters.kind == .negativeBinomial ? mean + parameters.values[1] * mean * mean : knownVariance
            XCTAssertEqual(parameters.mean, mean, accuracy: 1e-9)
            XCTAssertEqual(sampleMean, mean, accuracy: 4 * (variance / Double(draws.count)).squareRoot(), "\(parameters)")
            XCTAssertEqual(sampleVariance / variance, 1, accuracy: 0.06, "\(parameters)")
            if parameters.kind == .negativeBinomial { XCTAssertTrue(draws.allSatisfy { $0 >= 0 && $0 == $0.rounded() }) }
        }
    }
}
