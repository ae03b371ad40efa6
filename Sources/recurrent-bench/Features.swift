// Feature extraction: log-mel filterbanks of a stretch of real 8 kHz speech.
//
//   features [--threads N] [--audio-dir DIR] [--seconds S] [--mels M] [--deltas D] [--rate R]
//       The Asterisk prompts of DIR/manifest.tsv (default Data/speech/asterisk-en)
//       joined in the manifest's order and cut to S seconds (60); resampled to R Hz first when R
//       is not 8000 (untimed). Times Filterbank.features (25 ms Hann windows every 10 ms, M mel
//       bins, D delta orders) on N threads (1), best of several runs, and prints one line:
//       {"system": "recurrent", "workload": "features", ..., "audio_seconds_per_second": X}
//       scripts/audio_features_torch.py prints the same for torchaudio.compliance.kaldi.fbank.
import Foundation
import Recurrent

/// The manifest's files joined in order until `seconds` of audio, at their rate (8000 Hz).
func speechStretch(directory: String, seconds: Int) throws -> AudioClip {
    let manifest = directory + "/manifest.tsv"
    guard let text = try? String(contentsOfFile: manifest, encoding: .utf8) else {
        throw BenchError.usage("cannot read \(manifest) (pass --audio-dir DIR)")
    }
    var samples: [Float] = [], rate = 0
    for line in text.split(separator: "\n").dropFirst() {
        let clip = try WAVFile.read(path: directory + "/" + String(line.split(separator: "\t")[0]))
        rate = clip.sampleRate
        samples += clip.samples
        if samples.count >= seconds * rate { break }
    }
    guard rate > 0, samples.count >= seconds * rate else {
        throw BenchError.usage("\(manifest) holds less than \(seconds) s of audio")
    }
    return AudioClip(samples: Array(samples.prefix(seconds * rate)), sampleRate: rate)
}

func benchFeatures(_ options: Options) throws {
    let threads = try options.int("threads", default: 1)
    let seconds = try options.int("seconds", default: 60)
    let rate = try options.int("rate", default: 8000)
    guard let deltas = Int(options.values["deltas"] ?? "0"), (0...2).contains(deltas) else {
        throw BenchError.usage("--deltas takes 0, 1 or 2")
    }
    Parallel.threadCount = threads
    var filterbankOptions = FilterbankOptions(sampleRate: rate)
    filterbankOptions.melBins = try options.int("mels", default: 40)
    filterbankOptions.deltaOrder = deltas
    let filterbank = try Filterbank(filterbankOptions)
    let clip = try speechStretch(directory: options.values["audio-dir"] ?? "Data/speech/asterisk-en",
                                 seconds: seconds).resampled(to: rate)
    var frames = 0
    let best = bestTime(budget: 3) { frames = filterbank.features(clip.samples).shape[0] }
    printJSON(["system": "recurrent", "workload": "features", "threads": threads, "sample_rate": rate,
               "mels": filterbankOptions.melBins, "deltas": deltas, "audio_seconds": seconds, "frames": frames,
               "milliseconds": best * 1000, "frames_per_second": Double(frames) / best, "audio_seconds_per_second": Double(seconds) / best])
}
