import CRecurrentKernels
import Foundation

/// Scratch memory for kernels: a fixed-size block of floats freed with its owner, zeroed unless
/// the caller is about to write every value itself.
/// Kernels use it where nested `withUnsafe...` closures over many arrays would hide the logic.
final class FloatBuffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int, zeroed: Bool = true) {
        _ = Memory.allocatorKeepsFreedMemory
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        if zeroed || Self.poisonsUnzeroed { pointer.initialize(repeating: zeroed ? 0 : .nan, count: max(count, 1)) }
    }

    /// Tests set this to fill the buffers that skip zeroing with NaN instead, so that any value
    /// a kernel fails to write shows in its results.
    nonisolated(unsafe) static var poisonsUnzeroed = false

    deinit { pointer.deallocate() }

    /// Copies the values out as a tensor of `shape`.
    func tensor(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, scalars: Array(UnsafeBufferPointer(start: pointer, count: count)))
    }

    func zero() { pointer.update(repeating: 0, count: count) }
}

/// The allocator's set-up for the kernels' buffers and the tensors between them.
enum Memory {
    /// Whether the C library's allocator was asked, at the first buffer, to keep freed memory
    /// for reuse (rk_keep_freed_memory). A training loop asks for the same buffers at every
    /// iteration; handing them back to the system and faulting them in again cost up to a
    /// third of a medium model's training step and half of its inference.
    static let allocatorKeepsFreedMemory = rk_keep_freed_memory() != 0
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
