import Foundation
import XCTest
@testable import Recurrent

/// The Bernoulli and mixture density heads against PyTorch (Fixtures/heads/heads.json, from
/// make_head_references.py: the mixture written with torch.distributions), against finite
/// differences, and their sampling against the distributions they sample.
final class OutputHeadTests: XCTestCase {
    struct HeadCase: Decodable {
        let name: String
        let head: String
        let components: Int?
        let penStates: String?
        let shape: [Int]
        let output: [Double]
        let targets: [Double]
        let mask: [Double]?
        let value: Double
        let gradient: [Double]
    }

    struct HeadFile: Decodable { let cases: [HeadCase] }

    private func loadCases() throws -> [HeadCase] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "heads", withExtension: "json", subdirectory: "Fixtures/heads"))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(HeadFile.self, from: Data(contentsOf: url)).cases
    }

    private func loss(of c: HeadCase, _ output: Variable) throws -> Variable {
        let lead = Array(c.shape.dropLast())
        let mask = c.mask.map { Tensor(shape: lead, scalars: $0.map(Float.init)) }
        if c.head == "bernoulli" {
            let targets = Tensor(shape: c.shape, scalars: c.targets.map(Float.init))
            return try BernoulliHead(unitCount: c.shape.last ?? 0).negativeLogLikelihood(logits: output, targets: targets, mask: mask)
        }
        let head = MixtureDensityHead(componentCount: try XCTUnwrap(c.components),
                                      penStates: c.penStates == "stroke5" ? .stroke5 : .endOfStroke)
        let targets = Tensor(shape: lead + [head.targetWidth], scalars: c.targets.map(Float.init))
        return try head.negativeLogLikelihood(output: output, targets: targets, mask: mask)
    }

    func testHeadsMatchPyTorch() throws {
        let cases = try loadCases()
        XCTAssertEqual(cases.count, 7)
        for c in cases {
            let output = Variable(Tensor(shape: c.shape, scalars: c.output.map(Float.init)), requiresGrad: true)
            let value = try loss(of: c, output)
            XCTAssertEqual(value.shape, [], c.name)
            assertTrainingClose(value.value.scalars, [c.value], "\(c.name) value")
            value.backward()
            assertTrainingClose(try XCTUnwrap(output.grad).scalars, c.gradient, "\(c.name) gradient")
        }
    }

    func testHeadGradientsByFiniteDifferences() throws {
        for c in try loadCases() {
            let output = Variable(Tensor(shape: c.shape, scalars: c.output.map(Float.init)), requiresGrad: true)
            checkGradients(of: [output], epsilon: 3e-3, tolerance: 2e-3) {
                (try? self.loss(of: c, output)) ?? Variable(Tensor(.nan))
            }
        }
    }

    /// An upstream gradient other than 1 scales every slope (the loss inside a larger sum).
    func testMixtureGradientScalesWithUpstream() throws {
        let c = try XCTUnwrap(loadCases().first { $0.head == "mixture" })
        let output = Variable(Tensor(shape: c.shape, scalars: c.output.map(Float.init)), requiresGrad: true)
        try loss(of: c, output).backward(seed: Tensor(2.5))
        assertTrainingClose(try XCTUnwrap(output.grad).scalars, c.gradient.map { $0 * 2.5 }, "scaled gradient")
    }

    func testFullyMaskedBatchGivesZero() throws {
        let head = MixtureDensityHead(componentCount: 2)
        let output = Variable(Tensor(repeating: 0.3, shape: [2, 3, head.outputSize]), requiresGrad: true)
        let targets = Tensor(repeating: 0, shape: [2, 3, 5])
        let value = try head.negativeLogLikelihood(output: output, targets: targets, mask: Tensor(zeros: [2, 3]))
        XCTAssertEqual(value.value.scalar, 0)
        value.backward()
        XCTAssertEqual(output.grad?.scalars.allSatisfy { $0 == 0 }, true)
    }

    func testHeadsRefuseMismatchedShapes() {
        let head = MixtureDensityHead(componentCount: 2)
        let output = Variable(Tensor(zeros: [2, 3, head.outputSize]))
        XCTAssertThrowsError(try head.negativeLogLikelihood(output: output, targets: Tensor(zeros: [2, 3, 3]))) { error in
            XCTAssertTrue("\(error)".contains("targets [2, 3, 3] should be [2, 3, 5]"), "\(error)")
        }
        XCTAssertThrowsError(try head.negativeLogLikelihood(output: Variable(Tensor(zeros: [2, 3, 7])), targets: Tensor(zeros: [2, 3, 5])))
        XCTAssertThrowsError(try head.negativeLogLikelihood(output: output, targets: Tensor(zeros: [2, 3, 5]), mask: Tensor(zeros: [3, 2])))
        var bad = Tensor(zeros: [2, 3, 5])
        bad.scalars[4] = .nan
        XCTAssertThrowsError(try head.negativeLogLikelihood(output: output, targets: bad)) { error in
            XCTAssertTrue("\(error)".contains("flat index 4"), "\(error)")
        }
        XCTAssertThrowsError(try BernoulliHead(unitCount: 4).negativeLogLikelihood(logits: Variable(Tensor(zeros: [2, 5])), targets: Tensor(zeros: [2, 5])))
    }

    // MARK: - Sampling

    func testBernoulliSamplingFollowsProbabilities() {
        let head = BernoulliHead(unitCount: 4)
        let logits: [Float] = [-2, 0, 1.5, 4]
        var rng = SplitMix64(seed: 5)
        var counts = [Int](repeating: 0, count: 4)
        let draws = 20_000
        for _ in 0..<draws {
            for (unit, on) in head.sample(logits: logits, using: &rng).enumerated() where on { counts[unit] += 1 }
        }
        for (unit, logit) in logits.enumerated() {
            let expected = 1 / (1 + exp(-Double(logit)))
            XCTAssertEqual(Double(counts[unit]) / Double(draws), expected, accuracy: 0.012, "unit \(unit)")
        }
        // A low temperature pushes each unit towards its likelier value; the cap keeps the most probable.
        let cold = head.probabilities(logits: logits, temperature: 0.25)
        XCTAssertLessThan(cold[0], 0.001)
        XCTAssertGreaterThan(cold[2], 0.99)
        for _ in 0..<200 {
            let capped = head.sample(logits: [5, 6, 7, -9], maximumOn: 2, using: &rng)
            XCTAssertLessThanOrEqual(capped.filter { $0 }.count, 2)
            XCTAssertFalse(capped[3])
        }
    }

    func testMixtureSamplingFollowsTheDistribution() {
        let head = MixtureDensityHead(componentCount: 2)
        // Component 0: weight e^1 / (e^1 + e^0) = 0.731, mean (1, -2), σ (0.5, 2), ρ tanh(0.8);
        // component 1: mean (-3, 0.5), σ (1, 0.25), ρ tanh(-0.5). Pen logits favour "down".
        let row: [Float] = [1, 0, 1, -3, -2, 0.5, log(0.5), 0, log(2), log(0.25), 0.8, -0.5, 2, 0, -1]
        let distribution = head.distribution(row)
        var rng = SplitMix64(seed: 11)
        let draws = 40_000
        var sumX = 0.0, sumY = 0.0, penCounts = [0, 0, 0]
        for _ in 0..<draws {
            let (dx, dy, pen) = distribution.sample(using: &rng)
            sumX += dx; sumY += dy; penCounts[pen] += 1
        }
        let w0 = exp(1.0) / (exp(1.0) + 1)
        XCTAssertEqual(sumX / Double(draws), w0 * 1 + (1 - w0) * -3, accuracy: 0.03)
        XCTAssertEqual(sumY / Double(draws), w0 * -2 + (1 - w0) * 0.5, accuracy: 0.04)
        let penExpected = [exp(2.0), 1, exp(-1.0)].map { $0 / (exp(2.0) + 1 + exp(-1.0)) }
        for k in 0..<3 { XCTAssertEqual(Double(penCounts[k]) / Double(draws), penExpected[k], accuracy: 0.01) }
        // One component alone: its samples have the covariance ρ σx σy, and the end-of-stroke
        // flag comes up with probability sigmoid(ê).
        let single = MixtureDensityHead(componentCount: 1, penStates: .endOfStroke)
            .distribution([0, 1, -2, log(0.5), log(2), 0.8, -1] as [Float])
        var covariance = 0.0, ends = 0
        for _ in 0..<draws {
            let (dx, dy, pen) = single.sample(using: &rng)
            covariance += (dx - 1) * (dy + 2)
            ends += pen
        }
        XCTAssertEqual(covariance / Double(draws), tanh(0.8) * 0.5 * 2, accuracy: 0.03)
        XCTAssertEqual(Double(ends) / Double(draws), 1 / (1 + exp(1.0)), accuracy: 0.01)
        // Temperature: σ scales by √τ, the weights sharpen.
        let cold = head.distribution(row, temperature: 0.25)
        XCTAssertEqual(cold.deviationX[0], 0.25, accuracy: 1e-6)
        XCTAssertGreaterThan(cold.weights[0], 0.98)
    }
}
