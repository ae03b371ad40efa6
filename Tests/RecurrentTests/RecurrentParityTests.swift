import Foundation
import XCTest
@testable import Recurrent

/// Every recurrent layer kind against PyTorch: outputs within 1e-5 relative, gradients within 1e-4.
final class RecurrentParityTests: XCTestCase {
    static let fixtureNames = [
        "rnn_tanh", "rnn_relu", "lstm_1layer", "lstm_2layer", "lstm_bidirectional", "lstm_variable_length",
        "gru_1layer", "gru_bidirectional_2layer", "gru_variable_length_bidirectional",
    ]

    func testEveryFixtureMatchesPyTorch() throws {
        for name in Self.fixtureNames {
            let fixture = try TorchFixture(name: name)
            let layer = try fixture.makeLayer()
            let x = Variable(try fixture.tensor("x"), requiresGrad: true)
            let h0 = Variable(try fixture.tensor("h0"), requiresGrad: true)
            let c0 = fixture.isLSTM ? Variable(try fixture.tensor("c0"), requiresGrad: true) : nil
            let result = try layer.run(x, initialState: .init(hidden: h0, cell: c0), lengths: fixture.lengths)

            assertClose(result.output.value, try fixture.tensor("y"), tolerance: 1e-5, "\(name) y")
            assertClose(result.state.hidden.value, try fixture.tensor("h_n"), tolerance: 1e-5, "\(name) h_n")
            if let cell = result.state.cell { assertClose(cell.value, try fixture.tensor("c_n"), tolerance: 1e-5, "\(name) c_n") }

            // L = sum(y*gy) + sum(h_n*gh) (+ sum(c_n*gc)): seed each output with its weights.
            var outputs = [result.output, result.state.hidden]
            var seeds = [try fixture.tensor("gy"), try fixture.tensor("gh")]
            if let cell = result.state.cell { outputs.append(cell); seeds.append(try fixture.tensor("gc")) }
            let loss = weightedSum(outputs, seeds)
            loss.backward()

            assertClose(x.grad, try fixture.tensor("grad.x"), tolerance: 1e-4, "\(name) grad.x")
            assertClose(h0.grad, try fixture.tensor("grad.h0"), tolerance: 1e-4, "\(name) grad.h0")
            if let c0 { assertClose(c0.grad, try fixture.tensor("grad.c0"), tolerance: 1e-4, "\(name) grad.c0") }
            for (parameterName, parameter) in layer.namedParameters {
                assertClose(parameter.grad, try fixture.tensor("grad." + parameterName), tolerance: 1e-4, "\(name) grad.\(parameterName)")
            }
        }
    }
}

/// sum_k sum(outputs[k] * seeds[k]) as one recorded operation.
func weightedSum(_ outputs: [Variable], _ seeds: [Tensor]) -> Variable {
    var total = 0.0
    for (output, seed) in zip(outputs, seeds) {
        for (a, b) in zip(output.value.scalars, seed.scalars) { total += Double(a) * Double(b) }
    }
    return Variable.record(Tensor(Float(total)), inputs: outputs) { grad in seeds.map { $0 * grad.scalar } }
}

/// Compares within `tolerance` relative to max(1, |expected|) and reports the largest difference.
func assertClose(_ actual: Tensor?, _ expected: Tensor, tolerance: Float, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    guard let actual else { return XCTFail("\(what): no value", file: file, line: line) }
    guard actual.shape == expected.shape else {
        return XCTFail("\(what): shape \(actual.shape), expected \(expected.shape)", file: file, line: line)
    }
    var worst: Float = 0
    for (a, e) in zip(actual.scalars, expected.scalars) { worst = max(worst, abs(a - e) / max(1, abs(e))) }
    if ProcessInfo.processInfo.environment["SHOW_DIFF"] != nil { print(what, worst) }
    XCTAssertLessThanOrEqual(worst, tolerance, "\(what): largest relative difference \(worst)", file: file, line: line)
}
