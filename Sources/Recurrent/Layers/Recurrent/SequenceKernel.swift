import CRecurrentKernels
import Synchronization

/// One recurrent layer in one direction over a whole batch of sequences: the time loop, with a
/// fused forward and a fused backward (backpropagation through time), shared by every cell kind.
///
/// Shapes: B batch, T time, I input, H hidden, G gates per unit (1 rnn, 4 lstm, 3 gru),
/// S saved values per unit (cell specific). Buffers indexed by "row" r = b*T + t are batch-first,
/// like the input x [B, T, I], so the input projection of the whole sequence is ONE product.
///
/// Variable lengths: a sequence b takes part in steps t < lengths[b] only. At other steps its
/// state passes through unchanged and its output is zero, so the final state is the one at its
/// own last step, and a reverse direction starts there.
struct SequenceKernel {
    let batch: Int, time: Int, input: Int, hidden: Int
    let cell: CellKernel
    let lengths: [Int]
    let reverse: Bool

    var gateWidth: Int { cell.gateCount * hidden }

    /// Whether cells with a fused C step use it; tests turn it off to compare with the Swift steps.
    nonisolated(unsafe) static var fusedStepsEnabled = true

    /// The fused C step for this cell, if it has one and it is enabled.
    var fusedCell: Int32? { Self.fusedStepsEnabled ? cell.fusedCell : nil }

    /// The time index processed at position `k` of the loop.
    func timeAt(_ k: Int) -> Int { reverse ? time - 1 - k : k }

    func activeRows(at t: Int) -> [Int] { (0..<batch).filter { t < lengths[$0] } }

    /// What the forward pass keeps for the backward pass, all [B*T, ...] batch-first.
    final class Saved {
        let cellValues: FloatBuffer      // [B*T, S*H] activations the cell's backward needs
        let hiddenBefore: FloatBuffer    // [B*T, H] the state entering each step
        let cellBefore: FloatBuffer?     // [B*T, H] LSTM memory entering each step
        init(cellValues: FloatBuffer, hiddenBefore: FloatBuffer, cellBefore: FloatBuffer?) {
            self.cellValues = cellValues
            self.hiddenBefore = hiddenBefore
            self.cellBefore = cellBefore
        }
    }

    /// Pointers to the four weights: W_ih [G*H, I], W_hh [G*H, H], b_ih [G*H], b_hh [G*H].
    typealias WeightPointers = (inputWeight: UnsafePointer<Float>, hiddenWeight: UnsafePointer<Float>,
                                inputBias: UnsafePointer<Float>, hiddenBias: UnsafePointer<Float>)

    /// Runs the sequence. `weights`: W_ih [G*H, I], W_hh [G*H, H], b_ih [G*H], b_hh [G*H]
    /// (zeros when the layer has no bias). Returns y [B, T, H], h_n [B, H], c_n [B, H] (LSTM),
    /// and, when `saving` (training), what the backward pass needs. `packed`: the weights as
    /// `packWeights` gives them, when the caller keeps them (packed here otherwise).
    /// `sequenceGates` [B, G*H]: the input part of the gates that is the same at every step of
    /// a sequence (W_s s + b_ih for inputs s given once per sequence), in place of b_ih.
    func forward(x: Tensor, h0: Tensor, c0: Tensor?, weights: [Tensor], saving: Bool,
                 packed: PackedRecurrentWeights? = nil, sequenceGates: Tensor? = nil)
        -> (y: Tensor, hN: Tensor, cN: Tensor?, saved: Saved?)
    {
        // A cell without a fused step keeps its values in `saved` as it goes.
        let whole = StepWindow(begin: 0, end: time)
        let saved = saving || fusedCell == nil ? makeSaved(zeroed: false) : nil
        if let saved {
            clearUnwritten(saved.cellValues.pointer, width: cell.savedWidth * hidden, window: whole)
            clearUnwritten(saved.hiddenBefore.pointer, width: hidden, window: whole)
            if let cellBefore = saved.cellBefore { clearUnwritten(cellBefore.pointer, width: hidden, window: whole) }
        }
        let state = StateBuffers(batch: batch, hidden: hidden, gateWidth: gateWidth, hasCell: cell.hasCellState)
        let gateInputs = fusesInput ? nil : FloatBuffer(count: batch * time * gateWidth, zeroed: input == 0)
        let y = Tensor(shape: [batch, time, hidden]) { yp in
            guard let yBase = yp.baseAddress else { return }
            clearUnwritten(yBase, width: hidden, window: whole)
            withPointers([x, h0, c0 ?? Tensor(zeros: [0])] + weights + [sequenceGates ?? Tensor(zeros: [0])]) { p in
                state.hidden.pointer.update(from: p[1], count: batch * hidden)
                if let c = state.cell, c0 != nil { c.pointer.update(from: p[2], count: batch * hidden) }
                run(x: p[0], weights: (p[3], p[4], p[5], p[6]), gateInputs: gateInputs?.pointer, saved: saved, state: state,
                    y: yBase, packed: packed, sequenceGates: sequenceGates == nil ? nil : p[7])
            }
        }
        return (y, state.hidden.tensor([batch, hidden]), state.cell?.tensor([batch, hidden]), saving ? saved : nil)
    }

    /// Zeroes what the loops will leave unwritten in a buffer laid out [B, window, width] (row
    /// b * window.length + t - window.begin): everything for the Swift steps, which write as they
    /// go; for the fused loops, the rows (b, t) past each sequence's length, none when every
    /// sequence is full. A weight gradient multiplies those rows by zero slopes, and the outputs
    /// there are zero.
    func clearUnwritten(_ buffer: UnsafeMutablePointer<Float>, width: Int, window: StepWindow) {
        if fusedCell == nil {
            buffer.initialize(repeating: 0, count: batch * window.length * width)
            return
        }
        guard !writesEveryRow else { return }
        // Steps [length, T) are padding in either direction (a reverse one starts at length - 1).
        for b in 0..<batch {
            let first = max(window.begin, min(window.end, lengths[b]))
            guard first < window.end else { continue }
            (buffer + window.row(b, first) * width).initialize(repeating: 0, count: (window.end - first) * width)
        }
    }

    func makeSaved(zeroed: Bool = true) -> Saved {
        let rows = batch * time
        return Saved(
            cellValues: FloatBuffer(count: rows * cell.savedWidth * hidden, zeroed: zeroed),
            hiddenBefore: FloatBuffer(count: rows * hidden, zeroed: zeroed),
            cellBefore: cell.hasCellState ? FloatBuffer(count: rows * hidden, zeroed: zeroed) : nil)
    }

    /// Whether the fused loops write every row (b, t) of the outputs, the saved values and the
    /// gate gradients: when every sequence is full. Otherwise rows past a sequence's length stay
    /// as they are, and must start at zero (a weight gradient multiplies them by zero slopes).
    var writesEveryRow: Bool { fusedCell != nil && lengths.allSatisfy { $0 >= time } }

    /// Whether the fused step reads x itself, through W_ih packed beside W_hh, so that no gate
    /// inputs are computed beforehand: every cell with a fused step (GRU's candidate keeps the
    /// input part of its sum apart in the step).
    var fusesInput: Bool { fusedCell != nil }

    /// The weights the fused step reads: W_hh, with W_ih before it when `fusesInput`; their
    /// int8 or bfloat16 form when the layer is quantized.
    func packWeights(inputWeight: UnsafePointer<Float>, hiddenWeight: UnsafePointer<Float>,
                     quantized: QuantizedWeights? = nil) -> PackedRecurrentWeights {
        switch quantized {
        case let .int8(inputMatrix, hiddenMatrix)? where fusesInput:
            return PackedRecurrentWeights(gates: cell.gateCount, hidden: hidden, input: input, int8: (inputMatrix, hiddenMatrix))
        case .bf16? where fusesInput:
            return PackedRecurrentWeights(gates: cell.gateCount, hidden: hidden, input: input, bf16InputWeight: inputWeight, hiddenWeight: hiddenWeight)
        default: break
        }
        return PackedRecurrentWeights(gates: cell.gateCount, hidden: hidden, input: fusesInput ? input : 0,
                                      inputWeight: inputWeight, hiddenWeight: hiddenWeight)
    }

    /// The time loop on caller-owned memory: `state` holds h0 (and c0) on entry and h_n (and c_n)
    /// on exit; y [B, T, H] receives the outputs of active steps (the caller zeroes it once if
    /// lengths vary); gateInputs [B*T, G*H] is work space, needed unless `fusesInput`. `saved`
    /// may be nil only for a cell with a fused step; `packed` comes from `packWeights` (packed
    /// here when nil); `sequenceGates` [B, G*H] replaces b_ih (see `forward`).
    func run(x: UnsafePointer<Float>, weights: WeightPointers, gateInputs: UnsafeMutablePointer<Float>?,
             saved: Saved?, state: StateBuffers, y: UnsafeMutablePointer<Float>, packed: PackedRecurrentWeights? = nil,
             sequenceGates: UnsafePointer<Float>? = nil) {
        if let fused = fusedCell {
            let packed = packed ?? packWeights(inputWeight: weights.inputWeight, hiddenWeight: weights.hiddenWeight)
            var sequence = fusedSequence(fused, packed: packed, hiddenBias: weights.hiddenBias, state: state)
            // W_ih x is part of the step's product: the input part of the gates is b_ih alone
            // (strides 0), or one row per sequence.
            sequence.x = x
            (sequence.x_batch_stride, sequence.x_time_stride) = (Int64(time * input), Int64(input))
            sequence.gate_inputs = sequenceGates ?? weights.inputBias
            if sequenceGates != nil { sequence.gate_batch_stride = Int64(gateWidth) }
            sequence.output = y
            (sequence.output_batch_stride, sequence.output_time_stride) = (Int64(time * hidden), Int64(hidden))
            sequence.cell_values = saved?.cellValues.pointer
            sequence.hidden_before = saved?.hiddenBefore.pointer
            sequence.cell_before = saved?.cellBefore?.pointer
            withLengths { sequence.lengths = $0; rk_recurrent_forward(&sequence) }
            return
        }
        guard let saved, let gx = gateInputs else { return }
        projectInputs(x, weights, sequenceGates: sequenceGates, into: gx)
        let everyRow = Array(0..<batch)
        for k in 0..<time {
            let t = timeAt(k)
            let active = lengths.allSatisfy({ t < $0 }) ? everyRow : activeRows(at: t)
            if active.isEmpty { continue }
            for b in active {
                let r = b * time + t
                (saved.hiddenBefore.pointer + r * hidden).update(from: state.hidden.pointer + b * hidden, count: hidden)
                if let before = saved.cellBefore, let c = state.cell {
                    (before.pointer + r * hidden).update(from: c.pointer + b * hidden, count: hidden)
                }
            }
            cell.forwardStep(StepContext(kernel: self, t: t, active: active, saved: saved, gateInputs: gx, state: state,
                                         hiddenWeight: weights.hiddenWeight, hiddenBias: weights.hiddenBias))
            for b in active {
                (y + (b * time + t) * hidden).update(from: state.hidden.pointer + b * hidden, count: hidden)
            }
        }
    }

    /// x W_ih^T + b_ih (or each sequence's row of `sequenceGates`) for every step at once: [B*T, G*H].
    func projectInputs(_ x: UnsafePointer<Float>, _ weights: WeightPointers, sequenceGates: UnsafePointer<Float>?,
                       into gx: UnsafeMutablePointer<Float>) {
        let rows = batch * time, width = gateWidth
        Kernels.gemm(transB: true, m: rows, n: width, k: input, x, lda: input, weights.inputWeight, ldb: input, gx, ldc: width)
        guard let sequenceGates else { return addRowBias(weights.inputBias, to: gx, rows: rows, width: width) }
        for b in 0..<batch { addRowBias(sequenceGates + b * width, to: gx + b * time * width, rows: time, width: width) }
    }

    /// Runs `body` with the lengths as the C loops take them: nil when every sequence is full.
    func withLengths(_ body: (UnsafePointer<Int32>?) -> Void) {
        if lengths.allSatisfy({ $0 >= time }) { return body(nil) }
        lengths.map { Int32($0) }.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    /// The description of this sequence for the fused C loop, with the state and weights filled
    /// in; the caller sets the gate inputs, the output and what to save.
    func fusedSequence(_ fusedCell: Int32, packed: PackedRecurrentWeights, hiddenBias: UnsafePointer<Float>,
                       state: StateBuffers) -> rk_recurrent_sequence {
        var sequence = rk_recurrent_sequence()
        sequence.cell = fusedCell
        (sequence.batch, sequence.time, sequence.hidden) = (Int32(batch), Int32(time), Int32(hidden))
        sequence.input = Int32(packed.input)
        sequence.reverse = reverse ? 1 : 0
        sequence.packed = packed.buffer.map { UnsafePointer($0.pointer) }
        sequence.packed_int8 = packed.int8.map { UnsafePointer($0.pointer) }
        sequence.packed_scales = packed.int8.map { UnsafePointer($0.scales.pointer) }
        sequence.packed_bf16 = packed.bf16.map { UnsafePointer($0.pointer) }
        sequence.hidden_bias = hiddenBias
        sequence.hidden_state = state.hidden.pointer
        sequence.cell_state = state.cell?.pointer
        // The scratch block [B, G*H] is at least [B, H]: the second state buffer.
        sequence.hidden_spare = state.scratch.pointer
        sequence.threads = Int32(Parallel.threadCount)
        return sequence
    }

    /// Backpropagation through time. Takes the gradients of y, h_n and c_n (nil = zero) and
    /// returns those of x, h0, c0 (LSTM) and W_ih, W_hh, b_ih, b_hh; with `sequenceSums`, also
    /// each sequence's sum over its steps of the input part's gate gradients [B, G*H] (the
    /// gradient of `forward`'s `sequenceGates`).
    ///
    /// The gate gradients are held for one window of steps at a time (`backwardWindows`): each
    /// window's share of the weight gradients and of dL/dx is taken as soon as its steps are
    /// done, so a long sequence never holds [B*T, G*H] of them.
    func backward(x: Tensor, weights: [Tensor], saved: Saved, dY: Tensor?, dHN: Tensor?, dCN: Tensor?,
                  needsInputGradient: Bool = true, sequenceSums: Bool = false)
        -> (dX: Tensor?, dH0: Tensor, dC0: Tensor?, dWeights: [Tensor], dSequenceGates: Tensor?)
    {
        let width = gateWidth
        let windows = backwardWindows
        let windowRows = batch * (windows.map(\.length).max() ?? 0)
        let dGateInputs = FloatBuffer(count: windowRows * width, zeroed: false)
        // LSTM and Elman cells add x and h projections before the nonlinearity, so both get the
        // same gradient; GRU's candidate gate sees them apart.
        let dGateHidden = cell.separateHiddenGradient ? FloatBuffer(count: windowRows * width, zeroed: false) : dGateInputs
        // A single window is laid out like the whole sequence: x and the saved rows serve as they are.
        // Otherwise each window's rows are copied in (or, for dL/dx, written) before they are read.
        let gathers = windows.count > 1
        let xRows = gathers ? FloatBuffer(count: windowRows * input, zeroed: false) : nil
        let hiddenRows = gathers ? FloatBuffer(count: windowRows * hidden, zeroed: false) : nil
        let readsCellValues = cell.hiddenWeightGradientReadsCellValues
        let cellRows = gathers && readsCellValues ? FloatBuffer(count: windowRows * cell.savedWidth * hidden, zeroed: false) : nil
        let state = StateBuffers(batch: batch, hidden: hidden, gateWidth: width, hasCell: cell.hasCellState)
        var dWeightIH = Tensor(zeros: [width, input]), dWeightHH = Tensor(zeros: [width, hidden])
        let dBiasIH = FloatBuffer(count: width)
        // Cells whose two projections share their gate gradients share the bias gradients too.
        let dBiasHH = cell.separateHiddenGradient ? FloatBuffer(count: width) : dBiasIH
        // The input's gradient (as costly as W_ih's) only when something upstream needs it.
        var dX = needsInputGradient ? Tensor(zeros: [batch, time, input]) : nil
        let dSequenceGates = sequenceSums ? FloatBuffer(count: batch * width) : nil
        withPointers([x, dY ?? Tensor(zeros: [0]), dHN ?? Tensor(zeros: [0]), dCN ?? Tensor(zeros: [0])] + weights) { p in
            let (xp, dYp, dHNp, dCNp, wIH, wHH) = (p[0], p[1], p[2], p[3], p[4], p[5])
            if dHN != nil { state.hidden.pointer.update(from: dHNp, count: batch * hidden) }
            if let dc = state.cell, dCN != nil { dc.pointer.update(from: dCNp, count: batch * hidden) }
            let packed = fusedCell == nil ? nil : backwardPackedWeights(wHH)
            for window in windows {
                clearUnwritten(dGateInputs.pointer, width: width, window: window)
                if cell.separateHiddenGradient { clearUnwritten(dGateHidden.pointer, width: width, window: window) }
                runBackwardSteps(window, saved: saved, state: state, dY: dY == nil ? nil : dYp, hiddenWeight: wHH,
                                 packed: packed, dGateInputs: dGateInputs.pointer, dGateHidden: dGateHidden.pointer)
                // The products over the window take the rows of the sequences that reach it
                // (b * length + t - begin, contiguous from the first to the last): the others'
                // gate gradients are zeros, a sorted batch's padding.
                let reaching = window.sequencesReaching(lengths)
                guard !reaching.isEmpty else { continue }
                let first = reaching.lowerBound * window.length, rows = reaching.count * window.length
                let dG = UnsafePointer(dGateInputs.pointer + first * width), dGH = UnsafePointer(dGateHidden.pointer + first * width)
                let xw = (xRows.map { gather(xp, width: input, window: window, sequences: reaching, into: $0) } ?? xp) + first * input
                dWeightIH.withUnsafeMutableBufferPointer { dw in
                    Kernels.gemm(transA: true, m: width, n: input, k: rows, dG, lda: width, xw, ldb: input,
                                 beta: 1, dw.baseAddress!, ldc: input)
                }
                let savedWidth = cell.savedWidth * hidden
                let hw = (hiddenRows.map { gather(saved.hiddenBefore.pointer, width: hidden, window: window, sequences: reaching, into: $0) }
                    ?? UnsafePointer(saved.hiddenBefore.pointer)) + first * hidden
                let cw = readsCellValues
                    ? (cellRows.map { gather(saved.cellValues.pointer, width: savedWidth, window: window, sequences: reaching, into: $0) }
                        ?? UnsafePointer(saved.cellValues.pointer)) + first * savedWidth
                    : nil
                dWeightHH.withUnsafeMutableBufferPointer { dw in
                    cell.accumulateHiddenWeightGradient(rows: rows, hidden: hidden, dGateHidden: dGH, hiddenBefore: hw,
                                                        cellValues: cw, into: dw.baseAddress!)
                }
                Kernels.addColumnSums(dG, rows: rows, width: width, into: dBiasIH.pointer)
                if cell.separateHiddenGradient { Kernels.addColumnSums(dGH, rows: rows, width: width, into: dBiasHH.pointer) }
                if let sums = dSequenceGates?.pointer {
                    for b in reaching {
                        Kernels.addColumnSums(dGateInputs.pointer + b * window.length * width, rows: window.length, width: width,
                                              into: sums + b * width)
                    }
                }
                dX?.withUnsafeMutableBufferPointer { dx in
                    // The window's rows of dL/dx = dG W_ih, written in place (through xRows when
                    // gathering); the rows of sequences that do not reach it stay zero.
                    let target = xRows?.pointer ?? dx.baseAddress!
                    Kernels.gemm(m: rows, n: input, k: width, dG, lda: width, wIH, ldb: input, target + first * input, ldc: input)
                    if xRows != nil { scatter(target, width: input, window: window, sequences: reaching, into: dx.baseAddress!) }
                }
            }
        }
        return (dX, state.hidden.tensor([batch, hidden]), state.cell?.tensor([batch, hidden]),
                [dWeightIH, dWeightHH, dBiasIH.tensor([width]), dBiasHH.tensor([width])], dSequenceGates?.tensor([batch, width]))
    }

    /// Floats a backward window may hold (2 MB): its gate gradients and, when there is more than
    /// one window, its rows of x and of the saved states, copied out for the weight gradients.
    /// A window has at least 256 rows (batch x steps), so that those products stay efficient.
    static let backwardWindowFloats = 1 << 19

    /// Steps per backward window instead of the rule above, for tests.
    nonisolated(unsafe) static var forcedBackwardWindowSteps: Int?

    /// The windows of steps the backward pass takes in turn, in its order (last steps first, or
    /// first steps first in a reverse direction), over the steps some sequence reaches.
    var backwardWindows: [StepWindow] {
        let longest = min(time, lengths.max() ?? 0)
        guard longest > 0 else { return [] }
        let gateFloats = gateWidth * (cell.separateHiddenGradient ? 2 : 1)
        let copiedFloats = input + hidden + (cell.hiddenWeightGradientReadsCellValues ? cell.savedWidth * hidden : 0)
        let fitting = Self.backwardWindowFloats / max(1, batch * (gateFloats + copiedFloats))
        let steps = Self.forcedBackwardWindowSteps ?? max(1, fitting, (256 + batch - 1) / batch)
        // One window, laid out like the whole sequence, needs no copies: the better deal when
        // the whole sequence's gate gradients take less than a window with its copies would.
        if steps >= longest || (Self.forcedBackwardWindowSteps == nil && longest * gateFloats <= steps * (gateFloats + copiedFloats)) {
            return [StepWindow(begin: 0, end: time)]
        }
        let windows = stride(from: 0, to: longest, by: steps).map { StepWindow(begin: $0, end: min($0 + steps, longest)) }
        return reverse ? windows : windows.reversed()
    }

    /// Copies the window's rows of a whole-sequence buffer [B*T, width] into [B * length, width],
    /// those of `sequences` alone (the others' rows are left as they are).
    func gather(_ source: UnsafePointer<Float>, width: Int, window: StepWindow, sequences: Range<Int>,
                into target: FloatBuffer) -> UnsafePointer<Float> {
        let span = window.length * width, pointers = UncheckedSendable((source, target.pointer))
        Parallel.forEachRange(sequences.count, grain: max(1, Tensor.elementwiseGrain / max(1, span))) { range in
            let (source, target) = pointers.value
            for b in (range.lowerBound + sequences.lowerBound)..<(range.upperBound + sequences.lowerBound) {
                (target + b * span).update(from: source + (b * time + window.begin) * width, count: span)
            }
        }
        return UnsafePointer(target.pointer)
    }

    /// The reverse of `gather`: writes `sequences`' rows of [B * length, width] into the
    /// window's rows of [B*T, width].
    func scatter(_ source: UnsafePointer<Float>, width: Int, window: StepWindow, sequences: Range<Int>,
                 into target: UnsafeMutablePointer<Float>) {
        let span = window.length * width, pointers = UncheckedSendable((source, target))
        Parallel.forEachRange(sequences.count, grain: max(1, Tensor.elementwiseGrain / max(1, span))) { range in
            let (source, target) = pointers.value
            for b in (range.lowerBound + sequences.lowerBound)..<(range.upperBound + sequences.lowerBound) {
                (target + (b * time + window.begin) * width).update(from: source + b * span, count: span)
            }
        }
    }

    /// W_hh packed for the fused backward step.
    func backwardPackedWeights(_ hiddenWeight: UnsafePointer<Float>) -> FloatBuffer {
        let gates = Int32(cell.gateCount)
        let packed = FloatBuffer(count: Int(rk_recurrent_backward_packed_floats(gates, Int32(hidden))), zeroed: false)
        // Blocks of 64 units, G*H*64 floats each, split over the threads.
        let pointers = UncheckedSendable((hiddenWeight, packed.pointer)), hidden = Int32(hidden)
        Parallel.forEachRange((Int(hidden) + 63) / 64, grain: max(1, Tensor.elementwiseGrain / (Int(gates) * Int(hidden) * 64))) { range in
            rk_recurrent_pack_backward_blocks(gates, hidden, pointers.value.0, pointers.value.1, Int32(range.lowerBound), Int32(range.upperBound))
        }
        return packed
    }

    /// The backward time loop over one window: `state` holds dL/dh (and dL/dc) after the window
    /// on entry and before it on exit; the window's gate gradients [B * length, G*H] (zeros on
    /// entry) are filled in for active steps. `packed` is W_hh for the fused step.
    func runBackwardSteps(_ window: StepWindow, saved: Saved, state: StateBuffers, dY: UnsafePointer<Float>?,
                          hiddenWeight: UnsafePointer<Float>, packed: FloatBuffer?,
                          dGateInputs: UnsafeMutablePointer<Float>, dGateHidden: UnsafeMutablePointer<Float>) {
        if let fused = fusedCell, let packed {
            var sequence = rk_recurrent_backward_sequence()
            sequence.cell = fused
            (sequence.batch, sequence.time, sequence.hidden) = (Int32(batch), Int32(time), Int32(hidden))
            sequence.reverse = reverse ? 1 : 0
            (sequence.time_begin, sequence.time_end) = (Int32(window.begin), Int32(window.end))
            sequence.packed = UnsafePointer(packed.pointer)
            sequence.cell_values = UnsafePointer(saved.cellValues.pointer)
            sequence.hidden_before = UnsafePointer(saved.hiddenBefore.pointer)
            sequence.cell_before = saved.cellBefore.map { UnsafePointer($0.pointer) }
            sequence.output_gradient = dY
            sequence.hidden_gradient = state.hidden.pointer
            sequence.cell_gradient = state.cell?.pointer
            sequence.gate_gradient = dGateInputs
            sequence.hidden_gate_gradient = dGateHidden
            (sequence.gate_batch_stride, sequence.gate_time_stride) = (Int64(window.length * gateWidth), Int64(gateWidth))
            sequence.threads = Int32(Parallel.threadCount)
            withLengths { sequence.lengths = $0; rk_recurrent_backward(&sequence) }
            return
        }
        let steps = reverse ? Array(window.begin..<window.end) : Array((window.begin..<window.end).reversed())
        for t in steps {
            let active = activeRows(at: t)
            if active.isEmpty { continue }
            if let dY {
                for b in active {
                    let dh = state.hidden.pointer + b * hidden, dy = dY + (b * time + t) * hidden
                    for j in 0..<hidden { dh[j] += dy[j] }
                }
            }
            cell.backwardStep(BackwardContext(kernel: self, t: t, window: window, active: active, saved: saved, state: state,
                                              dGateInputs: dGateInputs, dGateHidden: dGateHidden, hiddenWeight: hiddenWeight))
        }
    }
}

/// W_ih [G*H, I + E] split for a sequence input s [B, E] (`RecurrentLayer.run`'s
/// `sequenceInput`): the steps' columns W_x [G*H, I], the sequence's W_s [G*H, E], and the
/// gates' input part W_s s + b_ih [B, G*H], which the time loop adds in place of b_ih.
struct SequenceInputWeights {
    let stepWeight: Tensor, sequenceWeight: Tensor, sequenceInput: Tensor, gates: Tensor

    init(inputWeight: Tensor, stepColumns: Int, sequenceInput: Tensor, inputBias: Tensor) {
        let (width, columns) = (inputWeight.shape[0], inputWeight.shape[1])
        let (batch, size) = (sequenceInput.shape[0], columns - stepColumns), w = inputWeight.scalars
        stepWeight = Tensor(shape: [width, stepColumns], scalars: (0..<width).flatMap { w[($0 * columns)..<($0 * columns + stepColumns)] })
        sequenceWeight = Tensor(shape: [width, size], scalars: (0..<width).flatMap { w[($0 * columns + stepColumns)..<(($0 + 1) * columns)] })
        self.sequenceInput = sequenceInput
        gates = withPointers([sequenceInput, sequenceWeight, inputBias]) { p in
            Tensor(shape: [batch, width]) { g in
                guard let g = g.baseAddress else { return }
                Kernels.gemm(transB: true, m: batch, n: width, k: size, p[0], lda: size, p[1], ldb: size, g, ldc: width)
                addRowBias(p[2], to: g, rows: batch, width: width)
            }
        }
    }

    /// W_ih's gradient [G*H, I + E] from the steps' part and each sequence's sum of its gate
    /// gradients S [B, G*H] (dW_s = S^T s), and the sequence input's, S W_s [B, E].
    func gradients(stepWeightGradient: Tensor, gateSums: Tensor) -> (inputWeight: Tensor, sequenceInput: Tensor) {
        let (width, stepColumns) = (stepWeight.shape[0], stepWeight.shape[1])
        let (batch, size) = (sequenceInput.shape[0], sequenceInput.shape[1]), columns = stepColumns + size
        return withPointers([gateSums, sequenceInput, sequenceWeight, stepWeightGradient]) { p in
            let sequenceWeightGradient = Tensor(shape: [width, size]) { d in
                guard let d = d.baseAddress else { return }
                Kernels.gemm(transA: true, m: width, n: size, k: batch, p[0], lda: width, p[1], ldb: size, d, ldc: size)
            }
            let inputGradient = Tensor(shape: [batch, size]) { d in
                guard let d = d.baseAddress else { return }
                Kernels.gemm(m: batch, n: size, k: width, p[0], lda: width, p[2], ldb: size, d, ldc: size)
            }
            let inputWeightGradient = sequenceWeightGradient.scalars.withUnsafeBufferPointer { ds in
                Tensor(shape: [width, columns]) { d in
                    for r in 0..<width {
                        for j in 0..<stepColumns { d[r * columns + j] = p[3][r * stepColumns + j] }
                        for j in 0..<size { d[r * columns + stepColumns + j] = ds[r * size + j] }
                    }
                }
            }
            return (inputWeightGradient, inputGradient)
        }
    }
}

/// Steps [begin, end) of a sequence whose gate gradients the backward pass holds together, rows
/// b * length + (t - begin).
struct StepWindow {
    let begin: Int, end: Int
    var length: Int { end - begin }
    func row(_ b: Int, _ t: Int) -> Int { b * length + (t - begin) }

    /// The sequences from the first to the last that takes part in a step of the window (its
    /// length beyond `begin`), empty when none does.
    func sequencesReaching(_ lengths: [Int]) -> Range<Int> {
        guard let first = lengths.firstIndex(where: { $0 > begin }), let last = lengths.lastIndex(where: { $0 > begin }) else {
            return 0..<0
        }
        return first..<(last + 1)
    }
}

/// The packed weights of one layer and direction (as much memory as W_ih and W_hh), kept
/// between inference calls while W_ih and W_hh stay as they were: charlm-medium's inference
/// 16% faster, large's 6%; dropped by a training forward, whose weights change each step.
final class PackedWeightCache: Sendable {
    private let entry = Mutex<(versions: (Int, Int), packed: PackedRecurrentWeights)?>(nil)

    /// The weights packed for `kernel`: those kept if W_ih and W_hh are at `versions`, else
    /// packed now (from the int8 or bfloat16 weights when the layer is quantized) and kept.
    func packed(for kernel: SequenceKernel, versions: (Int, Int), weights: [Tensor],
                quantized: QuantizedWeights? = nil) -> PackedRecurrentWeights? {
        guard kernel.fusedCell != nil else { return nil }
        return entry.withLock { entry -> PackedRecurrentWeights in
            // A layer with a sequence input packs the steps' columns of W_ih alone.
            if let kept = entry, kept.versions == versions, kept.packed.input == (kernel.fusesInput ? kernel.input : 0) {
                return kept.packed
            }
            let packed = withPointers([weights[0], weights[1]]) { p in
                kernel.packWeights(inputWeight: p[0], hiddenWeight: p[1], quantized: quantized)
            }
            entry = (versions, packed)
            return packed
        }
    }

    func drop() { entry.withLock { $0 = nil } }
}

/// W_hh, and W_ih before it when `input` > 0, packed by blocks of hidden units for the fused
/// step (rk_recurrent_pack), as floats, int8 or bfloat16 (RecurrentLayer+Quantization.swift).
final class PackedRecurrentWeights: @unchecked Sendable {  // never changed after init
    let input: Int
    let buffer: FloatBuffer?
    let int8: Int8Buffer?
    let bf16: BFloat16Buffer?

    init(input: Int, int8: Int8Buffer) {
        self.input = input
        buffer = nil
        self.int8 = int8
        bf16 = nil
    }

    init(input: Int, bf16: BFloat16Buffer) {
        self.input = input
        buffer = nil
        int8 = nil
        self.bf16 = bf16
    }

    init(gates: Int, hidden: Int, input: Int = 0, inputWeight: UnsafePointer<Float>? = nil,
         hiddenWeight: UnsafePointer<Float>) {
        self.input = input
        let buffer = FloatBuffer(count: Int(rk_recurrent_packed_floats(Int32(gates), Int32(hidden), Int32(input))), zeroed: false)
        // Blocks of units, (I + H) * G * U floats each, split over the threads.
        let units = Int(rk_recurrent_block_units(Int32(gates)))
        let pointers = UncheckedSendable((inputWeight, hiddenWeight, buffer.pointer))
        Parallel.forEachRange((hidden + units - 1) / units, grain: max(1, Tensor.elementwiseGrain / ((input + hidden) * gates * units))) { range in
            let (inputWeight, hiddenWeight, packed) = pointers.value
            rk_recurrent_pack_blocks(Int32(gates), Int32(hidden), Int32(input), inputWeight, hiddenWeight, packed,
                                     Int32(range.lowerBound), Int32(range.upperBound))
        }
        self.buffer = buffer
        int8 = nil
        bf16 = nil
    }
}

/// The running state of the time loop (values forward, gradients backward): [B, H] each, and a
/// [B, G*H] scratch row block for the recurrent product.
final class StateBuffers {
    let hidden: FloatBuffer
    let cell: FloatBuffer?
    let scratch: FloatBuffer
    init(batch: Int, hidden: Int, gateWidth: Int, hasCell: Bool) {
        self.hidden = FloatBuffer(count: batch * hidden)
        self.cell = hasCell ? FloatBuffer(count: batch * hidden) : nil
        self.scratch = FloatBuffer(count: batch * gateWidth)
    }
}

func addRowBias(_ bias: UnsafePointer<Float>, to matrix: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
    for r in 0..<rows {
        let row = matrix + r * width
        for j in 0..<width { row[j] += bias[j] }
    }
}
