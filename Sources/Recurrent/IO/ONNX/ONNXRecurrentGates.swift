/// The order of the gate blocks in the fused weight matrices, PyTorch's against ONNX's.
///
/// PyTorch (and Recurrent) stack LSTM rows as i|f|g|o and GRU rows as r|z|n; ONNX stacks LSTM as
/// i|o|f|c and GRU as z|r|h (c and h being PyTorch's g and n). An Elman layer has one block.
enum ONNXRecurrentGates {
    /// For each ONNX block, the PyTorch block it holds.
    static func torchBlockOfONNXBlock(_ cell: CellKind) -> [Int] {
        switch cell {
        case .rnn: return [0]
        case .lstm: return [0, 3, 1, 2]
        case .gru: return [1, 0, 2]
        }
    }

    /// Rows [G*H, ...] in PyTorch's gate order -> ONNX's.
    static func toONNX(_ tensor: Tensor, cell: CellKind) -> Tensor {
        permuteBlocks(tensor, order: torchBlockOfONNXBlock(cell))
    }

    /// Rows [G*H, ...] in ONNX's gate order -> PyTorch's.
    static func toTorch(_ tensor: Tensor, cell: CellKind) -> Tensor {
        let forward = torchBlockOfONNXBlock(cell)
        var inverse = forward
        for (onnxBlock, torchBlock) in forward.enumerated() { inverse[torchBlock] = onnxBlock }
        return permuteBlocks(tensor, order: inverse)
    }

    /// Block b of the result is block order[b] of `tensor`, blocks being equal slices of the
    /// first axis.
    private static func permuteBlocks(_ tensor: Tensor, order: [Int]) -> Tensor {
        let rowWidth = tensor.shape.dropFirst().reduce(1, *)
        let blockSize = tensor.count / order.count
        precondition(blockSize * order.count == tensor.count && blockSize % max(rowWidth, 1) == 0,
                     "gate blocks of \(tensor.shape) do not split into \(order.count)")
        var scalars: [Float] = []
        scalars.reserveCapacity(tensor.count)
        for block in order { scalars += tensor.scalars[(block * blockSize)..<((block + 1) * blockSize)] }
        return Tensor(shape: tensor.shape, scalars: scalars)
    }
}
