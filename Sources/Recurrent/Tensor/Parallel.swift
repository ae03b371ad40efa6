import Dispatch
import Foundation

/// How many threads the kernels may use. Results depend only on this number (work is split the
/// same way every time), so the same seed and thread count give the same model, bit for bit.
public enum Parallel {
    nonisolated(unsafe) public static var threadCount: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body(part)` for part in 0..<parts, on up to `threadCount` threads.
    static func forEach(parts: Int, _ body: (Int) -> Void) {
        if parts <= 1 || threadCount <= 1 {
            for part in 0..<parts { body(part) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: parts) { box.value($0) }
        }
    }
}

/// Hands a value the compiler cannot prove thread-safe to worker threads that touch disjoint parts.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
