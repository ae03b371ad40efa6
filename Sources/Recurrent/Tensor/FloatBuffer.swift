/// Scratch memory for kernels: a fixed-size, zeroed block of floats freed with its owner.
/// Kernels use it where nested `withUnsafe...` closures over many arrays would hide the logic.
final class FloatBuffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { pointer.deallocate() }

    /// Copies the values out as a tensor of `shape`.
    func tensor(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, scalars: Array(UnsafeBufferPointer(start: pointer, count: count)))
    }

    func zero() { pointer.update(repeating: 0, count: count) }
}

/// Runs `body` with stable pointers to the values of every tensor (a valid pointer even for
/// empty ones), without copying them.
func withPointers<R>(_ tensors: [Tensor], _ body: ([UnsafePointer<Float>]) -> R) -> R {
    var pointers: [UnsafePointer<Float>] = []
    pointers.reserveCapacity(tensors.count)
    func descend(_ index: Int) -> R {
        if index == tensors.count { return body(pointers) }
        return tensors[index].scalars.withUnsafeBufferPointer { buffer in
            pointers.append(buffer.baseAddress ?? UnsafePointer(emptyPlaceholder))
            return descend(index + 1)
        }
    }
    return descend(0)
}

nonisolated(unsafe) private let emptyPlaceholder = UnsafeMutablePointer<Float>.allocate(capacity: 1)
