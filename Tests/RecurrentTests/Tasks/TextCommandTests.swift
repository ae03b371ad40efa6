import Foundation
import XCTest
@testable import Recurrent

/// `recurrent text ...` through the built binary, on excerpts of the bundled plays.
final class TextCommandTests: ScratchDirectoryTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try FileManager.default.createDirectory(at: workDirectory.appendingPathComponent("plays"), withIntermediateDirectories: true)
        for (name, size) in [("hamlet", 30_000), ("macbeth", 6_000)] {
            try playExcerpt(name, characters: size).write(to: workDirectory.appendingPathComponent("plays/\(name).txt"), atomically: true, encoding: .utf8)
        }
    }

    func train(level: String, extra: [String] = []) throws -> String {
        let model = path("\(level).model")
        let result = try runCLI(["text", "train", path("plays"), "--level", level, "--hidden", "32", "--layers", "1", "--seq-len", "32",
                                 "--batch-size", "8", "--epochs", "2", "--learning-rate", "0.01", "--validation-fraction", "0.5",
                                 "-o", model] + extra)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("2 files: 1 for training, 1 for validation"), result.stderr)
        return model
    }

    func testCharacterModelTrainsEvaluatesGeneratesAndCompletes() throws {
        let model = try train(level: "char", extra: ["--embedding", "16"])
        let evaluation = try runCLI(["text", "evaluate", model, path("plays/macbeth.txt"), "--json"])
        XCTAssertEqual(evaluation.status, 0, evaluation.stderr)
        let last = try XCTUnwrap(evaluation.stdout.split(separator: "\n").last)
        let figures = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Double])
        let crossEntropy = try XCTUnwrap(figures["cross_entropy"]), bits = try XCTUnwrap(figures["bits_per_char"])
        XCTAssertEqual(bits, crossEntropy / log(2), accuracy: 1e-9)
        XCTAssertEqual(figures["tokens"], Double(try playExcerpt("macbeth", characters: 6_000).unicodeScalars.count - 1))
        XCTAssertLessThan(bits, 4.5, "a trained model beats guessing among ~60 characters (5.9 bits)")
        XCTAssertNil(figures["perplexity"])

        let generated = try runCLI(["text", "generate", model, "--prompt", "HAMLET.", "--length", "60", "--temperature", "0.7", "--top-k", "10", "--seed", "4"])
        XCTAssertEqual(generated.status, 0, generated.stderr)
        XCTAssertTrue(generated.stdout.hasPrefix("HAMLET."), generated.stdout)
        XCTAssertEqual(generated.stdout.unicodeScalars.count, "HAMLET.".count + 60 + 1)

        let completed = try runCLI(["text", "complete", model, "Good my lo", "--top", "3", "--json"])
        XCTAssertEqual(completed.status, 0, completed.stderr)
        let line = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(completed.stdout.utf8)) as? [String: Any])
        let completions = try XCTUnwrap(line["completions"] as? [[String: Any]])
        XCTAssertEqual(completions.count, 3)
        XCTAssertTrue(completions.allSatisfy { ($0["text"] as? String)?.hasPrefix("lo") ?? false }, "\(completions)")
    }

    /// Every token after the first is scored, whether the text fills whole rows of 32 windows,
    /// a few rows and a tail, or less than one window.
    func testEvaluateCountsEveryCharacterButTheFirst() throws {
        let model = try train(level: "char", extra: ["--embedding", "8", "--epochs", "1"])
        let hamlet = try playExcerpt("hamlet", characters: 30_000)
        for size in [2, 20, 1_000, 2_113, 30_000] {
            let text = String(hamlet.unicodeScalars.prefix(size))
            try text.write(toFile: path("piece.txt"), atomically: true, encoding: .utf8)
            let evaluation = try runCLI(["text", "evaluate", model, path("piece.txt"), "--json"])
            XCTAssertEqual(evaluation.status, 0, evaluation.stderr)
            let figures = try XCTUnwrap(JSONSerialization.jsonObject(with: Data((evaluation.stdout.split(separator: "\n").last ?? "").utf8)) as? [String: Double])
            XCTAssertEqual(figures["tokens"], Double(size - 1), "\(size) characters")
        }
    }

    func testTrainingDrawsTheLossCurvesBesideTheModel() throws {
        let model = try train(level: "char", extra: ["--embedding", "8"])
        let chart = try String(contentsOfFile: path("char-loss.svg"), encoding: .utf8)
        XCTAssertTrue(chart.hasPrefix("<svg"), chart)
        XCTAssertTrue(chart.contains("bits per character") && chart.contains("validation"), chart)
        XCTAssertEqual(chart.components(separatedBy: "<circle").count - 1, 2, "one dot for each epoch's validation")
        XCTAssertTrue(FileManager.default.fileExists(atPath: model))
    }

    func testWordModelGivesNextWordsWithPerplexity() throws {
        let model = try train(level: "word", extra: ["--lowercase", "--max-vocabulary", "500"])
        let info = try runCLI(["info", model])
        XCTAssertTrue(info.stdout.contains("weight tied to the embedding"), info.stdout)
        let evaluation = try runCLI(["text", "evaluate", model, path("plays/macbeth.txt"), "--json"])
        let last = try XCTUnwrap(evaluation.stdout.split(separator: "\n").last)
        let figures = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Double])
        XCTAssertEqual(figures["perplexity"] ?? 0, exp(figures["cross_entropy"] ?? 0), accuracy: 1e-6)
        XCTAssertLessThan(figures["perplexity"] ?? .infinity, 500, "beats a uniform guess over the vocabulary")
        let completed = try runCLI(["text", "complete", model, "I am going to", "--top", "4"])
        XCTAssertEqual(completed.status, 0, completed.stderr)
        let lines = completed.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 4)
        let probabilities = lines.compactMap { Double($0.split(separator: " ").last ?? "") }
        XCTAssertEqual(probabilities, probabilities.sorted(by: >))
        XCTAssertFalse(completed.stdout.contains("<unk>"))
        // A word model reads a partly typed word as a whole one (documented): the next word.
        let partial = try runCLI(["text", "complete", model, "good my lo", "--top", "3"])
        XCTAssertEqual(partial.status, 0, partial.stderr)
        XCTAssertEqual(partial.stdout, try runCLI(["text", "complete", model, "good my lo ", "--top", "3"]).stdout)
        XCTAssertEqual(partial.stdout.split(separator: "\n").count, 3)
        try assertFails(["text", "complete", model, "zyzzyva qwxqwx"], mentioning: ["knows none of its words"])
        // Words the model never saw count through <unk>, whichever they are.
        var unknownWordFigures: [String] = []
        for word in ["zyzzyva", "qwxqwx"] {
            try "to be, or \(word) not to be".write(toFile: path("\(word).txt"), atomically: true, encoding: .utf8)
            let result = try runCLI(["text", "evaluate", model, path("\(word).txt"), "--json"])
            XCTAssertEqual(result.status, 0, result.stderr)
            unknownWordFigures.append(String(result.stdout.split(separator: "\n").last ?? ""))
        }
        XCTAssertTrue(unknownWordFigures[0].hasPrefix("{\"tokens\": 7, "), unknownWordFigures[0])
        XCTAssertEqual(unknownWordFigures[0], unknownWordFigures[1])
        // Interactive: one set of candidates per line read.
        let session = try runCLI(["text", "complete", model, "--top", "2"], input: "to be or not\nwhat is\n")
        XCTAssertEqual(session.status, 0, session.stderr)
        let printed = session.stdout
        XCTAssertEqual(printed.split(separator: "\n").count, 4, printed)
    }

    func testBadInputsFailWithOneLine() throws {
        let output = path("out.model")
        try FileManager.default.createDirectory(atPath: path("notes"), withIntermediateDirectories: true)
        try "not a play".write(toFile: path("notes/readme.md"), atomically: true, encoding: .utf8)
        try assertFails(["text", "train", path("notes"), "--level", "char", "-o", output],
                            mentioning: ["notes", "no .txt files"], leavesNo: output)
        try Data("Fair is foul\nand foul is \u{E9}".utf8.dropLast()).write(to: URL(fileURLWithPath: path("latin.txt")))
        try assertFails(["text", "train", path("latin.txt"), "--level", "char", "-o", output],
                            mentioning: ["latin.txt", "line 2, column 13", "byte offset 25", "not UTF-8"], leavesNo: output)
        try "\n  \n".write(toFile: path("blank.txt"), atomically: true, encoding: .utf8)
        try assertFails(["text", "train", path("blank.txt"), "--level", "char", "-o", output], mentioning: ["blank.txt", "empty"], leavesNo: output)
        try FileManager.default.createDirectory(atPath: path("empty-plays"), withIntermediateDirectories: true)
        try Data().write(to: URL(fileURLWithPath: path("empty-plays/nothing.txt")))
        try assertFails(["text", "train", path("empty-plays"), "--level", "word", "-o", output], mentioning: ["empty-plays", "empty"], leavesNo: output)
        try assertFails(["text", "train", path("no-such-folder"), "--level", "char", "-o", output], mentioning: ["no-such-folder", "no such file"], leavesNo: output)

        let model = try train(level: "char", extra: ["--embedding", "8", "--epochs", "1"])
        try assertFails(["text", "generate", model, "--temperature", "0"], mentioning: ["temperature must be positive"])
        try assertFails(["text", "generate", model, "--temperature=-1"], mentioning: ["temperature must be positive"])
        try assertFails(["text", "generate", model, "--temperature", "-0.5"], mentioning: ["temperature must be positive"])
        try assertFails(["text", "evaluate", model, path("empty-plays/nothing.txt")], mentioning: ["nothing.txt", "0 tokens"])
        try assertFails(["text", "generate", model, "--prompt", "\u{1F600}\u{1F600}"], mentioning: ["knows none of its characters"])
        try assertFails(["text", "complete", model, "\u{1F600}"], mentioning: ["knows none of its characters"])
        try assertFails(["text", "evaluate", model, path("latin.txt")], mentioning: ["latin.txt", "not UTF-8"])
        // A folder where a file is asked for: said so, not a system error number.
        try assertFails(["text", "evaluate", model, path("notes")], mentioning: ["notes", "Is a directory"])
        try assertFails(["text", "evaluate", path("plays/hamlet.txt"), path("plays/hamlet.txt")], mentioning: ["hamlet.txt"])
    }
}
