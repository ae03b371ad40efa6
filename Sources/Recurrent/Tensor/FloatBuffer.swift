import Foundation

/// Scratch memory for kernels: a fixed-size, zeroed block of floats freed with its owner.
/// Kernels use it where nested `withUnsafe...` closures over many arrays would hide the logic.
final class FloatBuffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = FreedBuffers.take(count: max(count, 1)) ?? .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    deinit {
        if !FreedBuffers.keep(pointer, count: max(count, 1)) { pointer.deallocate() }
    }

    /// Copies the values out as a tensor of `shape`.
    func tensor(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, scalars: Array(UnsafeBufferPointer(start: pointer, count: count)))
    }

    func zero() { pointer.update(repeating: 0, count: count) }
}

/// Freed buffers kept for the next request of the same size. A training loop asks for the same
/// buffers at every iteration; handing them back to the system and faulting them in again cost
/// a fifth of a small model's training step. Only a few MB are kept, so large models, for which
/// that cost is small, do not hold memory they no longer use.
enum FreedBuffers {
    static let limit = 8 << 20   // floats kept at most (32 MB)
    private static let lock = NSLock()
    nonisolated(unsafe) private static var byCount: [Int: [UnsafeMutablePointer<Float>]] = [:]
    nonisolated(unsafe) private static var keptFloats = 0

    static func take(count: Int) -> UnsafeMutablePointer<Float>? {
        lock.lock()
        defer { lock.unlock() }
        guard let pointer = byCount[count]?.popLast() else { return nil }
        keptFloats -= count
        return pointer
    }

    /// Keeps the buffer if there is room; false when the caller must free it.
    static func keep(_ pointer: UnsafeMutablePointer<Float>, count: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard keptFloats + count <= limit else { return false }
        byCount[count, default: []].append(pointer)
        keptFloats += count
        return true
    }
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
