import CRecurrentKernels
import Foundation

/// How many threads the kernels may use. Results depend only on this number (work is split the
/// same way every time), so the same seed and thread count give the same model, bit for bit.
public enum Parallel {
    nonisolated(unsafe) public static var threadCount: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body(part)` for part in 0..<parts, on up to `threadCount` threads (the caller's and
    /// pooled workers that stay awake briefly between calls; see rk_parallel_for). Parts must
    /// touch disjoint memory. A call made while another is running runs its parts in order on
    /// the calling thread.
    static func forEach(parts: Int, _ body: (Int) -> Void) {
        if parts <= 1 || threadCount <= 1 {
            for part in 0..<parts { body(part) }
            return
        }
        withoutActuallyEscaping(body) { body in
            var task = body
            withUnsafeMutablePointer(to: &task) { pointer in
                rk_parallel_for(Int32(parts), Int32(min(threadCount, parts)), { context, part in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(part))
                }, pointer)
            }
        }
    }
}

extension Parallel {
    /// Runs `body` on ranges that together cover 0..<count, in parts of at least `grain`
    /// items (at most four a thread) when there are enough of them, else on the calling thread.
    /// Ranges are a function of the count and the thread count alone; they must touch disjoint memory.
    static func forEachRange(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        let parts = min(4 * threadCount, count / max(1, grain))
        guard parts > 1 else { return body(0..<count) }
        forEach(parts: parts) { part in body((part * count / parts)..<((part + 1) * count / parts)) }
    }
}

/// Hands a value the compiler cannot prove thread-safe to worker threads that touch disjoint parts.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
