// Speech recognition: training steps of a CTC recognizer, and streaming transcription.
//
//   speech [--threads N] [--phases train,stream] [--hidden H] [--layers L] [--subsample K] [--mels M]
//          [--batch B] [--frames T] [--labels S] [--audio-dir DIR]
//       train: one step of `recurrent speech train`'s network (K frames of M log-mels stacked ->
//       bidirectional LSTM H x L -> Dense over 28 characters + blank) on a batch of B utterances
//       of T frames with S-character targets: forward, CTC loss (mean), backward, gradient
//       clipping, Adam; best of several steps, on N threads (2). Prints utterances, frames and
//       seconds of audio per second. scripts/speech_bench_torch.py does the same in PyTorch.
//       stream: a unidirectional recognizer of the same size transcribes DIR's longest prompt
//       (73 s) fed in 100 ms chunks on one thread, best path and a beam of 8; prints the real-time
//       factor (processing time over audio time). Its weights are untrained: the work per chunk
//       does not depend on them, the beam's (pruned) work does somewhat.
import Foundation
import Recurrent

func benchSpeech(_ options: Options) throws {
    let phases = Set((options.values["phases"] ?? "train,stream").split(separator: ",").map(String.init))
    guard phases.isSubset(of: ["train", "stream"]) else { throw BenchError.usage("--phases takes train,stream") }
    let hidden = try options.int("hidden", default: 192), layers = try options.int("layers", default: 2)
    let subsample = try options.int("subsample", default: 3), mels = try options.int("mels", default: 40)
    if phases.contains("train") {
        Parallel.threadCount = try options.int("threads", default: 2)
        try benchSpeechTraining(hidden: hidden, layers: layers, subsample: subsample, mels: mels,
                                batch: options.int("batch", default: 16), frames: options.int("frames", default: 300),
                                labels: options.int("labels", default: 30))
    }
    if phases.contains("stream") {
        Parallel.threadCount = 1
        try benchSpeechStreaming(hidden: hidden, layers: layers, subsample: subsample, mels: mels,
                                 directory: options.values["audio-dir"] ?? "Data/speech/asterisk-en")
    }
}

func benchSpeechTraining(hidden: Int, layers: Int, subsample: Int, mels: Int, batch: Int, frames: Int, labels: Int) throws {
    let classes = 29, steps = (frames + subsample - 1) / subsample
    let recurrent = LSTM(inputSize: mels * subsample, hiddenSize: hidden, numLayers: layers, bidirectional: true, returnSequences: true, seed: 1)
    let output = Dense(inputSize: 2 * hidden, outputSize: classes, seed: 2)
    let parameters = recurrent.parameters + output.parameters
    let optimizer = try Adam(parameters, learningRate: 1e-3)
    var rng = SplitMix64(seed: 3)
    let x = Tensor.normal(shape: [batch, steps, mels * subsample], using: &rng)
    let targets = (0..<batch).map { _ in (0..<labels).map { _ in 1 + Int(rng.next() % UInt64(classes - 1)) } }
    let lengths = [Int](repeating: steps, count: batch)
    var failure: Error? = nil
    let best = bestTime(budget: 5, minimumRepeats: 5) {
        do {
            optimizer.zeroGrad()
            let loss = try ctcLoss(logits: output(recurrent(Variable(x))), targets: targets, inputLengths: lengths, reduction: .mean)
            loss.backward()
            clipGradientNorm(parameters, maxNorm: 1)
            optimizer.step()
        } catch { failure = error }
    }
    if let failure { throw failure }
    printJSON(["system": "recurrent", "workload": "speech-train", "threads": Parallel.threadCount, "hidden": hidden, "layers": layers,
               "subsample": subsample, "batch": batch, "frames": frames, "step_ms": best * 1000,
               "utterances_per_s": Double(batch) / best, "audio_seconds_per_s": Double(batch * frames) / 100 / best])
}

func benchSpeechStreaming(hidden: Int, layers: Int, subsample: Int, mels: Int, directory: String) throws {
    let clip = try WAVFile.read(path: directory + "/demo-instruct.wav")
    var configuration = SpeechConfiguration()
    (configuration.melBins, configuration.subsample, configuration.hiddenSize, configuration.numLayers) = (mels, subsample, hidden, layers)
    configuration.bidirectional = false
    let recognizer = try SpeechRecognizer.untrained(configuration: configuration, alphabet: Array("abcdefghijklmnopqrstuvwxyz' ").map(String.init),
                                                    sampleRate: clip.sampleRate)
    let chunk = clip.sampleRate / 10
    for beam in [1, 8] {
        var failure: Error? = nil
        let best = bestTime(budget: 0, minimumRepeats: 3) {
            do {
                let stream = try SpeechStream(recognizer, decoding: SpeechDecoding(beamWidth: beam))
                for start in stride(from: 0, to: clip.samples.count, by: chunk) {
                    try stream.push(Array(clip.samples[start..<min(clip.samples.count, start + chunk)]))
                }
                _ = try stream.finish()
            } catch { failure = error }
        }
        if let failure { throw failure }
        printJSON(["system": "recurrent", "workload": "speech-stream", "threads": 1, "hidden": hidden, "layers": layers,
                   "subsample": subsample, "beam": beam, "audio_seconds": clip.duration, "chunk_ms": 100,
                   "real_time_factor": best / clip.duration, "ms_per_chunk": best / (clip.duration * 10) * 1000])
    }
}
