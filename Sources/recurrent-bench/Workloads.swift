// The shared recurrent workloads (workloads.json): training, inference and streaming throughput,
// exactly as the anchors' scripts measure them.
import CRecurrentKernels
import Foundation
import Recurrent

struct Workload: Decodable {
    var name: String
    var cell: CellKind
    var input: Int
    var hidden: Int
    var layers: Int
    var seq: Int
    var batch: Int
}

struct WorkloadFile: Decodable {
    var workloads: [Workload]
}

/// Runs every workload (or those named in --only a,b) and prints one JSON line each.
func runWorkloads(_ options: Options) throws {
    let threads = try options.int("threads", default: 2)
    Parallel.threadCount = threads
    try options.forceInstructionSet()
    let path = options.values["workloads"] ?? "../shared/bench/workloads.json"
    guard let data = FileManager.default.contents(atPath: path) else {
        throw BenchError.usage("cannot read \(path) (pass --workloads PATH)")
    }
    let file = try JSONDecoder().decode(WorkloadFile.self, from: data)
    let only = options.values["only"].map { Set($0.split(separator: ",").map(String.init)) }
    let phases = Set((options.values["phases"] ?? "train,infer,stream").split(separator: ",").map(String.init))
    guard phases.isSubset(of: ["train", "infer", "stream"]) else {
        throw BenchError.usage("--phases takes a comma-separated subset of train,infer,stream")
    }
    let repeats = try options.int("repeats", default: 0)
    let quantization = try options.values["quantized"].map { name in
        guard let kind = WeightQuantization(rawValue: name) else { throw BenchError.usage("--quantized takes int8 or bf16") }
        return kind
    }
    let chosen = file.workloads.filter { only?.contains($0.name) ?? true }
    guard chosen.count > 1 else {
        for workload in chosen {
            try measure(workload, threads: threads, phases: phases, repeats: repeats, quantization: quantization)
        }
        return
    }
    // Each workload in a process of its own, so that its peak resident memory is its own.
    for workload in chosen {
        var arguments = options.values.filter { $0.key != "only" }.flatMap { ["--\($0.key)", $0.value] }
        arguments += ["--only", workload.name]
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        child.arguments = arguments
        try child.run()
        child.waitUntilExit()
        guard child.terminationStatus == 0 else {
            throw BenchError.usage("the run of \(workload.name) failed with status \(child.terminationStatus)")
        }
    }
}

/// Measures the phases asked for (a phase left out prints 0): for profiling one of them. With a
/// quantization, inference and streaming run on the quantized weights (training on floats).
func measure(_ w: Workload, threads: Int, phases: Set<String>, repeats: Int, quantization: WeightQuantization?) throws {
    let (B, T, I, H) = (w.batch, w.seq, w.input, w.hidden)
    let processBase = residentMegabytes("VmRSS")
    let recurrent = RecurrentLayer(RecurrentConfiguration(cell: w.cell, inputSize: I, hiddenSize: H, numLayers: w.layers), seed: 0)
    let head = Dense(inputSize: H, outputSize: I, seed: 1)
    let parameters = recurrent.parameters + head.parameters
    let optimizer = try Adam(parameters, learningRate: 1e-3)
    var rng = SplitMix64(seed: 2)
    let x = Tensor.normal(shape: [B, T, I], using: &rng), target = Tensor.normal(shape: [B, T, I], using: &rng)
    let reps = repeats > 0 ? repeats : H >= 1024 ? 5 : 10

    func trainStep() {
        optimizer.zeroGrad()
        let prediction = head(recurrent(Variable(x)))
        guard let loss = try? Loss.meanSquaredError(prediction, target) else { return }
        loss.backward()
        clipGradientNorm(parameters, maxNorm: 1)
        optimizer.step()
    }
    let train = phases.contains("train") ? bestTime(budget: 0, minimumRepeats: reps, trainStep) : .infinity
    let rssTrain = residentMegabytes("VmHWM")
    if let quantization { recurrent.quantize(quantization) }
    let infer = !phases.contains("infer") ? .infinity : bestTime(budget: 0, minimumRepeats: reps) {
        _ = GradientMode.withoutRecording { recurrent(Variable(x)) }
    }
    let x1 = Tensor.normal(shape: [1, I], using: &rng)
    let streamer = try RecurrentStream(recurrent)
    let stream = !phases.contains("stream") ? 0 : x1.scalars.withUnsafeBufferPointer { input in
        bestTime(budget: 0, minimumRepeats: 3) {
            streamer.reset()
            for _ in 0..<100 { streamer.step(input.baseAddress!) }
        }
    }
    // What training must hold: parameters, gradients, Adam's two moments, and the activations
    // the backward pass keeps (the input x; per layer: cell values, states entering each step,
    // the output; the head's output and the loss's slopes, 2 (prediction - target)).
    let parameterCount = parameters.reduce(0) { $0 + $1.value.count }
    let savedPerUnit: Int
    switch w.cell {
    case .lstm: savedPerUnit = 5 + 2 + 1
    case .gru: savedPerUnit = 4 + 1 + 1
    case .rnn: savedPerUnit = 1 + 1 + 1
    }
    let activations = w.layers * B * T * H * savedPerUnit + 3 * B * T * I
    let modelBytes = Double(4 * (4 * parameterCount + activations)) / 1_048_576
    printJSON([
        "system": "recurrent" + (quantization.map { " " + $0.rawValue } ?? ""), "threads": threads, "workload": w.name,
        "train_steps_per_s": (Double(B * T) / train).rounded(),
        "infer_steps_per_s": (Double(B * T) / infer).rounded(),
        "stream_step_us": stream / 100 * 1e6,
        "peak_rss_mb": rssTrain, "training_state_mb": modelBytes, "process_base_mb": processBase,
        "peak_over_state": rssTrain / modelBytes, "peak_above_base_over_state": (rssTrain - processBase) / modelBytes,
    ])
}

/// The process's resident set (VmRSS) or its peak so far (VmHWM), in MB; 0 where /proc is not there.
func residentMegabytes(_ field: String) -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
          let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kilobytes / 1024
}
