import Foundation
import XCTest
@testable import Recurrent

/// The stroke network's initial state from the character, model files with and without it, and
/// the nearest-reference measure of conditioned drawings.
final class StrokeConditioningTests: ScratchDirectoryTestCase {
    func line(_ from: (Double, Double), _ to: (Double, Double)) -> [DrawingPoint] {
        [DrawingPoint(x: from.0, y: from.1), DrawingPoint(x: to.0, y: to.1)]
    }

    func testInitialStateGradientsMatchFiniteDifferences() {
        for cell in [CellKind.lstm, .gru] {
            let architecture = StrokeNetworkArchitecture(characterCount: 3, embeddingSize: 4, cell: cell, hiddenSize: 5, numLayers: 2, componentCount: 2)
            let network = StrokeNetwork(architecture, seed: 7)
            XCTAssertEqual(network.initialHidden.count, 2)
            XCTAssertEqual(network.initialCell.count, cell == .lstm ? 2 : 0)
            var rng = SplitMix64(seed: 3)
            let steps = Tensor.uniform(shape: [2, 3, 5], low: -1, high: 1, using: &rng)
            var checked = [network.initialHidden[0].weight, network.initialHidden[1].weight, network.initialHidden[1].bias!]
            checked += network.initialCell.map(\.weight) + [network.characters!.weight]
            checkGradients(of: checked) { network.run(steps, characters: [0, 2], state: nil).output }
            let states = GradientMode.withoutRecording { network.initialState(characters: [0, 1, 2])! }
            XCTAssertEqual(states.hidden.shape, [2, 3, 5])
            let firstRows = (0..<3).map { Array(states.hidden.value.scalars[($0 * 5)..<($0 * 5 + 5)]) }
            XCTAssertNotEqual(firstRows[0], firstRows[1], "each character starts from its own state")
        }
    }

    func testModelFilesWithAndWithoutTheInitialStateLoad() throws {
        let (drawings, _) = try StrokeDrawing.read(paths: [repositoryFile("Data/strokes/kanjivg")])
        let data = try StrokeDataset(drawings: drawings)
        var configuration = StrokeModelConfiguration()
        (configuration.hiddenSize, configuration.componentCount, configuration.embeddingSize) = (8, 2, 4)
        var options = TrainingOptions()
        (options.epochs, options.batchSize) = (1, 5)
        for startsFromCharacter in [true, false] {
            configuration.initialStateFromCharacter = startsFromCharacter
            let (model, _, validation) = try StrokeModel.train(data, configuration: configuration, options: options)
            XCTAssertEqual(model.network.initialHidden.count, startsFromCharacter ? 1 : 0)
            let file = path("strokes-\(startsFromCharacter).model")
            try model.model.save(to: file)
            if !startsFromCharacter {
                // Files written before the initial state and the first offsets existed lack their keys.
                var stored = try SafeTensors.read(from: file)
                for key in ["architecture", "strokes"] {
                    let json = try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(stored.metadata[key]).utf8))
                    let stripped = try JSONSerialization.data(withJSONObject: removing(["initialStateFromCharacter", "firstOffsets"], from: json))
                    stored.metadata[key] = String(decoding: stripped, as: UTF8.self)
                    XCTAssertNotEqual(stored.metadata[key]?.count, String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self).count)
                }
                try stored.write(to: file)
            }
            let loaded = try StrokeModel(contentsOf: file)
            XCTAssertEqual(loaded.network.architecture.initialStateFromCharacter, startsFromCharacter)
            XCTAssertEqual(loaded.knowsFirstOffsets, startsFromCharacter)
            if !startsFromCharacter {
                XCTAssertThrowsError(try loaded.generate(characters: [0], firstOffsetFromData: true)) { error in
                    XCTAssertTrue("\(error)".contains("does not hold its characters' first offsets"), "\(error)")
                }
            }
            XCTAssertEqual(loaded.network.parameters.map(\.value), model.network.parameters.map(\.value))
            XCTAssertEqual(try loaded.evaluate(data.validation), try XCTUnwrap(validation), accuracy: 1e-5)
            XCTAssertEqual(try loaded.generate(characters: [1, 4], temperature: 0.3, seed: 2, maximumSteps: 30).map { $0.map(\.count) },
                           try model.generate(characters: [1, 4], temperature: 0.3, seed: 2, maximumSteps: 30).map { $0.map(\.count) })
        }
    }

    /// `json` without the `keys`, at any depth.
    func removing(_ keys: Set<String>, from json: Any) -> Any {
        if let object = json as? [String: Any] {
            return object.filter { !keys.contains($0.key) }.mapValues { removing(keys, from: $0) }
        }
        return (json as? [Any]).map { $0.map { removing(keys, from: $0) } } ?? json
    }

    func testFirstOffsetFromDataStartsWhereTheReferenceStarts() throws {
        let (drawings, _) = try StrokeDrawing.read(paths: [repositoryFile("Data/strokes/kanjivg")])
        let data = try StrokeDataset(drawings: drawings)
        for (character, steps) in data.training {
            XCTAssertEqual(data.firstOffsets[character], Array(steps[0].prefix(2)), "one drawing per character: its own first offset")
        }
        var configuration = StrokeModelConfiguration()
        (configuration.hiddenSize, configuration.componentCount, configuration.embeddingSize) = (8, 2, 4)
        var options = TrainingOptions()
        (options.epochs, options.batchSize) = (1, 5)
        let (model, history, validation) = try StrokeModel.train(data, configuration: configuration, options: options, keepingLastEpoch: true)
        XCTAssertEqual(history.validationLoss, [], "held-out drawings choose no epoch")
        XCTAssertNil(history.bestEpoch)
        XCTAssertEqual(try XCTUnwrap(validation), try model.evaluate(data.validation), accuracy: 1e-6, "but are measured at the end")
        let generated = try model.generate(characters: Array(0..<10), temperature: 0.5, seed: 1, maximumSteps: 5, firstOffsetFromData: true)
        for (character, strokes) in generated.enumerated() {
            let reference = try XCTUnwrap(drawings.first { $0.label == data.characters[character] && $0.variant == nil })
            let (start, expected) = (try XCTUnwrap(strokes.first?.first), reference.strokes[0][0])
            XCTAssertEqual(start.x, expected.x, accuracy: 1e-3, data.characters[character])
            XCTAssertEqual(start.y, expected.y, accuracy: 1e-3, data.characters[character])
        }
    }

    func testChamferDistanceOfKnownShapes() {
        let one = DrawingShape([line((0, 0), (1, 0))]), two = DrawingShape([line((0, 0), (1, 0)), line((0, 1), (1, 1))])
        XCTAssertEqual(one.distance(to: one), 0)
        XCTAssertEqual(one.distance(to: two), 0.5, accuracy: 1e-6, "a line against two lines half a side above and below it")
        XCTAssertEqual(two.distance(to: one), one.distance(to: two))
        let moved = DrawingShape([line((10, 20), (30, 20)), line((10, 40), (30, 40))])
        XCTAssertEqual(moved.distance(to: two), 0, accuracy: 1e-6, "position and size do not count")
        let reversed = DrawingShape([line((1, 1), (0, 1)), line((1, 0), (0, 0))])
        XCTAssertEqual(reversed.distance(to: two), 0, accuracy: 1e-6, "nor stroke order and direction")
        XCTAssertEqual(DrawingShape([]).distance(to: one), .infinity)
    }

    func testReferenceDrawingsAreNearestThemselves() throws {
        let (drawings, _) = try StrokeDrawing.read(paths: [repositoryFile("Data/strokes/kanjivg")])
        let references = drawings.filter { $0.variant == nil }.map(\.strokes)
        XCTAssertEqual(references.count, 10)
        let own = try NearestReferenceScore(drawings: references, asked: Array(0..<10), references: references)
        XCTAssertEqual(own.hits, 10)
        XCTAssertEqual(own.ranks, Array(repeating: 0, count: 10))
        XCTAssertEqual(own.nearest, Array(0..<10))
        // Halved, shifted copies are still nearest their own; asked as the next character, none is.
        let shrunk = references.map { $0.map { $0.map { DrawingPoint(x: $0.x / 2 + 30, y: $0.y / 2 + 5) } } }
        XCTAssertEqual(try NearestReferenceScore(drawings: shrunk, asked: Array(0..<10), references: references).hits, 10)
        let wrong = try NearestReferenceScore(drawings: references, asked: (0..<10).map { ($0 + 1) % 10 }, references: references)
        XCTAssertEqual(wrong.hits, 0)
        XCTAssertTrue(wrong.ranks.allSatisfy { $0 >= 1 })
        XCTAssertEqual(wrong.hits(within: 10), 10)
        let empty = try NearestReferenceScore(drawings: [[]], asked: [3], references: references)
        XCTAssertEqual(empty.ranks, [9], "an empty drawing is farthest from everything")
        XCTAssertThrowsError(try NearestReferenceScore(drawings: [[]], asked: [10], references: references))
    }

    func testEvaluateCommand() throws {
        let model = path("kanji.model")
        let trained = try runCLI(["strokes", "train", repositoryFile("Data/strokes/kanjivg"), "--hidden", "16", "--components", "2",
                                  "--epochs", "1", "--batch-size", "5", "-o", model])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let evaluated = try runCLI(["strokes", "evaluate", model, repositoryFile("Data/strokes/kanjivg"), "--samples", "2",
                                    "--grid", path("grid.svg")])
        XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
        let hits = try XCTUnwrap(evaluated.stdout.firstMatch(of: /nearest reference in (\d+) of 20 drawings \(chance: 1 in 10\); among the nearest 5 in (\d+) of 20/))
        XCTAssertLessThanOrEqual(Int(hits.1) ?? 99, Int(hits.2) ?? -1)
        let svg = try String(contentsOfFile: path("grid.svg"), encoding: .utf8)
        XCTAssertEqual(svg.components(separatedBy: "<text ").count - 1, 20)

        let folder = path("some")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: repositoryFile("Data/strokes/kanjivg/04e00.svg"), toPath: folder + "/04e00.svg")
        let missing = try runCLI(["strokes", "evaluate", model, folder])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.hasPrefix("recurrent: error: no reference drawing of "), missing.stderr)
        XCTAssertEqual(missing.stderr.filter { $0 == "\n" }.count, 1)
    }
}
