import Foundation
import XCTest
@testable import Recurrent

/// Long runs through the built `recurrent`: a run killed with SIGKILL and resumed from its last
/// checkpoint ends with the model of the run never interrupted, bit for bit, for every `train`
/// verb; SIGINT writes a checkpoint; limits bound a run alone and say which stopped it; a
/// checkpoint that does not fit the run is refused in one line, with nothing overwritten.
final class LongRunCommandTests: ScratchDirectoryTestCase {
    func testARunKilledAndResumedEndsBitForBitLikeTheRunNeverInterruptedForEveryTrainVerb() throws {
        try assertKilledAndResumedRunsEndBitForBit(try trainingCommands())
    }

    func testChatMusicStrokesAndAnomalyRunsKilledAndResumedEndBitForBit() throws {
        try assertKilledAndResumedRunsEndBitForBit(try moreTrainingCommands())
    }

    /// Each command run whole, and run again killed with SIGKILL after its first checkpoint
    /// and resumed: every tensor of the two models has the same bits.
    func assertKilledAndResumedRunsEndBitForBit(_ commands: [(name: String, arguments: [String], every: Int)]) throws {
        for (name, arguments, every) in commands {
            let whole = path("\(name)-whole.model"), resumed = path("\(name)-resumed.model")
            let uninterrupted = try runCLI(arguments + ["-o", whole])
            XCTAssertEqual(uninterrupted.status, 0, "\(name): \(uninterrupted.stderr)")

            let checkpoint = resumed + ".checkpoint"
            let killed = try startCLI(arguments + ["-o", resumed, "--checkpoint-every", "\(every)"])
            while !FileManager.default.fileExists(atPath: checkpoint) && killed.isRunning { usleep(2_000) }
            kill(killed.processIdentifier, SIGKILL)
            killed.waitUntilExit()
            XCTAssertEqual(killed.terminationReason, .uncaughtSignal, "\(name): the run ended before it was killed; make it longer")
            XCTAssertFalse(FileManager.default.fileExists(atPath: resumed), "\(name): a killed run leaves no model")

            let continued = try runCLI(arguments + ["-o", resumed, "--checkpoint-every", "\(every)", "--resume", checkpoint])
            XCTAssertEqual(continued.status, 0, "\(name): \(continued.stderr)")
            XCTAssertTrue(continued.stderr.contains("resuming from \(checkpoint): step "), "\(name): \(continued.stderr)")
            let expected = try SafeTensors.read(from: whole).tensors, got = try SafeTensors.read(from: resumed).tensors
            XCTAssertEqual(expected.keys.sorted(), got.keys.sorted(), name)
            for (key, tensor) in expected {
                XCTAssertEqual(got[key]?.scalars.map(\.bitPattern), tensor.scalars.map(\.bitPattern), "\(name): \(key) differs after resuming")
            }
        }
    }

    /// A training of several networks in a row (the loss scale chosen between two, then a second
    /// ensemble member), killed during its third network and resumed: the finished networks come
    /// from the checkpoint, the third continues from it, and the ensemble file has every bit of
    /// the one never interrupted. A resume that would fit another number of networks is refused.
    func testSeveralForecastNetworksKilledDuringALaterOneResumeBitForBit() throws {
        func command(networks: Int) -> [String] {
            ["forecast", "train", repositoryFile("Data/m3-monthly-sample-train.csv"), "--season", "12", "--horizon", "6", "--hidden", "16",
             "--epochs", "4", "--loss-scale", "auto", "--ensemble", "\(networks)", "--threads", "1", "--seed", "7"]
        }
        let arguments = command(networks: 2)
        let whole = path("several-whole.model"), resumed = path("several-resumed.model"), checkpoint = resumed + ".checkpoint"
        let uninterrupted = try runCLI(arguments + ["-o", whole])
        XCTAssertEqual(uninterrupted.status, 0, uninterrupted.stderr)
        let stderr = path("several.txt")
        let killed = try startCLI(arguments + ["-o", resumed, "--checkpoint-every", "3"], stderr: stderr)
        // The first checkpoint of the third network (the ensemble's second member).
        func thirdNetworkCheckpointed() -> Bool {
            guard let text = try? String(contentsOfFile: stderr, encoding: .utf8), let start = text.range(of: "network 2 of 2") else { return false }
            return text[start.upperBound...].contains("checkpoint: step")
        }
        while killed.isRunning && !thirdNetworkCheckpointed() { usleep(2_000) }
        kill(killed.processIdentifier, SIGKILL)
        killed.waitUntilExit()
        XCTAssertEqual(killed.terminationReason, .uncaughtSignal, "the run ended before it was killed; make it longer")
        XCTAssertFalse(FileManager.default.fileExists(atPath: resumed))

        let continued = try runCLI(arguments + ["-o", resumed, "--checkpoint-every", "3", "--resume", checkpoint])
        XCTAssertEqual(continued.status, 0, continued.stderr)
        XCTAssertTrue(continued.stderr.contains("resuming network 3 of 3 networks: 2 to choose the loss scale, then 1 more for an ensemble of 2 "
                                                + "(networks 1-2 finished in the checkpoint)"), continued.stderr)
        XCTAssertTrue(continued.stderr.contains("resuming from \(checkpoint): step "), continued.stderr)
        for network in 1...2 {
            XCTAssertTrue(continued.stderr.contains("network \(network) of 3 networks: 2 to choose the loss scale, then 1 more for an ensemble "
                                                    + "of 2: taken from the checkpoint"), continued.stderr)
        }
        let expected = try SafeTensors.read(from: whole), got = try SafeTensors.read(from: resumed)
        for (key, tensor) in expected.tensors {
            XCTAssertEqual(got.tensors[key]?.scalars.map(\.bitPattern), tensor.scalars.map(\.bitPattern), "\(key) differs after resuming")
        }
        let members = try XCTUnwrap(expected.metadata[GlobalForecaster.membersKey])
        XCTAssertEqual(got.metadata[GlobalForecaster.membersKey], members, "the second member differs after resuming")
        XCTAssertEqual(got.metadata["forecast"], expected.metadata["forecast"])

        let output = path("other-plan.model")
        try assertFails(command(networks: 3) + ["-o", output, "--resume", checkpoint],
                        mentioning: ["cannot resume", "a training of 3 networks: 2 to choose the loss scale, then 1 more for an ensemble of 2",
                                     "this one fits 4 networks"], leavesNo: output)
    }

    func testSIGINTWritesACheckpointThatResumesToTheSameModel() throws {
        let arguments = ["text", "train"] + (try corpus()) + ["--level", "char", "--hidden", "24", "--seq-len", "20", "--batch-size", "8",
                                                            "--dropout", "0.1", "--threads", "1", "--max-steps", "3000"]
        let whole = path("whole.model"), interrupted = path("interrupted.model")
        XCTAssertEqual(try runCLI(arguments + ["-o", whole]).status, 0)
        let stderr = path("stderr.txt")
        let process = try startCLI(arguments + ["-o", interrupted], stderr: stderr)
        // Steps are shown once the run is under way; the interruption comes in the middle of it.
        while process.isRunning, !((try? String(contentsOfFile: stderr, encoding: .utf8))?.contains("epoch 2") ?? false) { usleep(5_000) }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let message = try String(contentsOfFile: stderr, encoding: .utf8)
        XCTAssertEqual(process.terminationStatus, 130, message)
        XCTAssertTrue(message.contains("interrupted by SIGINT at step ") && message.contains("--resume \(interrupted).checkpoint"), message)
        XCTAssertFalse(FileManager.default.fileExists(atPath: interrupted))

        let resumed = try runCLI(arguments + ["-o", interrupted, "--resume", interrupted + ".checkpoint"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("stopped by the step limit of 3000, reached first, at step 3000"), resumed.stderr)
        let expected = try SafeTensors.read(from: whole).tensors, got = try SafeTensors.read(from: interrupted).tensors
        for (key, tensor) in expected { XCTAssertEqual(got[key]?.scalars.map(\.bitPattern), tensor.scalars.map(\.bitPattern), key) }
    }

    func testAStepLimitAloneBoundsTheRunAndTheSummarySaysWhichLimitStoppedIt() throws {
        let arguments = ["text", "train"] + (try corpus()) + ["--level", "char", "--hidden", "16", "--seq-len", "20", "--batch-size", "8",
                                                            "--threads", "1", "-o", path("x.model")]
        // 12,000 characters make 75 windows an epoch: the text verb's default of 3 epochs would stop at 225.
        let bounded = try runCLI(arguments + ["--max-steps", "400"])
        XCTAssertEqual(bounded.status, 0, bounded.stderr)
        XCTAssertTrue(bounded.stderr.contains("stopped by the step limit of 400, reached first, at step 400, epoch 6"), bounded.stderr)
        XCTAssertTrue(bounded.stdout.contains("400 steps"), bounded.stdout)
        let both = try runCLI(arguments + ["--max-steps", "400", "--epochs", "2"])
        XCTAssertTrue(both.stderr.contains("completed: all 2 epochs (the epoch limit), at step 150"), both.stderr)
    }

    func testCheckpointsThatDoNotFitAreRefusedInOneLineWithNothingOverwritten() throws {
        let texts = try corpus()
        let base = ["text", "train"] + texts + ["--level", "char", "--hidden", "16", "--seq-len", "20", "--batch-size", "8", "--threads", "1"]
        let first = try runCLI(base + ["--max-steps", "100", "--checkpoint-every", "50", "-o", path("first.model")])
        XCTAssertEqual(first.status, 0, first.stderr)
        let checkpoint = path("first.model.checkpoint")
        let truncated = path("truncated.checkpoint")
        try FileContents.read(checkpoint).prefix(3000).write(to: URL(fileURLWithPath: truncated))
        let output = path("out.model")
        try "keep me".write(toFile: output, atomically: true, encoding: .utf8)

        let cases: [(arguments: [String], fragments: [String])] = [
            (base + ["--max-steps", "100", "--seed", "5", "--resume", checkpoint], ["cannot resume", "the seed (0 in the checkpoint, 5 now)"]),
            (["text", "train"] + texts + ["--level", "char", "--hidden", "24", "--seq-len", "20", "--batch-size", "8", "--max-steps", "100",
                                          "--resume", checkpoint], ["cannot resume", "the task's hiddenSize (16 in the checkpoint, 24 now)"]),
            (base + ["--max-steps", "100", "--resume", truncated], ["truncated.checkpoint", "not a readable checkpoint"]),
            (base + ["--max-steps", "100", "--resume", path("first.model")], ["first.model", "not a training checkpoint"]),
            (["classify", "train", repositoryFile("Data/digits-8x8.csv"), "--label-column", "label", "--features-per-step", "8",
              "--resume", checkpoint], ["cannot resume", "the model"]),
        ]
        for (arguments, fragments) in cases {
            let result = try runCLI(arguments + ["-o", output])
            XCTAssertEqual(result.status, 1, result.stderr)
            let errorLines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("recurrent: error:") }
            XCTAssertEqual(errorLines.count, 1, result.stderr)
            for fragment in fragments { XCTAssertTrue(result.stderr.contains(fragment), "\(fragment) in \(result.stderr)") }
            XCTAssertFalse(result.stderr.contains("epoch 1"), "refused before training: \(result.stderr)")
            XCTAssertEqual(try String(contentsOfFile: output, encoding: .utf8), "keep me")
        }
    }

    func testAModelGivenToAnotherTasksVerbIsNamedInOneMessage() throws {
        let languageModel = path("lm.model"), forecaster = path("f.model")
        let airline = repositoryFile("Data/airline-passengers.csv")
        XCTAssertEqual(try runCLI(["text", "train"] + (try corpus()) + ["--level", "char", "--hidden", "8", "--max-steps", "2", "-o", languageModel]).status, 0)
        XCTAssertEqual(try runCLI(["forecast", "train", airline, "--column", "Passengers", "--hidden", "8", "--max-steps", "2", "-o", forecaster]).status, 0)
        let predicted = try runCLI(["forecast", "predict", languageModel, airline])
        XCTAssertEqual(predicted.status, 1)
        XCTAssertTrue(predicted.stderr.contains("lm.model: not a forecaster of one series: it is a language model (made by recurrent text train)"),
                      predicted.stderr)
        let generated = try runCLI(["text", "generate", forecaster])
        XCTAssertEqual(generated.status, 1)
        XCTAssertTrue(generated.stderr.contains("f.model: not a language model: it is a forecaster of one series (made by recurrent forecast train)"),
                      generated.stderr)
    }

    func testAnOutputThatCannotBeWrittenIsRefusedBeforeTraining() throws {
        let result = try runCLI(["text", "train"] + (try corpus()) + ["--level", "char", "-o", "/nonexistent-dir/x.model"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("/nonexistent-dir/x.model: cannot be written: no folder /nonexistent-dir"), result.stderr)
        XCTAssertFalse(result.stderr.contains("step"), "refused before training: \(result.stderr)")
    }
}

extension ScratchDirectoryTestCase {
    /// A small character-level corpus cut from the bundled plays.
    func corpus() throws -> [String] {
        let play = try String(contentsOfFile: repositoryFile("Data/shakespeare/coriolanus.txt"), encoding: .utf8)
        let scalars = Array(play.unicodeScalars)
        let training = String(String.UnicodeScalarView(scalars[0..<12_000]))
        let validation = String(String.UnicodeScalarView(scalars[12_000..<15_000]))
        return [try write(training, to: "a.txt"), try write(validation, to: "b.txt")]
    }

    /// The command lines of every `train` verb, small enough to take a few seconds each, with
    /// dropout (and SpecAugment, scheduled sampling) so that random draws inside steps matter.
    func trainingCommands() throws -> [(name: String, arguments: [String], every: Int)] {
        func data(_ name: String) -> String { repositoryFile("Data/" + name) }
        let g2p = try String(contentsOfFile: data("cmudict/train.dict"), encoding: .utf8).split(separator: "\n")
        let pairs = stride(from: 0, to: g2p.count, by: g2p.count / 300).prefix(300).map { index -> String in
            let parts = g2p[index].split(separator: " ", maxSplits: 1)
            return "\(parts[0])\t\(parts.count > 1 ? parts[1] : "")"
        }
        let pairsFile = try write(pairs.joined(separator: "\n") + "\n", to: "g2p.tsv")
        let speech = try String(contentsOfFile: data("speech/train.tsv"), encoding: .utf8).split(separator: "\n").prefix(25)
        let speechFile = try write(speech.map { $0.hasPrefix("asterisk") ? data("speech/" + $0) : String($0) }.joined(separator: "\n") + "\n",
                                   to: "speech.tsv")
        let common = ["--threads", "1", "--seed", "7"]
        return [
            ("text", ["text", "train"] + (try corpus()) + ["--level", "char", "--hidden", "24", "--layers", "2", "--dropout", "0.2",
                                                             "--seq-len", "20", "--batch-size", "8", "--epochs", "5"] + common, 40),
            ("classify", ["classify", "train", data("digits-8x8.csv"), "--label-column", "label", "--features-per-step", "8",
                          "--hidden", "16", "--dropout", "0.2", "--epochs", "8"] + common, 15),
            ("forecast", ["forecast", "train", data("airline-passengers.csv"), "--column", "Passengers", "--hidden", "16",
                          "--dropout", "0.2", "--epochs", "40"] + common, 9),
            ("forecast-panel", ["forecast", "train", data("m3-monthly-sample-train.csv"), "--season", "12", "--horizon", "6",
                                "--hidden", "16", "--epochs", "5"] + common, 5),
            ("seq2seq", ["seq2seq", "train", pairsFile, "--target-level", "word", "--hidden", "16", "--embedding-size", "8",
                         "--attention", "bahdanau", "--sampling-probability", "0.3", "--dropout", "0.2", "--batch-size", "16",
                         "--epochs", "8"] + common, 10),
            ("speech", ["speech", "train", speechFile, "--hidden", "16", "--layers", "1", "--subsample", "3", "--batch-size", "8",
                        "--spec-augment", "--dropout", "0.2", "--epochs", "12"] + common, 4),
        ]
    }
}

extension ScratchDirectoryTestCase {
    /// The command lines of the chat, music (tunes and piano rolls), strokes and anomaly `train`
    /// verbs, a few seconds each, with dropout where the verb takes it.
    func moreTrainingCommands() throws -> [(name: String, arguments: [String], every: Int)] {
        func data(_ name: String) -> String { repositoryFile("Data/" + name) }
        let common = ["--threads", "1", "--seed", "7"]
        let dialogue = ["greetings.yml", "conversations.yml", "emotion.yml"].map { data("dialogue/chatterbot/" + $0) }
        return [
            ("chat", ["chat", "train"] + dialogue + ["--hidden", "16", "--embedding-size", "8", "--max-turn-tokens", "12",
                                                     "--dropout", "0.2", "--batch-size", "16", "--epochs", "4"] + common, 6),
            ("music-tunes", ["music", "train", data("music/oneills1850/0001-0050.abc"), "--hidden", "16", "--layers", "1",
                             "--embedding", "8", "--dropout", "0.2", "--batch-size", "8", "--epochs", "4"] + common, 8),
            ("music-pianoroll", ["music", "train", "--format", "pianoroll", data("music/bach"), "--hidden", "16", "--dropout", "0.2",
                                 "--batch-size", "4", "--epochs", "8"] + common, 6),
            ("strokes", ["strokes", "train", data("strokes/kanjivg"), "--hidden", "16", "--components", "2", "--dropout", "0.2",
                         "--batch-size", "5", "--epochs", "12"] + common, 6),
            ("anomaly", ["anomaly", "train", data("sensors/mitdb.csv"), "--column", "data", "--train-until", "3000", "--hidden", "8",
                         "--epochs", "6"] + common, 6),
        ]
    }
}

/// Starts the built `recurrent` without waiting; standard output is dropped, standard error goes
/// to `stderr` (a file) or is dropped.
func startCLI(_ arguments: [String], stderr: String? = nil) throws -> Process {
    let process = Process()
    process.executableURL = productsDirectory.appendingPathComponent("recurrent")
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    if let stderr {
        FileManager.default.createFile(atPath: stderr, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderr))
    } else {
        process.standardError = FileHandle.nullDevice
    }
    try process.run()
    return process
}
