// Benchmarks for Recurrent. Usage: recurrent-bench [mode] [options]; prints JSON lines.
//
//   [workloads] [--threads N] [--only a,b] [--workloads PATH]
//       The shared workloads of ../shared/bench/workloads.json: train, infer, stream.
//
//   gemm [--threads N] [--sizes 128,256,...]
//       Square single-precision products C = A * B, best of several repeats, in GFLOP/s.
//       Compare with Benchmarks/gemm_numpy.py N, which prints the same lines for numpy.
import Dispatch
import Foundation
import Recurrent

/// The options after the mode: `--name value` pairs.
struct Options {
    var values: [String: String] = [:]

    init(_ arguments: ArraySlice<String>) throws {
        var rest = arguments[...]
        while let name = rest.popFirst() {
            guard name.hasPrefix("--"), let value = rest.popFirst() else {
                throw BenchError.usage("expected --name value, got \(name)")
            }
            values[String(name.dropFirst(2))] = value
        }
    }

    func int(_ name: String, default value: Int) throws -> Int {
        guard let text = values[name] else { return value }
        guard let number = Int(text), number > 0 else { throw BenchError.usage("--\(name) needs a positive integer") }
        return number
    }

    func ints(_ name: String, default value: [Int]) throws -> [Int] {
        guard let text = values[name] else { return value }
        let numbers = text.split(separator: ",").compactMap { Int($0) }
        guard !numbers.isEmpty, numbers.allSatisfy({ $0 > 0 }) else {
            throw BenchError.usage("--\(name) needs a comma-separated list of positive integers")
        }
        return numbers
    }
}

enum BenchError: Error, CustomStringConvertible {
    case usage(String)
    var description: String {
        switch self {
        case let .usage(message): "\(message)\nusage: recurrent-bench gemm [--threads N] [--sizes 128,256,...]"
        }
    }
}

/// Seconds since an arbitrary origin, monotonic.
func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

/// The shortest time of `body` over repeats, after one warm-up call; repeats until about
/// `budget` seconds have been spent (at least `minimumRepeats` times).
func bestTime(budget: Double = 1.0, minimumRepeats: Int = 5, _ body: () -> Void) -> Double {
    body()
    var best = Double.infinity, spent = 0.0, repeats = 0
    while repeats < minimumRepeats || spent < budget {
        let start = now()
        body()
        let elapsed = now() - start
        best = min(best, elapsed)
        spent += elapsed
        repeats += 1
    }
    return best
}

func printJSON(_ fields: KeyValuePairs<String, Any>) {
    let body = fields.map { key, value -> String in
        switch value {
        case let text as String: return "\"\(key)\": \"\(text)\""
        case let number as Double: return "\"\(key)\": \(String(format: "%.2f", number))"
        default: return "\"\(key)\": \(value)"
        }
    }
    print("{" + body.joined(separator: ", ") + "}")
}

// MARK: - gemm

func benchGemm(_ options: Options) throws {
    let threads = try options.int("threads", default: Parallel.threadCount)
    let sizes = try options.ints("sizes", default: [128, 256, 512, 1024, 2048])
    Parallel.threadCount = threads
    var rng = SystemRandomNumberGenerator()
    for n in sizes {
        let a = Tensor(shape: [n, n], scalars: (0..<(n * n)).map { _ in Float.random(in: -1...1, using: &rng) })
        let b = Tensor(shape: [n, n], scalars: (0..<(n * n)).map { _ in Float.random(in: -1...1, using: &rng) })
        var c = Tensor(zeros: [n, n])
        let seconds = bestTime { Tensor.gemm(a, b, into: &c) }
        let flops = 2.0 * Double(n) * Double(n) * Double(n)
        printJSON(["system": "recurrent", "threads": threads, "gemm_n": n, "gflops": flops / seconds / 1e9])
    }
}

// MARK: - main

let arguments = CommandLine.arguments.dropFirst()
do {
    switch arguments.first {
    case "gemm":
        try benchGemm(Options(arguments.dropFirst()))
    case nil, "workloads", .some(_) where arguments.first?.hasPrefix("--") == true:
        try runWorkloads(Options(arguments.first == "workloads" ? arguments.dropFirst() : arguments))
    default:
        throw BenchError.usage("unknown or missing mode \(arguments.first.map { "'\($0)'" } ?? "")")
    }
} catch {
    FileHandle.standardError.write(Data("recurrent-bench: \(error)\n".utf8))
    exit(2)
}
