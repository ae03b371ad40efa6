import CRecurrentKernels
import Foundation

/// The cell-specific part of a recurrent step: gate nonlinearities, the state update and their
/// derivatives. The time loop, lengths and the weight gradients live in `SequenceKernel`.
protocol CellKernel {
    /// G: blocks of H rows in W_ih and W_hh.
    var gateCount: Int { get }
    /// S: values per hidden unit kept per step for the backward pass.
    var savedWidth: Int { get }
    var hasCellState: Bool { get }
    /// Whether d(W_hh h) differs from d(W_ih x) (GRU), so it needs a buffer of its own.
    var separateHiddenGradient: Bool { get }
    /// The cell's kind for the fused C step (rk_recurrent_forward), or nil when its forward
    /// runs through `forwardStep`.
    var fusedCell: Int32? { get }
    /// Advances the active rows by one step: state.hidden (and state.cell) become the new state.
    func forwardStep(_ step: StepContext)
    /// Turns dL/dh (and dL/dc) of the active rows after step t into the gate gradients of step t
    /// and dL/dh (dL/dc) before it. Inactive rows pass through untouched.
    func backwardStep(_ step: BackwardContext)
    /// Whether dW_hh needs the saved cell values besides the states entering each step.
    var hiddenWeightGradientReadsCellValues: Bool { get }
    /// dW_hh += the gradient from the steps of one backward window: `rows` rows of the gate
    /// gradients [rows, G*H], of the states entering those steps [rows, H] and, when
    /// `hiddenWeightGradientReadsCellValues`, of the saved cell values [rows, S*H].
    func accumulateHiddenWeightGradient(rows: Int, hidden: Int, dGateHidden: UnsafePointer<Float>,
                                        hiddenBefore: UnsafePointer<Float>, cellValues: UnsafePointer<Float>?,
                                        into dW: UnsafeMutablePointer<Float>)
}

extension CellKernel {
    var hiddenWeightGradientReadsCellValues: Bool { false }

    func accumulateHiddenWeightGradient(rows: Int, hidden: Int, dGateHidden: UnsafePointer<Float>,
                                        hiddenBefore: UnsafePointer<Float>, cellValues: UnsafePointer<Float>?,
                                        into dW: UnsafeMutablePointer<Float>) {
        let width = gateCount * hidden
        Kernels.gemm(transA: true, m: width, n: hidden, k: rows, dGateHidden, lda: width,
                     hiddenBefore, ldb: hidden, beta: 1, dW, ldc: hidden)
    }
}

/// Pointers for one forward step at time t.
struct StepContext {
    let kernel: SequenceKernel
    let t: Int
    let active: [Int]
    let saved: SequenceKernel.Saved
    let gateInputs: UnsafeMutablePointer<Float>   // [B*T, G*H] x W_ih^T + b_ih
    let state: StateBuffers
    let hiddenWeight: UnsafePointer<Float>   // W_hh [G*H, H]
    let hiddenBias: UnsafePointer<Float>     // b_hh [G*H]

    var hidden: Int { kernel.hidden }
    func row(_ b: Int) -> Int { b * kernel.time + t }
    /// x_t W_ih^T + b_ih of row b: [G*H].
    func gateInput(_ b: Int) -> UnsafeMutablePointer<Float> { gateInputs + row(b) * kernel.gateWidth }
    func cellValues(_ b: Int) -> UnsafeMutablePointer<Float> { saved.cellValues.pointer + row(b) * kernel.cell.savedWidth * hidden }
    func hiddenBefore(_ b: Int) -> UnsafeMutablePointer<Float> { saved.hiddenBefore.pointer + row(b) * hidden }
    /// The recurrent product h W_hh^T of row b (no bias): [G*H].
    func recurrent(_ b: Int) -> UnsafeMutablePointer<Float> { state.scratch.pointer + b * kernel.gateWidth }

    /// scratch[:, columns] = h W_hh[rows of those columns]^T for all rows.
    func projectHidden(columns: Range<Int>) {
        let width = kernel.gateWidth
        Kernels.gemm(transB: true, m: kernel.batch, n: columns.count, k: hidden, state.hidden.pointer, lda: hidden,
                     hiddenWeight + columns.lowerBound * hidden, ldb: hidden,
                     state.scratch.pointer + columns.lowerBound, ldc: width)
    }
}

/// Pointers for one backward step at time t; state holds dL/dh and dL/dc. The gate gradients
/// cover the steps of `window` only.
struct BackwardContext {
    let kernel: SequenceKernel
    let t: Int
    let window: StepWindow
    let active: [Int]
    let saved: SequenceKernel.Saved
    let state: StateBuffers
    let dGateInputs: UnsafeMutablePointer<Float>   // [B * window.length, G*H]
    let dGateHidden: UnsafeMutablePointer<Float>   // [B * window.length, G*H]
    let hiddenWeight: UnsafePointer<Float>

    var hidden: Int { kernel.hidden }
    func row(_ b: Int) -> Int { b * kernel.time + t }
    func cellValues(_ b: Int) -> UnsafeMutablePointer<Float> { saved.cellValues.pointer + row(b) * kernel.cell.savedWidth * hidden }
    func hiddenBefore(_ b: Int) -> UnsafeMutablePointer<Float> { saved.hiddenBefore.pointer + row(b) * hidden }
    func dGateInput(_ b: Int) -> UnsafeMutablePointer<Float> { dGateInputs + window.row(b, t) * kernel.gateWidth }
    func dGateHiddenRow(_ b: Int) -> UnsafeMutablePointer<Float> { dGateHidden + window.row(b, t) * kernel.gateWidth }

    /// dL/dh[b] += dGate[b, columns] W_hh[columns] for all rows (inactive rows add zero).
    func backProjectHidden(_ gradient: UnsafePointer<Float>, columns: Range<Int>, into target: UnsafeMutablePointer<Float>) {
        let width = kernel.gateWidth
        Kernels.gemm(m: kernel.batch, n: hidden, k: columns.count, gradient + window.row(0, t) * width + columns.lowerBound,
                     lda: window.length * width, hiddenWeight + columns.lowerBound * hidden, ldb: hidden,
                     beta: 1, target, ldc: hidden)
    }
}


// MARK: - Elman

/// h' = act(W_ih x + b_ih + W_hh h + b_hh). Saves h' (S = 1): both derivatives follow from it.
struct ElmanKernel: CellKernel {
    let relu: Bool
    var gateCount: Int { 1 }
    var savedWidth: Int { 1 }
    var hasCellState: Bool { false }
    var separateHiddenGradient: Bool { false }
    var fusedCell: Int32? { Int32(relu ? RK_CELL_ELMAN_RELU : RK_CELL_ELMAN_TANH) }

    func forwardStep(_ step: StepContext) {
        let hidden = step.hidden
        step.projectHidden(columns: 0..<hidden)
        for b in step.active {
            let gx = step.gateInput(b), gh = step.recurrent(b), h = step.state.hidden.pointer + b * hidden
            let out = step.cellValues(b)
            for j in 0..<hidden { out[j] = gx[j] + gh[j] + step.hiddenBias[j] }
            if relu {
                for j in 0..<hidden { out[j] = max(out[j], 0) }
            } else {
                rk_tanh(out, out, Int64(hidden))
            }
            h.update(from: out, count: hidden)
        }
    }

    func backwardStep(_ step: BackwardContext) {
        let hidden = step.hidden
        for b in step.active {
            let dh = step.state.hidden.pointer + b * hidden, out = step.cellValues(b), dPre = step.dGateInput(b)
            for j in 0..<hidden {
                let derivative = relu ? (out[j] > 0 ? 1 : 0) : 1 - out[j] * out[j]
                dPre[j] = dh[j] * derivative
                dh[j] = 0
            }
        }
        step.backProjectHidden(step.dGateHidden, columns: 0..<hidden, into: step.state.hidden.pointer)
    }
}

// MARK: - LSTM

/// Gates i|f|g|o (PyTorch's order): c' = f*c + i*g, h' = o*tanh(c').
/// Saves inputGate, forgetGate, cellCandidate, outputGate and tanh(c') (S = 5).
struct LSTMKernel: CellKernel {
    var gateCount: Int { 4 }
    var savedWidth: Int { 5 }
    var hasCellState: Bool { true }
    var separateHiddenGradient: Bool { false }
    var fusedCell: Int32? { Int32(RK_CELL_LSTM) }

    func forwardStep(_ step: StepContext) {
        let H = step.hidden
        step.projectHidden(columns: 0..<4 * H)
        guard let cellState = step.state.cell else { return }
        for b in step.active {
            let gx = step.gateInput(b), gh = step.recurrent(b), bias = step.hiddenBias
            let h = step.state.hidden.pointer + b * H, c = cellState.pointer + b * H, s = step.cellValues(b)
            // The gates are activated in place in the saved row: i|f|g|o, then tanh(c').
            for j in 0..<4 * H { s[j] = gx[j] + gh[j] + bias[j] }
            rk_sigmoid(s, s, Int64(2 * H))
            rk_tanh(s + 2 * H, s + 2 * H, Int64(H))
            rk_sigmoid(s + 3 * H, s + 3 * H, Int64(H))
            let squashed = s + 4 * H
            for j in 0..<H { c[j] = s[H + j] * c[j] + s[j] * s[2 * H + j] }
            rk_tanh(c, squashed, Int64(H))
            for j in 0..<H { h[j] = s[3 * H + j] * squashed[j] }
        }
    }

    func backwardStep(_ step: BackwardContext) {
        let H = step.hidden
        guard let cellGradient = step.state.cell, let cellBefore = step.saved.cellBefore else { return }
        for b in step.active {
            let dh = step.state.hidden.pointer + b * H, dc = cellGradient.pointer + b * H
            let s = step.cellValues(b), cPrev = cellBefore.pointer + step.row(b) * H, dGate = step.dGateInput(b)
            for j in 0..<H {
                let inputGate = s[j], forgetGate = s[H + j], cellCandidate = s[2 * H + j]
                let outputGate = s[3 * H + j], squashed = s[4 * H + j]
                let dCell = dc[j] + dh[j] * outputGate * (1 - squashed * squashed)
                dGate[j] = dCell * cellCandidate * inputGate * (1 - inputGate)
                dGate[H + j] = dCell * cPrev[j] * forgetGate * (1 - forgetGate)
                dGate[2 * H + j] = dCell * inputGate * (1 - cellCandidate * cellCandidate)
                dGate[3 * H + j] = dh[j] * squashed * outputGate * (1 - outputGate)
                dc[j] = dCell * forgetGate
                dh[j] = 0
            }
        }
        step.backProjectHidden(step.dGateHidden, columns: 0..<4 * H, into: step.state.hidden.pointer)
    }
}

// MARK: - GRU

/// Gates r|z|n (PyTorch's order), h' = (1 - z) * n + z * h.
/// Reset after (PyTorch): n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); saves r, z, n, W_hn h + b_hn.
/// Reset before (Keras reset_after=False, ONNX): n = tanh(W_in x + b_in + W_hn (r * h) + b_hn);
/// saves r, z, n, r * h.
struct GRUKernel: CellKernel {
    let resetAfter: Bool
    var gateCount: Int { 3 }
    var savedWidth: Int { 4 }
    var hasCellState: Bool { false }
    var separateHiddenGradient: Bool { true }
    /// The reset-before form needs r * h of every unit before its product: it runs in Swift.
    var fusedCell: Int32? { resetAfter ? Int32(RK_CELL_GRU) : nil }

    func forwardStep(_ step: StepContext) {
        let H = step.hidden, bias = step.hiddenBias
        step.projectHidden(columns: 0..<(resetAfter ? 3 * H : 2 * H))
        for b in step.active {
            let gx = step.gateInput(b), gh = step.recurrent(b), h = step.state.hidden.pointer + b * H
            let s = step.cellValues(b)
            for j in 0..<2 * H { s[j] = gx[j] + gh[j] + bias[j] }
            rk_sigmoid(s, s, Int64(2 * H))
            for j in 0..<H { s[3 * H + j] = resetAfter ? gh[2 * H + j] + bias[2 * H + j] : s[j] * h[j] }
        }
        if !resetAfter {
            // W_hn (r * h) for all rows at once; rows that are not active read zeros.
            let width = 3 * H, savedRow = 4 * H
            Kernels.gemm(transB: true, m: step.kernel.batch, n: H, k: H,
                         step.saved.cellValues.pointer + step.t * savedRow + 3 * H, lda: step.kernel.time * savedRow,
                         step.hiddenWeight + 2 * H * H, ldb: H, step.state.scratch.pointer + 2 * H, ldc: width)
        }
        for b in step.active {
            let gx = step.gateInput(b), gh = step.recurrent(b), h = step.state.hidden.pointer + b * H
            let s = step.cellValues(b), candidate = s + 2 * H
            for j in 0..<H {
                let hiddenPart = resetAfter ? s[j] * s[3 * H + j] : gh[2 * H + j] + bias[2 * H + j]
                candidate[j] = gx[2 * H + j] + hiddenPart
            }
            rk_tanh(candidate, candidate, Int64(H))
            for j in 0..<H {
                let update = s[H + j]
                h[j] = (1 - update) * candidate[j] + update * h[j]
            }
        }
    }

    func backwardStep(_ step: BackwardContext) {
        let H = step.hidden
        for b in step.active {
            let dh = step.state.hidden.pointer + b * H, s = step.cellValues(b), hPrev = step.hiddenBefore(b)
            let dInput = step.dGateInput(b), dHidden = step.dGateHiddenRow(b)
            for j in 0..<H {
                let reset = s[j], update = s[H + j], candidate = s[2 * H + j]
                let dCandidate = dh[j] * (1 - update) * (1 - candidate * candidate)
                let dUpdate = dh[j] * (hPrev[j] - candidate) * update * (1 - update)
                dInput[H + j] = dUpdate; dHidden[H + j] = dUpdate
                dInput[2 * H + j] = dCandidate
                if resetAfter {
                    let dReset = dCandidate * s[3 * H + j] * reset * (1 - reset)
                    dInput[j] = dReset; dHidden[j] = dReset
                    dHidden[2 * H + j] = dCandidate * reset
                } else {
                    dHidden[2 * H + j] = dCandidate   // gradient of W_hn (r * h) + b_hn
                }
                dh[j] *= update
            }
        }
        if !resetAfter {
            // d(r * h) = dHidden_n W_hn, then split into r's and h's gradients.
            let dResetHidden = step.state.scratch.pointer   // [B, H] view of the scratch block
            dResetHidden.update(repeating: 0, count: step.kernel.batch * H)
            step.backProjectHidden(step.dGateHidden, columns: 2 * H..<3 * H, into: dResetHidden)
            for b in step.active {
                let dh = step.state.hidden.pointer + b * H, s = step.cellValues(b), hPrev = step.hiddenBefore(b)
                let dInput = step.dGateInput(b), dHidden = step.dGateHiddenRow(b), dRH = dResetHidden + b * H
                for j in 0..<H {
                    let reset = s[j]
                    let dReset = dRH[j] * hPrev[j] * reset * (1 - reset)
                    dInput[j] = dReset; dHidden[j] = dReset
                    dh[j] += dRH[j] * reset
                }
            }
            step.backProjectHidden(step.dGateHidden, columns: 0..<2 * H, into: step.state.hidden.pointer)
        } else {
            step.backProjectHidden(step.dGateHidden, columns: 0..<3 * H, into: step.state.hidden.pointer)
        }
    }

    /// Without reset-after, W_hn multiplies r * h, saved among the cell values.
    var hiddenWeightGradientReadsCellValues: Bool { !resetAfter }

    func accumulateHiddenWeightGradient(rows: Int, hidden H: Int, dGateHidden: UnsafePointer<Float>,
                                        hiddenBefore: UnsafePointer<Float>, cellValues: UnsafePointer<Float>?,
                                        into dW: UnsafeMutablePointer<Float>) {
        let width = 3 * H
        guard !resetAfter, let cellValues else {
            Kernels.gemm(transA: true, m: width, n: H, k: rows, dGateHidden, lda: width,
                         hiddenBefore, ldb: H, beta: 1, dW, ldc: H)
            return
        }
        Kernels.gemm(transA: true, m: 2 * H, n: H, k: rows, dGateHidden, lda: width,
                     hiddenBefore, ldb: H, beta: 1, dW, ldc: H)
        Kernels.gemm(transA: true, m: H, n: H, k: rows, dGateHidden + 2 * H, lda: width,
                     cellValues + 3 * H, ldb: 4 * H, beta: 1, dW + 2 * H * H, ldc: H)
    }
}
