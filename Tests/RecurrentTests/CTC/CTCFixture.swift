import Foundation
import XCTest
@testable import Recurrent

/// One case of Fixtures/ctc (README.md there): PyTorch's ctc_loss inputs, losses and gradients,
/// in float64 (`.f64.safetensors`, the truth) or rounded to float32. Time-major tensors
/// [T, B, C] are turned batch-first [B, T, C] here, the layout of Recurrent.
struct CTCFixture {
    static let names = [
        "tiny_blank0_sum", "batch_blank0_mean", "repeats_blank0_none", "empty_target_mean",
        "infeasible_zero_infinity_false_none", "infeasible_zero_infinity_true_mean", "blank_last_sum",
        "speechlike_blank_last_mean", "long_sharp_blank0_sum",
    ]

    let name: String
    let frames: Int, batch: Int, classes: Int, blank: Int
    let reduction: CTCReduction
    let zeroInfinity: Bool
    let inputLengths: [Int]
    let targets: [[Int]]
    /// Utterances with no alignment (PyTorch's gradients are NaN there without zero_infinity).
    let infeasible: Set<Int>
    let lossTolerance: Double, gradientTolerance: Double
    /// Float tensors as Double values, [B, T, C] ones already transposed.
    private let values: [String: [Double]]

    init(name: String, float64: Bool) throws {
        self.name = name
        let directory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/ctc")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent(name + ".json"))) as? [String: Any] ?? [:]
        (frames, batch, classes) = (json["T"] as? Int ?? 0, json["B"] as? Int ?? 0, json["C"] as? Int ?? 0)
        blank = json["blank"] as? Int ?? -1
        reduction = CTCReduction(rawValue: json["reduction"] as? String ?? "") ?? .none
        zeroInfinity = json["zero_infinity"] as? Bool ?? false
        infeasible = Set(json["infeasible"] as? [Int] ?? [])
        let tolerances = (json["tolerance"] as? [String: Any])?[float64 ? "float64" : "float32"] as? [String: Double] ?? [:]
        lossTolerance = tolerances["loss_rel"] ?? 0
        gradientTolerance = tolerances["grad_rel_to_max"] ?? 0

        let file = directory.appendingPathComponent(name + (float64 ? ".f64.safetensors" : ".safetensors"))
        let (floats, integers) = try readCTCSafeTensors(file)
        inputLengths = integers["input_lengths"] ?? []
        // Padded targets [B, S]: only the first target_lengths[b] entries of each row are read.
        let lengths = integers["target_lengths"] ?? [], padded = integers["targets"] ?? []
        let width = lengths.isEmpty ? 0 : padded.count / lengths.count
        targets = lengths.enumerated().map { b, length in Array(padded[(b * width)..<(b * width + length)]) }
        var values: [String: [Double]] = [:]
        let (T, B, C) = (frames, batch, classes)
        for (key, data) in floats {
            guard data.count == T * B * C, key != "losses" else { values[key] = data; continue }
            var transposed = [Double](repeating: 0, count: data.count)
            for t in 0..<T { for b in 0..<B { for c in 0..<C { transposed[(b * T + t) * C + c] = data[(t * B + b) * C + c] } } }
            values[key] = transposed
        }
        self.values = values
    }

    func values(_ key: String) throws -> [Double] {
        guard let found = values[key] else { throw RecurrentError.invalidArgument("\(name): no tensor \(key)") }
        return found
    }

    /// max |got - want| / max |want| over utterance b's rows of a [B, T, C] tensor.
    func gradientError(_ got: [Double], _ want: [Double], utterance b: Int) -> Double {
        let rows = (b * frames * classes)..<((b + 1) * frames * classes)
        let scale = rows.map { abs(want[$0]) }.max() ?? 0
        let worst = rows.map { abs(got[$0] - want[$0]) }.max() ?? 0
        return scale > 0 ? worst / scale : worst
    }
}

/// Reads a safetensors file of F64, F32 and I64 tensors: floats as Double, integers as Int.
func readCTCSafeTensors(_ url: URL) throws -> (floats: [String: [Double]], integers: [String: [Int]]) {
    let data = try Data(contentsOf: url)
    let headerLength = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
    let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<8 + headerLength)) as? [String: Any] ?? [:]
    var floats: [String: [Double]] = [:], integers: [String: [Int]] = [:]
    for (key, entry) in header where key != "__metadata__" {
        guard let entry = entry as? [String: Any], let dtype = entry["dtype"] as? String,
              let offsets = entry["data_offsets"] as? [Int] else { continue }
        let bytes = data.subdata(in: (8 + headerLength + offsets[0])..<(8 + headerLength + offsets[1]))
        switch dtype {
        case "F64": floats[key] = bytes.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
        case "F32": floats[key] = bytes.withUnsafeBytes { $0.bindMemory(to: Float.self).map(Double.init) }
        case "I64": integers[key] = bytes.withUnsafeBytes { $0.bindMemory(to: Int64.self).map { Int($0) } }
        default: throw RecurrentError.invalidArgument("\(url.lastPathComponent): \(key) has dtype \(dtype)")
        }
    }
    return (floats, integers)
}
