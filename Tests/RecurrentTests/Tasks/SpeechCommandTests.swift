import Foundation
import XCTest
@testable import Recurrent

/// `recurrent speech ...` through the built binary, on spoken digits of the bundled prompts.
final class SpeechCommandTests: ScratchDirectoryTestCase {
    func trainDigits(extra: [String] = []) throws -> (model: String, result: CommandResult) {
        try writeSpeechManifest(spokenDigits, to: path("digits.tsv"))
        // Validation on a training digit: the kept epoch follows what the model learns.
        try writeSpeechManifest([("digits/2.wav", "two")], to: path("two.tsv"))
        let model = path("digits.model")
        let result = try runCLI(["speech", "train", path("digits.tsv"), "--validation", path("two.tsv"), "--hidden", "48", "--layers", "1",
                                 "--subsample", "1", "--dropout", "0", "--learning-rate", "0.01", "--batch-size", "8", "--epochs", "150", "--seed", "3",
                                 "--json", "-o", model] + extra)
        XCTAssertEqual(result.status, 0, result.stderr)
        return (model, result)
    }

    func testTrainEvaluateTranscribe() throws {
        let (model, training) = try trainDigits()
        XCTAssertTrue(training.stdout.contains("wrote \(model): 13 characters + blank"), training.stdout)
        XCTAssertTrue(training.stderr.contains("val CER"), "progress shows the validation CER")
        let svg = try String(contentsOfFile: path("digits-loss.svg"), encoding: .utf8)
        XCTAssertTrue(svg.contains("Validation character error rate") && svg.contains("<polyline"), "the curves are drawn beside the model")
        let trained = try XCTUnwrap(JSONSerialization.jsonObject(with: Data((training.stdout.split(separator: "\n").last ?? "").utf8)) as? [String: Any])
        XCTAssertEqual(trained["validation_utterances"] as? Int, 1)

        let evaluation = try runCLI(["speech", "evaluate", model, path("digits.tsv"), "--json"])
        XCTAssertEqual(evaluation.status, 0, evaluation.stderr)
        let figures = try XCTUnwrap(JSONSerialization.jsonObject(with: Data((evaluation.stdout.split(separator: "\n").last ?? "").utf8)) as? [String: Any])
        XCTAssertEqual(Set(figures.keys), ["utterances", "cer", "wer", "seconds_of_audio"])
        XCTAssertEqual(figures["utterances"] as? Int, 8)
        let cer = try XCTUnwrap(figures["cer"] as? Double)
        XCTAssertLessThan(cer, 0.25, evaluation.stdout)
        let seconds = try XCTUnwrap(figures["seconds_of_audio"] as? Double)
        let expected = try spokenDigits.map { try WAVFile.read(path: "\(speechData)/asterisk-en/\($0.0)").duration }.reduce(0, +)
        XCTAssertEqual(seconds, expected, accuracy: 0.06)

        // One file: the transcript alone; several: one "FILE: text" line each, as evaluate heard them.
        let files = spokenDigits.prefix(3).map { "\(speechData)/asterisk-en/\($0.0)" }
        let one = try runCLI(["speech", "transcribe", model, files[0]])
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertEqual(one.stdout.split(separator: "\n").count, 1)
        let several = try runCLI(["speech", "transcribe", model] + files + ["--beam", "4"])
        XCTAssertEqual(several.status, 0, several.stderr)
        let lines = several.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        for (line, file) in zip(lines, files) { XCTAssertTrue(line.hasPrefix("\(file): "), String(line)) }
        let json = try runCLI(["speech", "transcribe", model, files[1], "--json"])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["file"] as? String, files[1])
        XCTAssertNotNil(object["text"] as? String)
    }

    func testStreamPrintsTheGrowingTranscript() throws {
        let (model, _) = try trainDigits(extra: ["--unidirectional"])
        let file = "\(speechData)/asterisk-en/digits/8.wav"
        let offline = try runCLI(["speech", "transcribe", model, file])
        let streamed = try runCLI(["speech", "transcribe", model, file, "--stream"])
        XCTAssertEqual(streamed.status, 0, streamed.stderr)
        XCTAssertEqual(streamed.stdout, offline.stdout, "the stream's final transcript is the whole clip's")
        let partials = streamed.stderr.split(separator: "\n")
        XCTAssertFalse(partials.isEmpty, "partial transcripts on standard error")
        XCTAssertTrue(partials.allSatisfy { $0.contains(" s  ") }, streamed.stderr)

        let (bidirectional, _) = try trainDigits()
        try assertFails(["speech", "transcribe", bidirectional, file, "--stream"], mentioning: ["bidirectional", "--unidirectional"])
    }

    func testBadInputIsOneLineAndWritesNoModel() throws {
        let output = path("bad.model")
        // A manifest row naming a missing file: the manifest and the line.
        _ = try write("path\ttext\n\(speechData)/asterisk-en/digits/1.wav\tone\nnowhere.wav\thello\n", to: "missing.tsv")
        try assertFails(["speech", "train", path("missing.tsv"), "-o", output], mentioning: ["missing.tsv", "line 3", "nowhere.wav"], leavesNo: output)
        _ = try write("file\ttext\nx.wav\thello\n", to: "nopath.tsv")
        try assertFails(["speech", "train", path("nopath.tsv"), "-o", output], mentioning: ["nopath.tsv", "no \"path\" column"], leavesNo: output)
        // Not RIFF/WAVE: a text file named .wav.
        _ = try write("hello, I am not audio\n", to: "fake.wav")
        _ = try write("path\ttext\nfake.wav\thello\n", to: "fake.tsv")
        try assertFails(["speech", "train", path("fake.tsv"), "-o", output], mentioning: ["fake.wav"], leavesNo: output)
        // Silence only.
        try writeSpeechManifest([("silence/1.wav", "nothing")], to: path("silent.tsv"))
        try assertFails(["speech", "train", path("silent.tsv"), "-o", output], mentioning: ["silence/1.wav", "silent"], leavesNo: output)
        // An output folder that does not exist is refused before training.
        try writeSpeechManifest(spokenDigits, to: path("digits.tsv"))
        try assertFails(["speech", "train", path("digits.tsv"), "-o", path("nowhere/x.model")], mentioning: ["nowhere/x.model", "no folder"])
    }

    /// Too short for its transcript: skipped with a warning naming it in training, refused in evaluation.
    func testUtteranceTooShortForItsTranscript() throws {
        try writeSpeechManifest(spokenDigits + [("digits/oh.wav", "this text is far too long for half a second of audio to say")], to: path("short.tsv"))
        let model = path("short.model")
        let training = try runCLI(["speech", "train", path("short.tsv"), "--hidden", "16", "--layers", "1", "--epochs", "1",
                                   "--subsample", "3", "-o", model])
        XCTAssertEqual(training.status, 0, training.stderr)
        XCTAssertTrue(training.stderr.contains("left out 1 training utterance too short") && training.stderr.contains("digits/oh.wav"), training.stderr)
        try assertFails(["speech", "evaluate", model, path("short.tsv")], mentioning: ["short.tsv", "line 10", "digits/oh.wav", "too short"])
    }
}
