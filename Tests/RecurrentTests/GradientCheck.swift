import XCTest
@testable import Recurrent

/// Central finite differences for backward passes that no PyTorch fixture covers.
///
/// Tensors are Float32, so the check uses a step of `epsilon` (1e-2 by default, large enough to
/// rise above rounding) on smooth functions and compares within `tolerance` (2e-3; correct
/// backward passes of the recurrent layers land near 1e-4) relative to the
/// larger of the two gradients (floored at 1). A wrong backward is off by O(1), far outside it.
/// The loss is sum(output * weights) with fixed random weights, accumulated in Double.
func checkGradients(
    of variables: [Variable], epsilon: Float = 1e-2, tolerance: Float = 2e-3,
    file: StaticString = #filePath, line: UInt = #line,
    _ function: () -> Variable
) {
    var rng = SplitMix64(seed: 99)
    let probe = function()
    let weights = Tensor.uniform(shape: probe.value.shape, low: -1, high: 1, using: &rng)
    func loss() -> Double {
        let output = GradientMode.withoutRecording { function() }.value
        var total = 0.0
        for (value, weight) in zip(output.scalars, weights.scalars) { total += Double(value) * Double(weight) }
        return total
    }
    for variable in variables { variable.grad = nil }
    function().backward(seed: weights)
    for (index, variable) in variables.enumerated() {
        guard let analytic = variable.grad else {
            XCTFail("variable \(index) received no gradient", file: file, line: line)
            continue
        }
        var worst: Float = 0
        var worstAt = 0
        for position in 0..<variable.value.count {
            let original = variable.value.scalars[position]
            variable.value.scalars[position] = original + epsilon
            let plus = loss()
            variable.value.scalars[position] = original - epsilon
            let minus = loss()
            variable.value.scalars[position] = original
            let numeric = Float((plus - minus) / Double(2 * epsilon))
            let difference = abs(numeric - analytic.scalars[position]) / max(1, abs(numeric), abs(analytic.scalars[position]))
            if difference > worst { worst = difference; worstAt = position }
        }
        if ProcessInfo.processInfo.environment["SHOW_DIFF"] != nil { print("fd", index, worst) }
        XCTAssertLessThan(worst, tolerance,
            "variable \(index) \(variable.value.shape): largest relative difference \(worst) at \(worstAt)",
            file: file, line: line)
    }
}
