import Foundation
import XCTest
@testable import Recurrent

/// The Python that has onnx and onnxruntime: $RECURRENT_ONNX_PYTHON (set by .ci/run), else the
/// venvs scripts/onnx-env.sh and the shared benchmarks make, else python3.
let onnxPython: String = {
    let environment = ProcessInfo.processInfo.environment
    if let python = environment["RECURRENT_ONNX_PYTHON"], !python.isEmpty { return python }
    let home = FileManager.default.homeDirectoryForCurrentUser.path
    for venv in ["recurrent-onnx", "recurrent-anchors"] where FileManager.default.isExecutableFile(atPath: "\(home)/.cache/\(venv)/bin/python") {
        return "\(home)/.cache/\(venv)/bin/python"
    }
    return "python3"
}()

let onnxRuntimeAvailable: Bool = ONNXComparison.pythonHasONNXRuntime(onnxPython)

func skipUnlessONNXRuntime() throws {
    guard onnxRuntimeAvailable else {
        throw XCTSkip("\(onnxPython) cannot import onnx, onnxruntime, numpy and safetensors (.ci/run installs them with scripts/onnx-env.sh)")
    }
}

/// A layer with parameters drawn away from PyTorch's initialization, so that every weight and
/// bias matters (seeded: the same model every run).
func randomized<L: Layer>(_ layer: L, seed: UInt64) -> L {
    var generator = SplitMix64(seed: seed)
    for (_, parameter) in layer.namedParameters {
        parameter.value = .uniform(shape: parameter.value.shape, low: -0.6, high: 0.6, using: &generator)
    }
    return layer
}

extension XCTestCase {
    /// Exports `model`, runs every graph in ONNX Runtime (after onnx.checker's full check) on
    /// random inputs (variable lengths where the graph takes them) and compares with Recurrent's
    /// outputs. Returns the largest difference.
    @discardableResult
    func assertONNXRuntimeMatches(_ model: Model, options: ONNXExportOptions = ONNXExportOptions(), batch: Int = 3, time: Int = 6,
                                  directory: URL, file: StaticString = #filePath, line: UInt = #line) throws -> Float {
        let path = directory.appendingPathComponent("model.onnx").path
        let written = try ONNXExport.write(model, to: path, options: options)
        let graphs = try ONNXExport.graphs(model, options: options)
        var largest: Float = 0
        for (graph, graphPath) in zip(graphs, written) {
            let inputs = try ONNXExport.sampleInputs(model, role: graph.role, options: options, batch: batch, time: time, seed: 7)
            let expected = try ONNXExport.referenceOutputs(model, role: graph.role, inputs: inputs, options: options)
            XCTAssertEqual(Set(expected.keys), Set(graph.outputs.map(\.name)), "outputs of \(graph.role)", file: file, line: line)
            let actual = try ONNXComparison.runInONNXRuntime(model: graphPath, inputs: inputs, python: onnxPython).outputs
            let difference = try ONNXComparison.largestDifference(expected: expected, actual: actual)
            XCTAssertLessThanOrEqual(difference.relative, ONNXComparison.tolerance,
                                     "\(graph.role): output \(difference.output) differs by \(difference.relative)", file: file, line: line)
            largest = max(largest, difference.relative)
        }
        return largest
    }
}
