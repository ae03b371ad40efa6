import Foundation
import XCTest
@testable import Recurrent

final class ClassificationTests: XCTestCase {
    static var repositoryData: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Data")
    }

    // MARK: - Confusion matrix

    func testConfusionMatrixMatchesScikitLearn() throws {
        // sklearn 1.9.1: accuracy_score, f1_score(average=None / "macro", labels=[0, 1, 2, 3], zero_division=0)
        let matrix = try ConfusionMatrix(classCount: 4, truth: [0, 0, 1, 1, 2, 2, 2, 3], predicted: [0, 1, 1, 1, 2, 0, 2, 2])
        XCTAssertEqual(matrix.counts, [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 2, 0], [0, 0, 1, 0]])
        XCTAssertEqual(matrix.accuracy, 0.625, accuracy: 1e-12)
        XCTAssertEqual((0..<4).map(matrix.f1), [0.5, 0.8, 2.0 / 3, 0], accuracy: 1e-12)
        XCTAssertEqual((0..<4).map(matrix.precision), [0.5, 2.0 / 3, 2.0 / 3, 0], accuracy: 1e-12)
        XCTAssertEqual((0..<4).map(matrix.recall), [0.5, 1, 2.0 / 3, 0], accuracy: 1e-12)
        XCTAssertEqual(matrix.macroF1, 0.4916666666666667, accuracy: 1e-12)
        XCTAssertThrowsError(try ConfusionMatrix(classCount: 2, truth: [0, 2], predicted: [0, 1]))
        XCTAssertThrowsError(try ConfusionMatrix(classCount: 2, truth: [0], predicted: [0, 1]))
    }

    func testBalancedClassWeightsEqualiseTheClasses() {
        // n / (C * count): 4 / (2 * 3) and 4 / (2 * 1); an absent class gets 1.
        XCTAssertEqual(Classifier.balancedWeights([0, 0, 0, 1], classCount: 3), [4.0 / 9, 4.0 / 3, 1])
        XCTAssertEqual(Classifier.balancedWeights([0, 0, 0, 1], classCount: 2), [4.0 / 6, 2])
    }

    // MARK: - Batching

    func testBucketsArePermutationsWithLittlePadding() {
        var rng = SplitMix64(seed: 3)
        let lengths = (0..<1000).map { _ in 1 + Int(rng.next() % 60) }
        var order = Array(0..<1000)
        shuffle(&order, using: &rng)
        let buckets = Batching.bucketedByLength(order, lengths: lengths, batchSize: 32, seed: 1)
        XCTAssertEqual(buckets.count, Batching.consecutive(order, batchSize: 32).count)
        XCTAssertEqual(buckets.joined().sorted(), Array(0..<1000))
        func padding(_ batches: [[Int]]) -> Int {
            batches.reduce(0) { total, batch in
                let longest = batch.map { lengths[$0] }.max() ?? 0
                return total + batch.reduce(0) { $0 + longest - lengths[$1] }
            }
        }
        let random = padding(Batching.consecutive(order, batchSize: 32))
        XCTAssertLessThan(padding(buckets) * 10, random, "bucketing should remove most of the padding")
        XCTAssertEqual(Batching.bucketedByLength(order, lengths: lengths, batchSize: 32, seed: 1), buckets, "seeded")
    }

    func testPaddedBatchPadsAndKeepsLengths() {
        let ids = PaddedBatch(tokenIDs: [[4, 5, 6], [7], []])
        XCTAssertEqual(ids.values.shape, [3, 3])
        XCTAssertEqual(ids.values.scalars, [4, 5, 6, 7, 0, 0, 0, 0, 0])
        XCTAssertEqual(ids.lengths, [3, 1, 1])
        let steps = PaddedBatch(steps: [[1, 2, 3, 4], [5, 6]], featuresPerStep: 2)
        XCTAssertEqual(steps.values.shape, [2, 2, 2])
        XCTAssertEqual(steps.values.scalars, [1, 2, 3, 4, 5, 6, 0, 0])
        XCTAssertEqual(steps.lengths, [2, 1])
    }

    func testTrainerFollowsTheBatchPlan() throws {
        let weight = Variable(Tensor(shape: [1], scalars: [1]), requiresGrad: true)
        var options = TrainingOptions()
        options.epochs = 2
        options.batchSize = 4
        let trainer = Trainer(optimizer: try SGD([weight], learningRate: 0.01), options: options)
        var seen: [[Int]] = []
        trainer.batchPlan = { order, epoch in [order.sorted().filter { $0 % 2 == epoch % 2 }] }
        _ = try trainer.fit(sampleCount: 6, loss: { batch in seen.append(batch); return (weight * weight).sum() })
        XCTAssertEqual(seen, [[1, 3, 5], [0, 2, 4]])
    }

    func testSplitIsTheOneTheReferenceScriptReproduces() {
        // scripts/classify_reference.py: split(10, 0.2, 0) and split(10, 0.2, 42)
        let first = SampleSplit(count: 10, testFraction: 0.2, validationFraction: 0.1, seed: 0)
        XCTAssertEqual([first.train, first.validation, first.test], [[9, 8, 1, 4, 7, 0, 5], [2], [6, 3]])
        let second = SampleSplit(count: 10, testFraction: 0.2, validationFraction: 0.1, seed: 42)
        XCTAssertEqual([second.train, second.validation, second.test], [[8, 6, 4, 7, 2, 1, 3], [5], [0, 9]])
    }

    // MARK: - Reading rows

    func rows(_ csv: String, _ input: ClassificationInput, labels: Bool = true) throws -> ClassificationRows {
        try ClassificationRows(table: CSVTable(text: csv, path: "reviews.csv"), input: input, requireLabels: labels)
    }

    func assertError(_ body: @autoclosure () throws -> Any, contains fragments: [String], line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) { error in
            let message = "\(error)"
            for fragment in fragments { XCTAssertTrue(message.contains(fragment), message, line: line) }
        }
    }

    func testRowsReadTextsAndStepsAndExcludeLabels() throws {
        let text = try rows("category,text\nfresh,A fine film.\nplot,Some story\nrotten,\"Dull, dull\"\n",
                            .text(labelColumn: "category", textColumn: "text", excludedLabels: ["plot"]))
        XCTAssertEqual(text.tokens, [["a", "fine", "film", "."], ["dull", ",", "dull"]])
        XCTAssertEqual(text.labels, ["fresh", "rotten"])
        XCTAssertEqual(text.lineNumbers, [2, 4])
        let steps = try rows("a,b,label,c,d\n1,2,x,3,4\n", .features(labelColumn: "label", featuresPerStep: 2))
        XCTAssertEqual(steps.values, [[1, 2, 3, 4]])
        XCTAssertEqual(steps.input.featureColumns, ["a", "b", "c", "d"])
    }

    func testBadRowsNameFileLineAndColumn() {
        let text = ClassificationInput.text(labelColumn: "category", textColumn: "text")
        assertError(try rows("category,text\nfresh,good\nrotten,  \n", text),
                    contains: ["reviews.csv", "line 3", "column 2", "\"text\"", "empty text"])
        assertError(try rows("category,text\n,good\n", text), contains: ["reviews.csv", "line 2", "column 1", "empty label"])
        assertError(try rows("label,text\nfresh,good\n", text), contains: ["reviews.csv", "no column \"category\""])
        assertError(try rows("category,txt\nfresh,good\n", text), contains: ["no column \"text\""])
        let steps = ClassificationInput.features(labelColumn: "label", featuresPerStep: 2)
        assertError(try rows("a,b,label\n1,2,x\n", .features(labelColumn: "label", featuresPerStep: 3)),
                    contains: ["2 feature columns", "steps of 3"])
        assertError(try rows("a,b,label\n1,2,x\n1,oops,y\n", steps), contains: ["line 3", "column 2", "\"b\"", "\"oops\" is not a number"])
        assertError(try rows("a,b,label\n1,2,x\n1,2\n", steps), contains: ["reviews.csv", "line 3", "2 fields"])
    }

    func testASingleClassIsRefused() throws {
        let single = try rows("category,text\nfresh,good\nfresh,fine\nfresh,great\n", .text(labelColumn: "category", textColumn: "text"))
        assertError(try Classifier.train(rows: single, configuration: ClassificationConfiguration(), options: TrainingOptions()),
                    contains: ["reviews.csv", "column \"category\"", "single class \"fresh\""])
    }

    // MARK: - Training on real data

    /// The 8x8 digits read as 8 rows of 8 pixels: eight epochs on the bundled file learn them,
    /// and the saved model predicts exactly what the trained one does.
    func testDigitsAreLearnedAndTheModelFileReproducesThem() throws {
        let table = try CSVTable(path: Self.repositoryData.appendingPathComponent("digits-8x8.csv").path)
        let rows = try ClassificationRows(table: table, input: .features(labelColumn: "label", featuresPerStep: 8), requireLabels: true)
        let configuration = ClassificationConfiguration()
        var options = TrainingOptions()
        options.epochs = 8
        let (classifier, report, history) = try Classifier.train(rows: rows, configuration: configuration, options: options)
        XCTAssertEqual(report.count, 359)
        XCTAssertEqual(report.labels, (0...9).map(String.init))
        XCTAssertGreaterThan(report.accuracy, 0.9, "test accuracy after 8 epochs")
        XCTAssertEqual(history.trainLoss.count, 8)

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("digits-\(UUID().uuidString).model").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try classifier.save(to: path)
        let loaded = try Classifier(contentsOf: path)
        let before = try classifier.predict(rows).map(\.probabilities)
        let after = try loaded.predict(rows).map(\.probabilities)
        XCTAssertEqual(before.count, 1797)
        for (a, b) in zip(before, after) {
            XCTAssertEqual(a, b)
            XCTAssertEqual(a.reduce(0, +), 1, accuracy: 1e-9)
        }
        XCTAssertEqual(try loaded.evaluate(rows).confusion.total, 1797)
    }

    func testTextClassifierPredictsTextsAndRefusesUnknownLabels() throws {
        var csv = "category,text\n"
        let words = ["good": "fresh", "fine": "fresh", "great": "fresh", "bad": "rotten", "dull": "rotten", "poor": "rotten"]
        var rng = SplitMix64(seed: 5)
        for _ in 0..<400 {
            let (word, label) = words.sorted { $0.key < $1.key }[Int(rng.next() % 6)]
            csv += "\(label),the film is \(word)\n"
        }
        let rows = try self.rows(csv, .text(labelColumn: "category", textColumn: "text"))
        var configuration = ClassificationConfiguration()
        configuration.hiddenSize = 16
        configuration.embeddingSize = 8
        configuration.bidirectional = true
        configuration.pooling = .max
        var options = TrainingOptions()
        options.epochs = 6
        options.batchSize = 16
        let (classifier, report, _) = try Classifier.train(rows: rows, configuration: configuration, options: options)
        XCTAssertEqual(report.accuracy, 1, "one word decides the label")
        let predictions = try classifier.predict(texts: ["the film is great", "the film is dull", "never seen words"])
        XCTAssertEqual(predictions.prefix(2).map(\.label), ["fresh", "rotten"])
        XCTAssertEqual(predictions[2].probabilities.count, 2)
        assertError(try classifier.predict(texts: ["  "]), contains: ["text 1 is empty"])
        let other = try self.rows("category,text\nfresh,good\nmeh,so so\n", .text(labelColumn: "category", textColumn: "text"))
        assertError(try classifier.evaluate(other), contains: ["reviews.csv", "line 3", "\"category\"", "label \"meh\" was never seen"])
    }
}

private func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}
