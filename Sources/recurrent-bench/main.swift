// Benchmarks for Recurrent. Usage: recurrent-bench [mode] [options]; prints JSON lines.
//
//   [workloads] [--threads N] [--only a,b] [--workloads PATH] [--phases train,infer,stream]
//             [--isa avx512|avx2|generic] [--repeats N] [--quantized int8|bf16]
//       The shared workloads of ../shared/bench/workloads.json: train, infer, stream (or only
//       the phases named, for profiling; the others print 0), optionally on a lesser
//       instruction set than the CPU's best; --repeats sets how many timed repeats train and
//       infer take (10, or 5 at 1024 units), to profile for longer; --quantized int8 (or bf16) runs
//       infer and stream on int8 recurrent weights (the "system" says so).
//
//   features ... and speech ...: see Features.swift and Speech.swift.
//
//   gemm [--threads N] [--sizes 128,256,...] [--shapes MxNxK,...] [--trans nn|nt|tn|tt]
//        [--isa avx512|avx2|generic]
//       Single-precision products C = op(A) op(B), best of several repeats, in GFLOP/s: square
//       sizes by default, or the given shapes (e.g. a recurrent step, 64x1024x256 with --trans nt).
//       Compare with Benchmarks/gemm_numpy.py N (same options), which prints the same lines for numpy.
import CRecurrentKernels
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

    /// Forces `--isa` when given (a lesser instruction set than the CPU's best).
    func forceInstructionSet() throws {
        if let isa = values["isa"], rk_force_isa(isa) != 0 {
            throw BenchError.usage("--isa \(isa): not one of avx512, avx2, generic that this CPU runs")
        }
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
        case let .usage(message):
            "\(message)\nusage: recurrent-bench gemm [--threads N] [--sizes 128,256,...] [--shapes MxNxK,...] [--trans nn|nt|tn|tt] [--isa avx512|avx2|generic]"
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
        // Small figures (real-time factors) keep four significant digits.
        case let number as Double: return "\"\(key)\": \(String(format: abs(number) < 0.1 ? "%.4g" : "%.2f", number))"
        default: return "\"\(key)\": \(value)"
        }
    }
    print("{" + body.joined(separator: ", ") + "}")
}

// MARK: - gemm

func benchGemm(_ options: Options) throws {
    let threads = try options.int("threads", default: Parallel.threadCount)
    let sizes = try options.ints("sizes", default: [128, 256, 512, 1024, 2048])
    let trans = options.values["trans"] ?? "nn"
    guard ["nn", "nt", "tn", "tt"].contains(trans) else { throw BenchError.usage("--trans takes nn, nt, tn or tt") }
    let (ta, tb) = (trans.first == "t", trans.last == "t")
    var shapes: [(m: Int, n: Int, k: Int)] = sizes.map { ($0, $0, $0) }
    if let text = options.values["shapes"] {
        shapes = try text.split(separator: ",").map { item in
            let parts = item.split(separator: "x").compactMap { Int($0) }
            guard parts.count == 3, parts.allSatisfy({ $0 > 0 }) else {
                throw BenchError.usage("--shapes takes MxNxK items, got \(item)")
            }
            return (parts[0], parts[1], parts[2])
        }
    }
    try options.forceInstructionSet()
    Parallel.threadCount = threads
    var rng = SystemRandomNumberGenerator()
    func random(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &rng) })
    }
    for (m, n, k) in shapes {
        let a = random(ta ? [k, m] : [m, k]), b = random(tb ? [n, k] : [k, n])
        var c = Tensor(zeros: [m, n])
        // Small products repeat many times: keep the budget per shape near a second either way.
        let seconds = bestTime { Tensor.gemm(a, b, into: &c, transposeA: ta, transposeB: tb) }
        let gflops = 2.0 * Double(m) * Double(n) * Double(k) / seconds / 1e9
        if options.values["shapes"] == nil {
            printJSON(["system": "recurrent" + (options.values["isa"].map { " " + $0 } ?? ""), "threads": threads, "gemm_n": n, "gflops": gflops])
        } else {
            printJSON(["system": "recurrent" + (options.values["isa"].map { " " + $0 } ?? ""), "threads": threads, "gemm_m": m, "gemm_n": n, "gemm_k": k,
                       "trans": trans, "gflops": gflops])
        }
    }
}

// MARK: - main

let arguments = CommandLine.arguments.dropFirst()
do {
    switch arguments.first {
    case "gemm":
        try benchGemm(Options(arguments.dropFirst()))
    case "features":
        try benchFeatures(Options(arguments.dropFirst()))
    case "speech":
        try benchSpeech(Options(arguments.dropFirst()))
    case "workloads":
        try runWorkloads(Options(arguments.dropFirst()))
    case nil:
        try runWorkloads(Options(arguments))
    case let option? where option.hasPrefix("--"):
        try runWorkloads(Options(arguments))
    default:
        throw BenchError.usage("unknown or missing mode \(arguments.first.map { "'\($0)'" } ?? "")")
    }
} catch {
    FileHandle.standardError.write(Data("recurrent-bench: \(error)\n".utf8))
    exit(2)
}
