import XCTest
@testable import Recurrent

/// What the PyTorch fixtures do not cover: the reset-before GRU, bias-free layers, streaming,
/// truncated backpropagation through time and the checks on user input.
final class RecurrentLayerTests: XCTestCase {
    func randomInput(_ shape: [Int], seed: UInt64) -> Variable {
        var rng = SplitMix64(seed: seed)
        return Variable(Tensor.uniform(shape: shape, low: -1, high: 1, using: &rng), requiresGrad: true)
    }

    func testFiniteDifferencesForEveryCellWithoutFixture() {
        let cases: [RecurrentConfiguration] = [
            .init(cell: .gru, inputSize: 3, hiddenSize: 4, gruResetAfter: false),
            .init(cell: .gru, inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, gruResetAfter: false),
            .init(cell: .lstm, inputSize: 3, hiddenSize: 4, bias: false),
            .init(cell: .rnn, inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true, nonlinearity: .tanh),
        ]
        for (index, configuration) in cases.enumerated() {
            let layer = RecurrentLayer(configuration, seed: UInt64(index))
            let x = randomInput([2, 4, configuration.inputSize], seed: 7)
            let h0 = randomInput([configuration.numLayers * configuration.directions, 2, configuration.hiddenSize], seed: 8)
            let lengths = [4, 2]
            checkGradients(of: [x, h0] + layer.parameters) {
                let result = layer.forward(x, initialState: .init(hidden: h0, cell: nil), lengths: lengths)
                return Variable.concatenateLastAxis([result.output.select(0), result.output.select(1)])
            }
            checkGradients(of: [x, h0] + layer.parameters) {
                layer.forward(x, initialState: .init(hidden: h0, cell: nil), lengths: lengths).state.hidden
            }
        }
    }

    /// Inference keeps the layer's packed weights between calls; every way the weights change
    /// (an optimizer's step in place, an assignment, a training forward) gives the outputs of a
    /// layer that never packed them, bit for bit.
    func testInferenceRepacksWeightsThatChanged() throws {
        for cell in [CellKind.lstm, .gru, .rnn] {
            let configuration = RecurrentConfiguration(cell: cell, inputSize: 3, hiddenSize: 20, numLayers: 2, bidirectional: true)
            let layer = RecurrentLayer(configuration, seed: 1)
            let x = randomInput([4, 6, 3], seed: 2)
            func infer(_ layer: RecurrentLayer) -> [Float] { GradientMode.withoutRecording { layer(x) }.value.scalars }
            func fresh() -> [Float] {
                let copy = RecurrentLayer(configuration, seed: 9)
                for (target, source) in zip(copy.parameters, layer.parameters) { target.value = source.value }
                return infer(copy)
            }
            let first = infer(layer)
            XCTAssertTrue(infer(layer) == first, "\(cell): kept weights")
            // An optimizer's step, in place.
            let optimizer = try SGD(layer.parameters, learningRate: 0.5)
            let loss = layer(x).sum()
            loss.backward()
            optimizer.step()
            let stepped = infer(layer)
            XCTAssertTrue(stepped != first, "\(cell): the step changed nothing")
            XCTAssertTrue(stepped == fresh(), "\(cell): after an optimizer step")
            // An assignment of one recurrent weight of the second layer.
            let hidden = layer.parameters.first { $0.shape == [configuration.gateCount * 20, 20] && $0 !== layer.parameters[1] }!
            hidden.value = hidden.value * 0.5
            XCTAssertTrue(infer(layer) == fresh(), "\(cell): after an assignment")
            // In place, through the values' buffer.
            layer.parameters[0].value.withUnsafeMutableBufferPointer { $0[0] += 1 }
            XCTAssertTrue(infer(layer) == fresh(), "\(cell): after a change in place")
        }
    }

    func testResetBeforeDiffersFromResetAfter() {
        let after = RecurrentLayer(.init(cell: .gru, inputSize: 3, hiddenSize: 4, output: .sequence), seed: 1)
        let before = RecurrentLayer(.init(cell: .gru, inputSize: 3, hiddenSize: 4, gruResetAfter: false, output: .sequence), seed: 1)
        let x = randomInput([2, 5, 3], seed: 3)
        let difference = (after(x).value - before(x).value).maxAbs
        XCTAssertGreaterThan(difference, 1e-3, "the two GRU forms should differ on random weights")
    }

    func testStreamingStepsEqualTheWholeSequence() throws {
        for cell in CellKind.allCases {
            let layer = RecurrentLayer(.init(cell: cell, inputSize: 3, hiddenSize: 5, numLayers: 2), seed: 11)
            let x = randomInput([2, 6, 3], seed: 12).value
            let whole = try layer.run(Variable(x))
            var state: RecurrentLayer.State? = nil
            for t in 0..<6 {
                let stepInput = Tensor(shape: [2, 3], scalars: (0..<2).flatMap { b in x.scalars[(b * 6 + t) * 3..<(b * 6 + t + 1) * 3] })
                let (output, next) = try layer.step(stepInput, state: state)
                state = next
                let expected = Tensor(shape: [2, 5], scalars: (0..<2).flatMap { b in whole.output.value.scalars[(b * 6 + t) * 5..<(b * 6 + t + 1) * 5] })
                assertClose(output, expected, tolerance: 1e-6, "\(cell) step \(t)")
            }
            assertClose(state?.hidden.value, whole.state.hidden.value, tolerance: 1e-6, "\(cell) final state")
        }
    }

    func testStreamMatchesTheLayerStepBitForBit() throws {
        for cell in CellKind.allCases {
            let layer = RecurrentLayer(.init(cell: cell, inputSize: 3, hiddenSize: 5, numLayers: 2), seed: 21)
            let stream = try RecurrentStream(layer, batch: 2)
            var rng = SplitMix64(seed: 22)
            var state: RecurrentLayer.State? = nil
            for t in 0..<4 {
                let x = Tensor.uniform(shape: [2, 3], low: -1, high: 1, using: &rng)
                let (expected, next) = try layer.step(x, state: state)
                state = next
                XCTAssertEqual(try stream.step(x.scalars), expected.scalars, "\(cell) step \(t)")
            }
            XCTAssertEqual(stream.state.hidden.value, state?.hidden.value)
            stream.reset()
            XCTAssertEqual(stream.state.hidden.value.maxAbs, 0)
        }
        XCTAssertThrowsError(try RecurrentStream(LSTM(inputSize: 1, hiddenSize: 2, bidirectional: true)))
        XCTAssertThrowsError(try RecurrentStream(LSTM(inputSize: 1, hiddenSize: 2)).step([1, 2]))
    }

    func testTruncatedBackpropagationCarriesStateButNotGradient() throws {
        let layer = LSTM(inputSize: 2, hiddenSize: 3, returnSequences: true, seed: 5)
        let x = randomInput([1, 8, 2], seed: 6).value
        let first = Variable(Tensor(shape: [1, 4, 2], scalars: Array(x.scalars[0..<8])), requiresGrad: true)
        let second = Variable(Tensor(shape: [1, 4, 2], scalars: Array(x.scalars[8..<16])), requiresGrad: true)
        let whole = try layer.run(Variable(x))
        let chunk1 = try layer.run(first)
        let chunk2 = try layer.run(second, initialState: chunk1.state.detached())
        // State carried: the second chunk continues exactly where the whole sequence is.
        assertClose(chunk2.state.hidden.value, whole.state.hidden.value, tolerance: 1e-6, "carried state")
        // Gradient not carried: the loss on chunk 2 does not reach chunk 1's input.
        chunk2.output.backward(seed: Tensor(repeating: 1, shape: chunk2.output.shape))
        XCTAssertNotNil(second.grad)
        XCTAssertNil(first.grad)
    }

    func testBadInputIsAnErrorNamingTheTensor() {
        let layer = LSTM(inputSize: 3, hiddenSize: 4)
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(message { _ = try layer.run(Variable(Tensor(zeros: [2, 5, 2]))) }.contains("x is [2, 5, 2]"))
        XCTAssertTrue(message { _ = try layer.run(Variable(Tensor(zeros: [2, 5]))) }.contains("x is [2, 5]"))
        XCTAssertTrue(message { _ = try layer.run(Variable(Tensor(zeros: [2, 5, 3])), lengths: [5, 6]) }.contains("lengths[1] = 6"))
        XCTAssertTrue(message { _ = try layer.run(Variable(Tensor(zeros: [2, 5, 3])), lengths: [0, 5]) }.contains("lengths[0] = 0"))
        XCTAssertTrue(message { _ = try layer.run(Variable(Tensor(zeros: [2, 5, 3])), lengths: [5]) }.contains("lengths has 1"))
        XCTAssertTrue(message {
            _ = try layer.run(Variable(Tensor(zeros: [2, 5, 3])), initialState: .init(hidden: Variable(Tensor(zeros: [1, 3, 4]))))
        }.contains("h0 is [1, 3, 4]"))
        let bidirectional = LSTM(inputSize: 3, hiddenSize: 4, bidirectional: true)
        XCTAssertTrue(message { _ = try bidirectional.step(Tensor(zeros: [1, 3]), state: nil) }.contains("bidirectional"))
    }

    /// A sequence input (the same at every step, multiplied once per sequence) gives what the
    /// same values joined to every step give: outputs, states, and the gradients of x, of s and
    /// of every parameter, for every cell, one and two directions, varying lengths, the fused
    /// and the Swift steps, training and inference (whose kept packed weights differ in width).
    func testSequenceInputEqualsTheInputJoinedToEveryStep() throws {
        defer { SequenceKernel.fusedStepsEnabled = true }
        for fused in [true, false] {
            SequenceKernel.fusedStepsEnabled = fused
            for cell in [CellKind.lstm, .gru, .rnn] {
                for bidirectional in [false, true] {
                    let name = "\(cell), \(bidirectional ? "two directions" : "one"), \(fused ? "fused" : "Swift") steps"
                    let configuration = RecurrentConfiguration(cell: cell, inputSize: 3 + 2, hiddenSize: 6, numLayers: 2,
                                                               bidirectional: bidirectional, output: .sequence)
                    let layer = RecurrentLayer(configuration, seed: 4)
                    let x = randomInput([3, 5, 3], seed: 5), s = randomInput([3, 2], seed: 6)
                    let h0 = randomInput([configuration.numLayers * configuration.directions, 3, 6], seed: 7)
                    let state = RecurrentLayer.State(hidden: h0, cell: cell == .lstm ? randomInput(h0.shape, seed: 8) : nil)
                    let lengths = [5, 2, 4], seed = randomInput([3, 5, configuration.directions * 6], seed: 9).value
                    let checked = [x, s, h0] + layer.parameters
                    func gradients(_ result: RecurrentLayer.Result) -> [Tensor] {
                        for variable in checked { variable.grad = nil }
                        (result.output * Variable(seed)).sum().backward()
                        return checked.map { $0.grad ?? Tensor(zeros: $0.shape) }
                    }
                    let joined = try layer.run(Variable.concatenateLastAxis([x, s.repeatedSteps(5)]), initialState: state, lengths: lengths)
                    let joinedGradients = gradients(joined)
                    let apart = try layer.run(x, sequenceInput: s, initialState: state, lengths: lengths)
                    let apartGradients = gradients(apart)
                    func assertClose(_ a: Tensor, _ b: Tensor, _ what: String) {
                        XCTAssertEqual(a.shape, b.shape, "\(name): \(what)")
                        let worst = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
                        XCTAssertLessThan(worst, 1e-5, "\(name): \(what)")
                    }
                    assertClose(apart.output.value, joined.output.value, "y")
                    assertClose(apart.state.hidden.value, joined.state.hidden.value, "h_n")
                    if let c = apart.state.cell, let d = joined.state.cell { assertClose(c.value, d.value, "c_n") }
                    XCTAssertGreaterThan(apartGradients[1].maxAbs, 0, "\(name): s gets a gradient")
                    for (index, (a, b)) in zip(apartGradients, joinedGradients).enumerated() { assertClose(a, b, "gradient \(index)") }
                    // Inference, after an inference of the joined form packed the weights' full width.
                    let inferredJoined = GradientMode.withoutRecording {
                        layer.forward(Variable.concatenateLastAxis([x, s.repeatedSteps(5)]), initialState: state, lengths: lengths).output
                    }
                    let inferredApart = GradientMode.withoutRecording { layer.forward(x, sequenceInput: s, initialState: state, lengths: lengths).output }
                    assertClose(inferredApart.value, inferredJoined.value, "y in inference")
                    assertClose(inferredApart.value, apart.output.value, "y in inference and training")
                }
            }
        }
        // A quantized layer packs its weights whole: the sequence input joins every step there.
        for kind in [WeightQuantization.int8, .bf16] {
            let layer = RecurrentLayer(.init(cell: .lstm, inputSize: 5, hiddenSize: 6, output: .sequence), seed: 2)
            layer.quantize(kind)
            let x = randomInput([2, 4, 3], seed: 3), s = randomInput([2, 2], seed: 4)
            let (apart, joined) = GradientMode.withoutRecording {
                (layer.forward(x, sequenceInput: s, initialState: nil, lengths: [4, 3]).output.value,
                 layer.forward(Variable.concatenateLastAxis([x, s.repeatedSteps(4)]), initialState: nil, lengths: [4, 3]).output.value)
            }
            XCTAssertEqual(apart, joined, "\(kind)")
        }
        // Finite differences through the split weights, and the check on shapes.
        let layer = RecurrentLayer(.init(cell: .lstm, inputSize: 4, hiddenSize: 3, output: .sequence), seed: 1)
        let x = randomInput([2, 3, 1], seed: 2), s = randomInput([2, 3], seed: 3)
        checkGradients(of: [x, s] + layer.parameters) { layer.forward(x, sequenceInput: s, initialState: nil, lengths: [3, 2]).output }
        XCTAssertThrowsError(try layer.run(x, sequenceInput: randomInput([2, 2], seed: 4))) { error in
            XCTAssertTrue("\(error)".contains("sequence input [2, 2]"), "\(error)")
        }
        XCTAssertThrowsError(try layer.run(x, sequenceInput: randomInput([3, 3], seed: 4))) { error in
            XCTAssertTrue("\(error)".contains("sequence input [3, 3]"), "\(error)")
        }
    }

    func testJoiningOperationsGradients() {
        let a = randomInput([2, 3], seed: 1), b = randomInput([2, 2], seed: 2), c = randomInput([2, 3], seed: 3)
        checkGradients(of: [a, b]) { Variable.concatenateLastAxis([a, b]) }
        checkGradients(of: [a, c]) { Variable.stack([a, c]).select(1) }
        checkGradients(of: [b]) { b.repeatedSteps(3) }
    }
}
