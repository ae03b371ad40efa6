import ArgumentParser
import Foundation
import Recurrent

extension SpeechNormalization: ExpressibleByArgument {}

struct SpeechCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speech",
        abstract: "Speech recognition by CTC: from WAV recordings to text, offline or as the audio arrives.",
        subcommands: [SpeechTrainCommand.self, SpeechEvaluateCommand.self, SpeechTranscribeCommand.self]
    )
}

/// Where a manifest's relative paths point, shared by train and evaluate.
struct AudioRootOption: ParsableArguments {
    @Option(help: "Resolve the manifest's relative paths against this folder instead of the manifest's own.")
    var audioRoot: String?
}

/// Decoding options shared by evaluate and transcribe.
struct SpeechDecodingOptions: ParsableArguments {
    @Option(help: "Beam width of the prefix beam search (1: best path; default 1, or 16 with --lm).")
    var beam: Int?

    @Option(help: "A language model from `recurrent text train` (char or word level) fused into the beam search.")
    var lm: String?

    @Option(help: "The language model's weight in the beam's score.")
    var lmWeight: Double = 0.5

    @Option(help: "Added to the beam's score for every word (counters the language model's preference for short transcripts).")
    var wordBonus: Double = 1.0

    func validate() throws {
        if let beam, beam < 1 { throw ValidationError("--beam must be at least 1, got \(beam)") }
        guard lmWeight >= 0, lmWeight.isFinite else { throw ValidationError("--lm-weight must be 0 or more, got \(lmWeight)") }
        guard wordBonus.isFinite else { throw ValidationError("--word-bonus must be a number, got \(wordBonus)") }
    }

    func decoding() throws -> SpeechDecoding {
        let languageModel = try lm.map { try LanguageModel(contentsOf: $0) }
        return SpeechDecoding(beamWidth: beam ?? (languageModel == nil ? 1 : 16), languageModel: languageModel,
                              lmWeight: lmWeight, wordBonus: languageModel == nil ? 0 : wordBonus)
    }

    var summary: String {
        let width = beam ?? (lm == nil ? 1 : 16)
        let search = width == 1 && lm == nil ? "best path" : "beam \(width)"
        return search + (lm.map { " + LM \(URL(fileURLWithPath: $0).lastPathComponent) (weight \(lmWeight), word bonus \(wordBonus))" } ?? "")
    }
}

struct SpeechTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a speech recognizer on a manifest of audio files and their transcripts.",
        discussion: """
            MANIFEST is a TSV or CSV file whose header holds "path" and "text" (or Common Voice's "path" and \
            "sentence", its clips in clips/ beside it; or DeepSpeech's "wav_filename" and "transcript"; other \
            columns are ignored), or a LibriSpeech folder (its *.trans.txt files beside the FLAC files); \
            paths are relative to the manifest (or --audio-root). Audio: WAV, and FLAC, MP3, Ogg where \
            libsndfile (Debian's libsndfile1) is installed. Transcripts are lowercased and their white \
            space collapsed; the characters of the training transcripts are the model's alphabet. Features are \
            log-mel filterbanks (25 ms Hann windows every 10 ms), normalised per utterance (per feature over \
            the training set for --unidirectional models, so that they can stream). --subsample K stacks K \
            frames into one step. The epoch with the lowest validation CER (greedy decoding) is kept; the \
            validation utterances come from --validation, or else 10% of the training transcripts (every \
            recording of a text on the same side). Utterances too short for their transcript under CTC are \
            left out with a warning naming them. The loss and CER curves are drawn beside the model \
            (MODEL without .model + -loss.svg; --plot to choose). Defaults: a bidirectional LSTM of 192 units \
            x 2 layers over 3 stacked frames, dropout 0.3, batches of 16, Adam at 0.002 along half a cosine, \
            100 epochs.
            """
    )

    @Argument(help: "The training manifest (TSV or CSV with path and text columns), or a LibriSpeech folder.")
    var manifest: String

    @OptionGroup var audioRoot: AudioRootOption

    @Option(help: "A validation manifest (default: 10% of the training transcripts).")
    var validation: String?

    @Option(help: "The rate features are computed at, in Hz (default: the first training file's); other audio is resampled.")
    var sampleRate: Int?

    @Option(help: "Mel filterbank bins.")
    var mels: Int = 40

    @Option(help: "Append deltas (1) or deltas and delta-deltas (2) to the log-mels.")
    var deltas: Int = 0

    @Option(help: "Stack this many frames into one recurrent step (1: none).")
    var subsample: Int = 3

    @Flag(help: "Mask random time spans and frequency bands of the training features (SpecAugment; the widths below).")
    var specAugment = false

    @Option(help: "SpecAugment: frequency masks per utterance.")
    var frequencyMasks: Int = 1

    @Option(help: "SpecAugment: the widest frequency mask, in mel bins.")
    var frequencyMaskWidth: Int = 8

    @Option(help: "SpecAugment: time masks per utterance.")
    var timeMasks: Int = 1

    @Option(help: "SpecAugment: the widest time mask, in frames (10 ms), at most a fifth of the utterance.")
    var timeMaskWidth: Int = 15

    @Flag(help: "Read forwards only, so that the model can transcribe a stream (speech transcribe --stream).")
    var unidirectional = false

    @Option(help: "Feature normalisation: utterance or global (default: utterance, global with --unidirectional).")
    var normalization: SpeechNormalization?

    @Option(help: "Where to draw the loss and CER curves (SVG).")
    var plot: String?

    @Flag(help: "End with the validation figures as one JSON line on standard output.")
    var json = false

    @OptionGroup var training: TrainingOptionsGroup

    func validate() throws {
        guard (1...8).contains(subsample) else { throw ValidationError("--subsample must be 1 to 8, got \(subsample)") }
        guard mels >= 1 else { throw ValidationError("--mels must be positive, got \(mels)") }
        guard (0...2).contains(deltas) else { throw ValidationError("--deltas must be 0, 1 or 2, got \(deltas)") }
        if let sampleRate, sampleRate < 1000 { throw ValidationError("--sample-rate must be at least 1000 Hz, got \(sampleRate)") }
        for (value, name) in [(frequencyMasks, "--frequency-masks"), (frequencyMaskWidth, "--frequency-mask-width"),
                              (timeMasks, "--time-masks"), (timeMaskWidth, "--time-mask-width")] where value < 0 {
            throw ValidationError("\(name) must be 0 or more, got \(value)")
        }
        guard frequencyMaskWidth <= mels else { throw ValidationError("--frequency-mask-width \(frequencyMaskWidth) is wider than --mels \(mels)") }
    }

    func run() throws {
        try reportingErrors {
            training.applyThreads()
            try checkWritable(training.output)
            let train = try SpeechManifest(contentsOf: manifest, audioRoot: audioRoot.audioRoot)
            let validationManifest = try validation.map { try SpeechManifest(contentsOf: $0, audioRoot: audioRoot.audioRoot) }
            let configuration = self.configuration()
            let options = try training.trainingOptions(defaultEpochs: 100, defaultBatchSize: 16)
            let (recognizer, report) = try SpeechRecognizer.train(
                train: train, validation: validationManifest, configuration: configuration, options: options,
                progress: ConsoleProgress(describeValidation: { String(format: "val CER %.4f", $0) }))
            try recognizer.save(to: training.output)
            print("wrote \(training.output): \(recognizer.alphabet.count) characters + blank, \(recognizer.model.layer.parameterCount) "
                  + "parameters, \(recognizer.sampleRate) Hz; \(report.trainingUtterances) training utterances "
                  + String(format: "(%.1f min of audio), %d steps in %.1f min", report.trainingSeconds / 60, report.history.steps, report.history.seconds / 60))
            let plotPath = plot ?? TextTrainCommand.plotPath(beside: training.output)
            try drawCurves(report, to: plotPath)
            if let best = report.history.bestEpoch, report.validationUtterances > 0 {
                let summary = String(format: "validation CER %.4f (greedy, %d utterances, epoch %d)", report.validationCER[best - 1],
                                     report.validationUtterances, best)
                print(summary)
                if json { print(String(format: "{\"validation_utterances\": %d, \"validation_cer\": %.4f, \"best_epoch\": %d}",
                                       report.validationUtterances, report.validationCER[best - 1], best)) }
            }
            if report.history.stopReason == .diverged {
                throw RecurrentError.diverged(report.history.message ?? "training diverged")
            }
        }
    }

    func configuration() -> SpeechConfiguration {
        var c = SpeechConfiguration()
        training.apply(to: &c)
        c.sampleRate = sampleRate
        c.melBins = mels
        c.deltaOrder = deltas
        c.subsample = subsample
        c.bidirectional = !unidirectional
        c.normalization = normalization
        c.specAugment = specAugment ? SpecAugment(frequencyMasks: frequencyMasks, maxFrequencyWidth: frequencyMaskWidth, timeMasks: timeMasks,
                                                  maxTimeWidth: timeMaskWidth, melBins: mels) : nil
        return c
    }

    func drawCurves(_ report: SpeechTrainingReport, to path: String) throws {
        let history = report.history
        let epochs = { (values: [Double]) in values.indices.map { Double($0 + 1) } }
        let losses = LineChart(title: "Training loss (CTC per target character, mean over utterances)", xLabel: "epoch", yLabel: "loss", series: [
            LineChart.Series(name: "train loss", x: epochs(history.trainLoss), y: history.trainLoss, markers: history.trainLoss.count < 3),
        ], logarithmicY: true)
        let rates = LineChart(title: "Validation character error rate (best path)", xLabel: "epoch", yLabel: "CER %", series: [
            LineChart.Series(name: "validation CER", x: epochs(report.validationCER), y: report.validationCER.map { $0 * 100 },
                             color: "#d62728", markers: report.validationCER.count < 3),
        ])
        try SVGDocument(panels: [.line(losses), .line(rates)]).write(to: path)
        note("wrote \(path): the loss and CER curves")
    }
}

struct SpeechEvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Character and word error rates of a speech recognizer on a manifest.",
        discussion: """
            CER and WER are edit distances summed over the corpus, divided by the references' summed \
            lengths (characters with spaces; words), after lowercasing and collapsing white space. A file \
            that cannot be read, a silent one, or an utterance too short for its transcript under CTC is an \
            error naming the file and line.
            """
    )

    @Argument(help: "The model file.")
    var model: String

    @Argument(help: "The manifest (TSV or CSV with path and text columns), or a LibriSpeech folder.")
    var manifest: String

    @OptionGroup var audioRoot: AudioRootOption

    @OptionGroup var decodingOptions: SpeechDecodingOptions

    @Option(help: "Threads for the kernels (default: all cores).")
    var threads: Int?

    @Flag(help: "End with the figures as one JSON line on standard output.")
    var json = false

    func run() throws {
        try reportingErrors {
            if let threads { Parallel.threadCount = max(1, threads) }
            let recognizer = try SpeechRecognizer(contentsOf: model)
            let manifest = try SpeechManifest(contentsOf: self.manifest, audioRoot: audioRoot.audioRoot)
            try DistributedLaunch.splittingWork("evaluation") { communicator in
                let (score, _) = try recognizer.evaluate(manifest, decoding: decodingOptions.decoding(), communicator: communicator)
                print(String(format: "%@ (%d utterances, %.1f s of audio, %@): CER %.4f  WER %.4f", self.manifest, score.utterances,
                             score.secondsOfAudio, decodingOptions.summary, score.characterErrorRate, score.wordErrorRate))
                if json { print(score.jsonLine) }
            }
        }
    }
}

struct SpeechTranscribeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transcribe",
        abstract: "The transcript of each audio file (WAV; FLAC, MP3, Ogg and others where libsndfile is installed), one line per file.",
        discussion: """
            Audio at another rate than the model's is resampled; stereo is mixed down. With one file the \
            line is the transcript; with several, "FILE: transcript". With --stream (a model trained with \
            --unidirectional), the audio is fed in chunks of --chunk-ms and the partial transcript is shown \
            as it grows (redrawn in place on a terminal, one line per change on standard error otherwise); \
            the recurrent state is carried from chunk to chunk, nothing is recomputed, and the final line on \
            standard output is the transcript.
            """
    )

    @Argument(help: "The model file.")
    var model: String

    @Argument(help: "Audio files: WAV, or FLAC, MP3, Ogg, AIFF... where libsndfile (Debian's libsndfile1) is installed.")
    var files: [String]

    @OptionGroup var decodingOptions: SpeechDecodingOptions

    @Flag(help: "Transcribe as the audio arrives, showing the partial transcript.")
    var stream = false

    @Option(help: "Milliseconds of audio per chunk with --stream.")
    var chunkMs: Double = 100

    @Option(help: "Threads for the kernels (default: all cores).")
    var threads: Int?

    @Flag(help: "Print {\"file\": .., \"text\": .., \"seconds\": ..} lines.")
    var json = false

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one audio file") }
        guard chunkMs >= 1, chunkMs <= 60_000 else { throw ValidationError("--chunk-ms must be 1 to 60000, got \(chunkMs)") }
    }

    func run() throws {
        try reportingErrors {
            if let threads { Parallel.threadCount = max(1, threads) }
            let recognizer = try SpeechRecognizer(contentsOf: model)
            let decoding = try decodingOptions.decoding()
            if stream, !recognizer.isStreamable { _ = try SpeechStream(recognizer, decoding: decoding) }  // says why not
            try DistributedLaunch.splittingWork("transcription") { communicator in
                // Under mpirun each rank reads and transcribes its share of the files; only
                // rank 0 shows partial transcripts.
                let showing = DistributedLaunch.isFirst(communicator)
                func transcribed(_ file: String) throws -> Transcript {
                    let clip = try AudioFile.read(path: file)
                    let text = stream ? try streamed(clip, name: file, recognizer: recognizer, decoding: decoding, showing: showing)
                        : try recognizer.transcribe(clip, name: file, decoding: decoding)
                    return Transcript(text: text, seconds: clip.duration)
                }
                guard let communicator else {
                    for file in files { show(try transcribed(file), of: file) }
                    return
                }
                let transcripts = try communicator.mapInOrder(files) { try $0.map(transcribed) }
                for (file, transcript) in zip(files, transcripts) { show(transcript, of: file) }
            }
        }
    }

    struct Transcript: Codable {
        var text: String
        var seconds: Double
    }

    func show(_ transcript: Transcript, of file: String) {
        if json {
            print("{\"file\": \(jsonText(file)), \"text\": \(jsonText(transcript.text)), \"seconds\": \(String(format: "%.3f", transcript.seconds))}")
        } else {
            print(files.count == 1 ? transcript.text : "\(file): \(transcript.text)")
        }
    }

    func streamed(_ clip: AudioClip, name: String, recognizer: SpeechRecognizer, decoding: SpeechDecoding, showing: Bool) throws -> String {
        let audio = clip.sampleRate == recognizer.sampleRate ? clip : clip.resampled(to: recognizer.sampleRate)
        try SpeechRecognizer.checkAudible(audio, name: name)
        let session = try SpeechStream(recognizer, decoding: decoding)
        let chunk = max(1, Int(Double(audio.sampleRate) * chunkMs / 1000))
        let terminal = isatty(2) != 0
        var shown = ""
        for start in stride(from: 0, to: audio.samples.count, by: chunk) {
            let partial = try session.push(Array(audio.samples[start..<min(audio.samples.count, start + chunk)]))
            guard showing, partial != shown else { continue }
            shown = partial
            let seconds = String(format: "%6.2f s", Double(min(audio.samples.count, start + chunk)) / Double(audio.sampleRate))
            FileHandle.standardError.write(Data((terminal ? "\r\u{1B}[K\(seconds)  \(partial)" : "\(seconds)  \(partial)\n").utf8))
        }
        let text = try session.finish()
        if terminal && showing { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        return text
    }
}

/// Refuses an output path whose folder does not exist or cannot be written, before any work.
func checkWritable(_ path: String) throws {
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw RecurrentError.io(path: path, reason: "cannot be written: no folder \(folder)")
    }
    guard FileManager.default.isWritableFile(atPath: folder) else {
        throw RecurrentError.io(path: path, reason: "cannot be written: the folder \(folder) is not writable")
    }
}
