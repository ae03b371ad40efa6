import Foundation
import XCTest
@testable import Recurrent

/// `recurrent classify` on `.ts` files and `recurrent anomaly` through the built binary.
final class SensorsCommandTests: ScratchDirectoryTestCase {
    func lastJSON(_ output: String) throws -> [String: Any] {
        let line = try XCTUnwrap(output.split(separator: "\n").last, output)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
    }

    func testClassifyTrainEvaluatePredictOnTheArchiveSplit() throws {
        let train = repositoryFile("Data/sensors/BasicMotions_TRAIN.ts"), test = repositoryFile("Data/sensors/BasicMotions_TEST.ts")
        let model = path("motions.model")
        let trained = try runCLI(["classify", "train", "--train", train, "--test", test, "--epochs", "3", "--hidden", "16",
                                  "--cell", "gru", "--json", "-o", model])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertEqual(try lastJSON(trained.stdout)["n"] as? Int, 40, "the whole test file")
        XCTAssertEqual(try lastJSON(trained.stdout)["labels"] as? [String], ["Badminton", "Running", "Standing", "Walking"])
        XCTAssertTrue(trained.stderr.contains("100 to 100 steps of 6 values"), trained.stderr)
        let evaluated = try runCLI(["classify", "evaluate", model, test, "--json"])
        XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
        XCTAssertEqual(try lastJSON(evaluated.stdout)["accuracy"] as? Double, try lastJSON(trained.stdout)["accuracy"] as? Double)
        let predicted = try runCLI(["classify", "predict", model, "--input", test, "--json"])
        XCTAssertEqual(predicted.status, 0, predicted.stderr)
        XCTAssertEqual(predicted.stdout.split(separator: "\n").count, 40)
        let mixed = try runCLI(["classify", "train", "--train", train, "--label-column", "x", "-o", model])
        XCTAssertNotEqual(mixed.status, 0)
        XCTAssertTrue(mixed.stderr.contains("carries its channels and labels"), mixed.stderr)
    }

    func testAnomalyTrainDetectWithLabelsJSONAndPlot() throws {
        let data = repositoryFile("Data/sensors/mitdb.csv"), model = path("ecg.model"), plot = path("ecg.svg")
        let trained = try runCLI(["anomaly", "train", data, "--column", "data", "--train-until", "3000", "-o", model])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stdout.contains("threshold"), trained.stdout)
        let detected = try runCLI(["anomaly", "detect", model, data, "--labels", "label", "--json", "--plot", plot])
        XCTAssertEqual(detected.status, 0, detected.stderr)
        let evaluation = try XCTUnwrap(try lastJSON(detected.stdout)["evaluation"] as? [String: Any])
        XCTAssertEqual(evaluation["top_hit"] as? Bool, true, detected.stdout)
        XCTAssertGreaterThanOrEqual((evaluation["point_adjusted"] as? [String: Double])?["f1"] ?? 0, 0.9, detected.stdout)
        XCTAssertTrue(detected.stdout.contains("point-adjusted: precision"), detected.stdout)
        let svg = try String(contentsOfFile: plot, encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg") || svg.contains("<svg"), "an SVG")
        XCTAssertTrue(svg.contains("flagged") && svg.contains("threshold"), "the ranges and the threshold are drawn")

        let badLabels = try write("data,label\n1,0\n2,yes\n", to: "bad.csv")
        let refused = try runCLI(["anomaly", "detect", model, badLabels, "--labels", "label"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("bad.csv") && refused.stderr.contains("line 3"), refused.stderr)
        let short = try write("data\n" + (0..<50).map { "\($0 % 5)" }.joined(separator: "\n") + "\n", to: "short.csv")
        // Without --column: the file's one column of values is the signal (read, then too short).
        let tooShort = try runCLI(["anomaly", "train", short, "-o", path("short.model")])
        XCTAssertEqual(tooShort.status, 1)
        XCTAssertTrue(tooShort.stderr.contains("reading \"data\", the file's one column of values"), tooShort.stderr)
        XCTAssertTrue(tooShort.stderr.contains("short.csv") && tooShort.stderr.contains("--window"), tooShort.stderr)
        // Two columns of numbers and no --labels to set one aside: the error names both.
        let ambiguous = try runCLI(["anomaly", "train", data, "-o", path("ambiguous.model")])
        XCTAssertEqual(ambiguous.status, 1)
        XCTAssertTrue(ambiguous.stderr.contains("give --column NAME, the signal (the columns of numbers are \"data\", \"label\")"), ambiguous.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("ambiguous.model")))
    }
}
