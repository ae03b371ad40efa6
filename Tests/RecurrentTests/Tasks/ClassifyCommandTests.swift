import Foundation
import XCTest
@testable import Recurrent

/// `recurrent classify` through the built binary, on the bundled review sentences and digits.
final class ClassifyCommandTests: ScratchDirectoryTestCase {
    /// Rows of a bundled CSV chosen by `keep(index, row)`, written back as CSV with every field quoted.
    func subset(of file: String, _ keep: (Int, [String]) -> Bool) throws -> String {
        let table = try CSVTable(path: ClassificationTests.repositoryData.appendingPathComponent(file).path)
        let rows = [table.header] + table.rows.enumerated().filter { keep($0.offset, $0.element) }.map(\.element)
        return rows.map { $0.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }.joined(separator: ",") }
            .joined(separator: "\n") + "\n"
    }

    struct Report: Decodable {
        var accuracy: Double
        var macro_f1: Double
        var n: Int
        var labels: [String]
        var confusion: [[Int]]
    }

    func lastJSONLine<T: Decodable>(_ output: String, as type: T.Type) throws -> T {
        let line = try XCTUnwrap(output.split(separator: "\n").last, output)
        return try JSONDecoder().decode(T.self, from: Data(line.utf8))
    }

    /// Review sentences: train with --json, evaluate on other rows, predict texts and rows.
    func testReviewSentencesTrainEvaluatePredict() throws {
        // 1,000 review sentences for training; 300 rows further on, plot summaries among them, for evaluation.
        var sentences = 0
        let train = try write(try subset(of: "rotten-tomatoes-sentences.csv") { _, row in
            if row[0] != "plot" { sentences += 1 }
            return row[0] != "plot" && sentences <= 1000
        }, to: "train.csv")
        var evaluationRows: [[String]] = []
        let evaluation = try write(try subset(of: "rotten-tomatoes-sentences.csv") { index, row in
            let kept = (1050..<1097).contains(index) || (5000..<5253).contains(index)
            if kept { evaluationRows.append(row) }
            return kept
        }, to: "eval.csv")
        let model = path("sentiment.model")
        let trained = try runCLI(["classify", "train", train, "--label-column", "category", "--text-column", "text",
                                  "--exclude-label", "plot", "--epochs", "2", "--hidden", "24", "--embedding-size", "16",
                                  "--bidirectional", "--json", "-o", model])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let report = try lastJSONLine(trained.stdout, as: Report.self)
        XCTAssertEqual(report.labels, ["fresh", "rotten"])
        XCTAssertEqual(report.n, 200, "20% of 1,000 rows")
        XCTAssertEqual(report.confusion.joined().reduce(0, +), 200)
        XCTAssertEqual(report.accuracy, Double(report.confusion[0][0] + report.confusion[1][1]) / 200, accuracy: 1e-4)
        XCTAssertTrue(trained.stdout.contains("macro-F1"), trained.stdout)
        XCTAssertTrue(trained.stderr.contains("epoch 2/2"), "progress on standard error")

        let evaluated = try runCLI(["classify", "evaluate", model, evaluation, "--json"])
        XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
        let evaluationReport = try lastJSONLine(evaluated.stdout, as: Report.self)
        let plotRows = evaluationRows.filter { $0[0] == "plot" }.count
        XCTAssertGreaterThan(plotRows, 0)
        XCTAssertEqual(evaluationReport.n, 300 - plotRows, "plot rows are left out as in training")

        let predicted = try runCLI(["classify", "predict", model, "A gorgeous, moving film.", "Tedious and empty.", "--json"])
        XCTAssertEqual(predicted.status, 0, predicted.stderr)
        struct Prediction: Decodable { var label: String; var probabilities: [String: Double]; var line: Int? }
        let predictions = try predicted.stdout.split(separator: "\n").map { try JSONDecoder().decode(Prediction.self, from: Data($0.utf8)) }
        XCTAssertEqual(predictions.count, 2)
        for prediction in predictions {
            XCTAssertEqual(prediction.probabilities.values.reduce(0, +), 1, accuracy: 2e-4)
            XCTAssertEqual(prediction.probabilities.max { $0.value < $1.value }?.key, prediction.label)
        }
        let rows = try runCLI(["classify", "predict", model, "--input", evaluation])
        XCTAssertEqual(rows.status, 0, rows.stderr)
        XCTAssertEqual(rows.stdout.split(separator: "\n").count, 300 - plotRows, "plot summaries skipped as in evaluate")
    }

    /// 784 pixel columns read as 28 rows of 28 pixels.
    func testDigitsAsRowsOfPixels() throws {
        // Every 17th digit: the file is sorted by label.
        let data = try write(try subset(of: "mnist-5k.csv") { index, _ in index % 17 == 0 }, to: "mnist.csv")
        let trained = try runCLI(["classify", "train", data, "--label-column", "label", "--features-per-step", "28",
                                  "--epochs", "1", "--hidden", "16", "--json", "-o", path("mnist.model")])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stderr.contains("28 steps of 28 values"), trained.stderr)
        let report = try lastJSONLine(trained.stdout, as: Report.self)
        XCTAssertEqual(report.n, 59, "20% of 295 rows")
        XCTAssertEqual(report.labels, (0...9).map(String.init))
        XCTAssertEqual(report.confusion.count, report.labels.count)

        let predicted = try runCLI(["classify", "predict", path("mnist.model"), "--input", data, "--json"])
        XCTAssertEqual(predicted.status, 0, predicted.stderr)
        XCTAssertEqual(predicted.stdout.split(separator: "\n").count, 295)
        XCTAssertTrue(predicted.stdout.hasPrefix("{\"line\": 2, \"label\": "), predicted.stdout)
        let texts = try runCLI(["classify", "predict", path("mnist.model"), "some text"])
        XCTAssertNotEqual(texts.status, 0)
        XCTAssertTrue(texts.stderr.contains("numeric sequences, not text"), texts.stderr)

        let narrow = try write("pixel0,pixel1,label\n1,2,3\n", to: "narrow.csv")
        let wrongColumns = try runCLI(["classify", "evaluate", path("mnist.model"), narrow])
        XCTAssertNotEqual(wrongColumns.status, 0)
        XCTAssertTrue(wrongColumns.stderr.contains("narrow.csv: no column \"pixel2\""), wrongColumns.stderr)
    }

    func testBadInputIsOneLineNamingFileLineAndColumn() throws {
        let good = "category,text\nfresh,good film\nrotten,bad film\n"
        let cases: [(csv: String, extra: [String], fragments: [String])] = [
            (good, ["--label-column", "label"], ["no column \"label\""]),
            (good, ["--text-column", "review"], ["no column \"review\""]),
            ("category,text\nfresh,good\nfresh,fine\nfresh,great\n", [], ["single class \"fresh\""]),
            ("category,text\nfresh,good\nrotten,\"\"\n", [], ["line 3, column 2 (\"text\"): empty text"]),
            ("category,text\nfresh,good\nrotten,bad,extra\n", [], ["line 3: 3 fields, but the header has 2"]),
        ]
        for (index, testCase) in cases.enumerated() {
            let file = try write(testCase.csv, to: "bad\(index).csv")
            var arguments = ["classify", "train", file, "--label-column", "category", "--text-column", "text", "-o", path("bad\(index).model")]
            for pair in stride(from: 0, to: testCase.extra.count, by: 2) {
                if let at = arguments.firstIndex(of: testCase.extra[pair]) { arguments[at + 1] = testCase.extra[pair + 1] }
            }
            let result = try runCLI(arguments)
            XCTAssertEqual(result.status, 1, "case \(index)")
            // Notes may precede it; the error is the last line, and one line.
            let message = String(result.stderr.split(separator: "\n").last ?? "")
            XCTAssertTrue(message.hasPrefix("recurrent: error: \(file)"), message)
            for fragment in testCase.fragments { XCTAssertTrue(message.contains(fragment), "case \(index): \(message)") }
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("bad\(index).model")), "no model after an error")
        }
        let directory = TorchFixture.directory.path
        _ = try runCLI(["import", "torch", "\(directory)/gru_bidirectional_2layer.safetensors",
                        "--config", "\(directory)/gru_bidirectional_2layer.json", "-o", path("gru.model")])
        let notAClassifier = try runCLI(["classify", "predict", path("gru.model"), "some text"])
        XCTAssertEqual(notAClassifier.status, 1)
        XCTAssertTrue(notAClassifier.stderr.contains("gru.model: not a classifier"), notAClassifier.stderr)
        let neither = try runCLI(["classify", "train", path("x.csv"), "--label-column", "category", "-o", path("x.model")])
        XCTAssertNotEqual(neither.status, 0)
        XCTAssertTrue(neither.stderr.contains("exactly one of --text-column NAME and --features-per-step K"), neither.stderr)
    }
}
