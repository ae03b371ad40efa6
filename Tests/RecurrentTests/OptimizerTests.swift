import CRecurrentKernels
import Foundation
import XCTest
@testable import Recurrent

/// Optimizer trajectories, exported state and gradient clipping against PyTorch
/// (Fixtures/training/optimizers.json and clipping.json).
final class OptimizerTests: XCTestCase {
    struct Options: Decodable {
        let lr: Double
        let momentum: Double?
        let dampening: Double?
        let nesterov: Bool?
        let weightDecay: Double?
        let betas: [Double]?
        let eps: Double?
        let amsgrad: Bool?
        let alpha: Double?
        let centered: Bool?
    }

    struct OptimizerCase: Decodable {
        let name: String
        let optimizer: String
        let options: Options
        let learningRates: [Double]?
        let trajectory: [[TrainingTensorJSON]]
        let state: [String: TrainingTensorJSON]
    }

    struct OptimizerFile: Decodable {
        let initial: [TrainingTensorJSON]
        let gradients: [[TrainingTensorJSON?]]
        let cases: [OptimizerCase]
    }

    private func configuration(of c: OptimizerCase) throws -> OptimizerConfiguration {
        let o = c.options
        let beta1 = o.betas?.first ?? 0.9, beta2 = o.betas?.last ?? 0.999
        switch c.optimizer {
        case "sgd":
            return .sgd(learningRate: o.lr, momentum: o.momentum ?? 0, dampening: o.dampening ?? 0,
                        nesterov: o.nesterov ?? false, weightDecay: o.weightDecay ?? 0)
        case "adam":
            return .adam(learningRate: o.lr, beta1: beta1, beta2: beta2, epsilon: o.eps ?? 1e-8,
                         weightDecay: o.weightDecay ?? 0, amsgrad: o.amsgrad ?? false)
        case "adamw":
            return .adamW(learningRate: o.lr, beta1: beta1, beta2: beta2, epsilon: o.eps ?? 1e-8,
                          weightDecay: o.weightDecay ?? 1e-2, amsgrad: o.amsgrad ?? false)
        case "rmsprop":
            return .rmsprop(learningRate: o.lr, alpha: o.alpha ?? 0.99, epsilon: o.eps ?? 1e-8,
                            weightDecay: o.weightDecay ?? 0, momentum: o.momentum ?? 0, centered: o.centered ?? false)
        default:
            throw RecurrentError.invalidArgument("unknown optimizer \(c.optimizer) in the fixture")
        }
    }

    /// Runs steps `range` of the fixture's gradient sequence, comparing with PyTorch's parameters
    /// after every step.
    private func run(_ optimizer: any Optimizer, _ c: OptimizerCase, _ file: OptimizerFile, steps range: Range<Int>) {
        for step in range {
            if let rates = c.learningRates { optimizer.learningRate = rates[step] }
            for (parameter, gradient) in zip(optimizer.parameters, file.gradients[step]) {
                parameter.grad = gradient?.tensor
            }
            optimizer.step()
            for (index, parameter) in optimizer.parameters.enumerated() {
                assertTrainingClose(parameter.value.scalars, c.trajectory[step][index].values,
                                    "\(c.name) parameter \(index) after step \(step + 1)")
            }
        }
    }

    /// On every instruction set this CPU runs (Adam's update is a vector kernel).
    func testTrajectoriesAndStateMatchPyTorch() throws {
        let file = try TrainingFixtures.load("optimizers", as: OptimizerFile.self)
        XCTAssertEqual(file.cases.count, 14)
        XCTAssertNil(file.gradients[2][1], "the fixture leaves one gradient out to test skipping")
        defer { rk_force_isa(nil) }
        for isa in KernelTests.instructionSets {
            XCTAssertEqual(rk_force_isa(isa), 0)
            for c in file.cases {
                let parameters = file.initial.map { Variable($0.tensor, requiresGrad: true) }
                let optimizer = try configuration(of: c).makeOptimizer(for: parameters)
                run(optimizer, c, file, steps: 0..<file.gradients.count)
                let state = optimizer.exportState()
                XCTAssertEqual(Set(state.keys), Set(c.state.keys), c.name)
                for (name, expected) in c.state {
                    guard let tensor = state[name] else { continue }
                    XCTAssertEqual(tensor.shape, expected.shape, "\(c.name) \(name)")
                    assertTrainingClose(tensor.scalars, expected.values, "\(isa) \(c.name) state \(name)")
                }
            }
        }
    }

    /// Stopping after two steps, moving parameters and state to a new optimizer, and going on
    /// gives PyTorch's uninterrupted trajectory: the exported state is complete.
    func testImportedStateContinuesTheTrajectory() throws {
        let file = try TrainingFixtures.load("optimizers", as: OptimizerFile.self)
        for c in file.cases {
            let parameters = file.initial.map { Variable($0.tensor, requiresGrad: true) }
            let first = try configuration(of: c).makeOptimizer(for: parameters)
            run(first, c, file, steps: 0..<2)
            let copies = parameters.map { Variable($0.value, requiresGrad: true) }
            let second = try configuration(of: c).makeOptimizer(for: copies)
            try second.importState(first.exportState())
            second.learningRate = first.learningRate
            run(second, c, file, steps: 2..<file.gradients.count)
        }
    }

    func testImportRejectsForeignState() throws {
        let parameters = [Variable(Tensor(zeros: [2, 3]), requiresGrad: true)]
        let adam = try Adam(parameters)
        parameters[0].grad = Tensor(repeating: 1, shape: [2, 3])
        adam.step()
        let good = adam.exportState()
        var wrongShape = good
        wrongShape["0.exp_avg"] = Tensor(zeros: [3, 2])
        var unknownName = good
        unknownName["0.velocity"] = Tensor(zeros: [2, 3])
        var badIndex = good
        badIndex["1.exp_avg"] = Tensor(zeros: [2, 3])
        var missing = good
        missing["0.exp_avg_sq"] = nil
        var fractionalStep = good
        fractionalStep["0.step"] = Tensor(1.5)
        for state in [wrongShape, unknownName, badIndex, missing, fractionalStep] {
            XCTAssertThrowsError(try Adam(parameters).importState(state))
        }
        XCTAssertThrowsError(try Adam(parameters, amsgrad: true).importState(good), "AMSGrad needs max_exp_avg_sq")
        XCTAssertThrowsError(try SGD(parameters, learningRate: 0.1).importState(good), "Adam state is not SGD state")
        XCTAssertNoThrow(try Adam(parameters).importState(good))
    }

    func testZeroGradAndSkippedParameters() throws {
        let used = Variable(Tensor(repeating: 1, shape: [2]), requiresGrad: true)
        let unused = Variable(Tensor(repeating: 1, shape: [2]), requiresGrad: true)
        let optimizer = try AdamW([used, unused], learningRate: 0.1)
        used.grad = Tensor(shape: [2], scalars: [1, -1])
        optimizer.step()
        XCTAssertEqual(unused.value.scalars, [1, 1], "no gradient, no update, not even weight decay")
        XCTAssertEqual(optimizer.exportState().keys.filter { $0.hasPrefix("1.") }, [])
        optimizer.zeroGrad()
        XCTAssertNil(used.grad)
        XCTAssertNil(unused.grad)
    }

    func testInvalidHyperparametersThrow() {
        let parameters = [Variable(Tensor(zeros: [1]), requiresGrad: true)]
        XCTAssertThrowsError(try SGD(parameters, learningRate: -1))
        XCTAssertThrowsError(try SGD(parameters, learningRate: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true))
        XCTAssertThrowsError(try SGD(parameters, learningRate: 0.1, nesterov: true))
        XCTAssertThrowsError(try Adam(parameters, beta1: 1))
        XCTAssertThrowsError(try AdamW(parameters, weightDecay: -0.1))
        XCTAssertThrowsError(try RMSprop(parameters, alpha: 1.5))
    }

    func testConfigurationIsCodableAndBuildsTheRightOptimizer() throws {
        let configurations: [OptimizerConfiguration] = [
            .sgd(learningRate: 0.1, momentum: 0.9, nesterov: true), .adam(), .adamW(weightDecay: 0.05),
            .rmsprop(momentum: 0.5, centered: true),
        ]
        let decoded = try JSONDecoder().decode([OptimizerConfiguration].self, from: JSONEncoder().encode(configurations))
        XCTAssertEqual(decoded, configurations)
        let parameters = [Variable(Tensor(zeros: [1]), requiresGrad: true)]
        let built = try configurations.map { try $0.makeOptimizer(for: parameters) }
        XCTAssertTrue(built[0] is SGD)
        XCTAssertTrue(built[1] is Adam && !(built[1] is AdamW))
        XCTAssertEqual((built[2] as? AdamW)?.weightDecay, 0.05)
        XCTAssertEqual((built[3] as? RMSprop)?.centered, true)
        XCTAssertEqual(built.map(\.learningRate), [0.1, 1e-3, 1e-3, 1e-2])
    }

    // MARK: - Gradient clipping

    struct NormCase: Decodable {
        let maxNorm: Float
        let normType: String
        let totalNorm: Double
        let clipped: [TrainingTensorJSON]
    }

    struct ValueCase: Decodable {
        let limit: Float
        let clipped: [TrainingTensorJSON]
    }

    struct ClippingFile: Decodable {
        let gradients: [TrainingTensorJSON]
        let normCases: [NormCase]
        let valueCases: [ValueCase]
    }

    func testGradientClippingMatchesPyTorch() throws {
        let file = try TrainingFixtures.load("clipping", as: ClippingFile.self)
        func parametersWithGradients() -> [Variable] {
            file.gradients.map { gradient in
                let parameter = Variable(Tensor(zeros: gradient.shape), requiresGrad: true)
                parameter.grad = gradient.tensor
                return parameter
            }
        }
        for c in file.normCases {
            let parameters = parametersWithGradients()
            let normType = try XCTUnwrap(Float(c.normType), "norm type \(c.normType)")
            let norm = clipGradientNorm(parameters, maxNorm: c.maxNorm, normType: normType)
            assertTrainingClose([norm], [c.totalNorm], "norm for max \(c.maxNorm), type \(c.normType)")
            for (parameter, expected) in zip(parameters, c.clipped) {
                assertTrainingClose(parameter.grad?.scalars ?? [], expected.values, "clipped to \(c.maxNorm), type \(c.normType)")
            }
        }
        for c in file.valueCases {
            let parameters = parametersWithGradients()
            clipGradientValues(parameters, limit: c.limit)
            for (parameter, expected) in zip(parameters, c.clipped) {
                assertTrainingClose(parameter.grad?.scalars ?? [], expected.values, "clipped to values within \(c.limit)")
            }
        }
    }

    func testClippingSkipsMissingGradientsAndReportsNonFiniteNorms() {
        let without = Variable(Tensor(zeros: [2]), requiresGrad: true)
        XCTAssertEqual(clipGradientNorm([without], maxNorm: 1), 0)
        XCTAssertNil(without.grad)
        let broken = Variable(Tensor(zeros: [2]), requiresGrad: true)
        broken.grad = Tensor(shape: [2], scalars: [.infinity, 1])
        XCTAssertEqual(clipGradientNorm([broken, without], maxNorm: 1), .infinity)
        XCTAssertEqual(broken.grad?.scalars, [.infinity, 1], "left for the caller to skip the step")
    }
}
