import Foundation
import XCTest
@testable import Recurrent

/// `recurrent seq2seq` as a user runs it: the built binary on small real pairs.
final class Seq2SeqCommandTests: ScratchDirectoryTestCase {
    /// 200 CMUdict entries from across the alphabet as source TAB target lines.
    func writeSampleTSV() throws -> String {
        let all = try Seq2SeqPairs(contentsOf: repositoryFile("Data/cmudict/test.dict"), format: .cmudict)
        let lines = stride(from: 0, to: all.count, by: all.count / 200).prefix(200).map { "\(all.sources[$0])\t\(all.targets[$0])" }
        let file = path("pairs.tsv")
        try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    func testTrainEvaluateTranslateOnASmallTSV() throws {
        let pairs = try writeSampleTSV(), model = path("tiny.model")
        let trained = try runCLI(["seq2seq", "train", pairs, "--target-level", "word", "--hidden", "16", "--embedding-size", "8",
                                  "--epochs", "2", "--batch-size", "16", "--beam", "2", "--json", "-o", model])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: model))
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("tiny-loss.svg")), "loss curves beside the model")
        XCTAssertTrue(trained.stderr.contains("validation: loss"), trained.stderr)

        let evaluated = try runCLI(["seq2seq", "evaluate", model, pairs, "--beam", "3", "--json"])
        XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
        let last = try XCTUnwrap(evaluated.stdout.split(separator: "\n").last)
        let figures = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Double])
        XCTAssertEqual(Set(figures.keys), ["pairs", "exact_match", "token_error_rate", "bleu"])
        XCTAssertEqual(figures["pairs"], 200)
        for key in ["exact_match", "bleu"] { XCTAssertTrue((0...1).contains(figures[key] ?? -1), "\(key): \(last)") }
        XCTAssertGreaterThan(figures["token_error_rate"] ?? -1, 0)

        let translated = try runCLI(["seq2seq", "translate", model, "hello", "--plot-attention", path("attention.svg")])
        XCTAssertEqual(translated.status, 0, translated.stderr)
        XCTAssertFalse(translated.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        let svg = try String(contentsOfFile: path("attention.svg"), encoding: .utf8)
        XCTAssertTrue(svg.contains("Attention: hello"), "the heat map names the source")
        // Without attention there is nothing to draw: an error, not an empty picture.
        let plain = path("plain.model")
        XCTAssertEqual(try runCLI(["seq2seq", "train", pairs, "--attention", "none", "--hidden", "8", "--epochs", "1", "-o", plain]).status, 0)
        let noAttention = try runCLI(["seq2seq", "translate", plain, "hello", "--plot-attention", path("none.svg")])
        XCTAssertEqual(noAttention.status, 1)
        XCTAssertTrue(noAttention.stderr.contains("no attention to draw"), noAttention.stderr)
        // Characters never seen in training read as the unknown token.
        XCTAssertEqual(try runCLI(["seq2seq", "translate", model, "ü€"]).status, 0)
    }

    func testBadInputGivesOneLineNamingTheFileAndLine() throws {
        let noTab = path("no-tab.tsv")
        try "cat\tK AE T\ndog D AO G\n".write(toFile: noTab, atomically: true, encoding: .utf8)
        let emptyTarget = path("empty.tsv")
        try "cat\tK AE T\ndog\t\n".write(toFile: emptyTarget, atomically: true, encoding: .utf8)
        let cases: [(String, String)] = [
            (noTab, "\(noTab): line 2: no TAB between source and target"),
            (emptyTarget, "\(emptyTarget): line 2, column 5: empty target"),
            (path("missing.tsv"), path("missing.tsv")),
        ]
        for (file, expected) in cases {
            let result = try runCLI(["seq2seq", "train", file, "-o", path("never.model")])
            XCTAssertEqual(result.status, 1, result.stderr)
            let lines = result.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, result.stderr)
            XCTAssertTrue(result.stderr.hasPrefix("recurrent: error: \(expected)"), result.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("never.model")))
        let notAModel = try runCLI(["seq2seq", "translate", noTab, "cat"])
        XCTAssertEqual(notAModel.status, 1)
        XCTAssertTrue(notAModel.stderr.hasPrefix("recurrent: error: \(noTab)"), notAModel.stderr)
    }
}
