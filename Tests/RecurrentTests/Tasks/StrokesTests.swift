import Foundation
import XCTest
@testable import Recurrent

/// SVG paths, KanjiVG drawings as stroke-5 steps, the stroke model and `recurrent strokes`.
final class StrokesTests: ScratchDirectoryTestCase {
    func points(_ pairs: [(Double, Double)]) -> [DrawingPoint] { pairs.map { DrawingPoint(x: $0.0, y: $0.1) } }

    func testSVGPathCommands() throws {
        XCTAssertEqual(try SVGPath.polylines("M10,20 L30,20 h5 v5 Z"), [points([(10, 20), (30, 20), (35, 20), (35, 25), (10, 20)])])
        XCTAssertEqual(try SVGPath.polylines("M1-2.5.5.5l1e1,0"), [points([(1, -2.5), (0.5, 0.5), (10.5, 0.5)])],
                       "numbers run together; pairs after M draw lines")
        XCTAssertEqual(try SVGPath.polylines("M0,0 Q10,0 10,10", samplesPerCurve: 2), [points([(0, 0), (7.5, 2.5), (10, 10)])])
        XCTAssertEqual(try SVGPath.polylines("M0,0 C0,10 10,10 10,0", samplesPerCurve: 2), [points([(0, 0), (5, 7.5), (10, 0)])])
        XCTAssertEqual(try SVGPath.polylines("M0,0 L1,1 M5,5 l1,1"), [points([(0, 0), (1, 1)]), points([(5, 5), (6, 6)])])
        func message(_ d: String) -> String {
            do { _ = try SVGPath.polylines(d); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(message("1,2 L3,4").contains("does not start with a command"), message("1,2 L3,4"))
        XCTAssertTrue(message("M1").contains("command M is missing a number"), message("M1"))
        XCTAssertTrue(message("M1,x").contains("unreadable at character 4"), message("M1,x"))
    }

    func testSimplificationKeepsCornersAndEnds() {
        XCTAssertEqual(SVGPath.simplified(points([(0, 0), (1, 0.1), (2, 0), (3, 0.1), (4, 0)]), epsilon: 0.5), points([(0, 0), (4, 0)]))
        XCTAssertEqual(SVGPath.simplified(points([(0, 0), (5, 0), (10, 0), (10, 5), (10, 10)]), epsilon: 0.5),
                       points([(0, 0), (10, 0), (10, 10)]))
        XCTAssertEqual(SVGPath.simplified(points([(0, 0), (1, 1)]), epsilon: 5), points([(0, 0), (1, 1)]))
    }

    func testKanjiVGDrawingsAsStrokeFive() throws {
        let (drawings, skipped) = try StrokeDrawing.read(paths: [repositoryFile("Data/strokes/kanjivg")])
        XCTAssertTrue(skipped.isEmpty)
        XCTAssertEqual(drawings.count, 13)
        let strokeCounts = Dictionary(drawings.filter { $0.variant == nil }.map { ($0.label, $0.strokes.count) }) { a, _ in a }
        XCTAssertEqual(strokeCounts, ["一": 1, "二": 2, "三": 3, "十": 2, "口": 3, "日": 4, "月": 4, "木": 4, "六": 4, "天": 4])
        XCTAssertEqual(drawings.filter { $0.variant == "Kaisho" }.map(\.label).sorted(), ["六", "日", "木"])
        let one = try XCTUnwrap(drawings.first { $0.label == "一" })
        XCTAssertEqual(one.strokes[0].first, DrawingPoint(x: 11, y: 54.25), "M11,54.25 starts the stroke")
        XCTAssertTrue((3...12).contains(one.strokes[0].count), "3 cubic curves (24 points) simplified to \(one.strokes[0].count)")

        let origin = DrawingPoint(x: 54.5, y: 54.5)
        for drawing in drawings {
            let steps = drawing.stroke5(origin: origin, scale: 10)
            XCTAssertEqual(steps.count, drawing.strokes.joined().count + 1)
            XCTAssertEqual(steps.last, [0, 0, 0, 0, 1])
            XCTAssertEqual(steps.filter { $0[3] == 1 }.count, drawing.strokes.count, "the pen lifts after every stroke")
            XCTAssertTrue(steps.allSatisfy { $0[2] + $0[3] + $0[4] == 1 })
            let back = StrokeDrawing.strokes(fromStroke5: steps, origin: origin, scale: 10)
            XCTAssertEqual(back.map(\.count), drawing.strokes.map(\.count))
            for (a, b) in zip(back.joined(), drawing.strokes.joined()) {
                XCTAssertEqual(a.x, b.x, accuracy: 1e-3)
                XCTAssertEqual(a.y, b.y, accuracy: 1e-3)
            }
        }
        let data = try StrokeDataset(drawings: drawings)
        XCTAssertEqual(data.characters.count, 10)
        XCTAssertEqual([data.training.count, data.validation.count], [10, 3], "the variants are held out")
        let offsets = data.training.flatMap { $0.steps.dropLast().flatMap { [Double($0[0]), Double($0[1])] } }
        let mean = offsets.reduce(0, +) / Double(offsets.count)
        let variance = offsets.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(offsets.count)
        XCTAssertEqual(variance, 1, accuracy: 1e-4, "offsets scaled to a standard deviation of 1")
    }

    func testStrokesAsDrawingProgramsWriteThemReadAsPathsDo() throws {
        XCTAssertEqual(try SVGTransform(parsing: "translate(10 20) scale(2)").apply(DrawingPoint(x: 1, y: 1)), DrawingPoint(x: 12, y: 22))
        XCTAssertEqual(try SVGTransform(parsing: "matrix(1,0,0,1,5,-5)").apply(DrawingPoint(x: 1, y: 1)), DrawingPoint(x: 6, y: -4))
        let turned = try SVGTransform(parsing: "rotate(90 10 10)").apply(DrawingPoint(x: 20, y: 10))
        XCTAssertEqual(turned.x, 10, accuracy: 1e-12)
        XCTAssertEqual(turned.y, 20, accuracy: 1e-12)
        // The same two strokes as KanjiVG writes them, and as a drawing program might: a polyline
        // and a line, under a group's translation and their own scale; a definition is no stroke.
        let plain = """
            <svg xmlns="http://www.w3.org/2000/svg"><path d="M10,10 L50,10 L50,40"/><path d="M20,60 L80,60"/></svg>
            """
        let drawn = """
            <svg:svg xmlns:svg="http://www.w3.org/2000/svg">
              <svg:defs><svg:path d="M0,0 L99,99"/></svg:defs>
              <svg:g transform="translate(-100,-200)">
                <svg:polyline points="110,210 150,210 150,240" />
                <svg:line transform="scale(2)" x1="60" y1="130" x2="90" y2="130"/>
              </svg:g>
            </svg:svg>
            """
        FileManager.default.createFile(atPath: path("plain.svg"), contents: Data(plain.utf8))
        FileManager.default.createFile(atPath: path("drawn.svg"), contents: Data(drawn.utf8))
        let reference = try StrokeDrawing(contentsOf: path("plain.svg")).strokes
        XCTAssertEqual(reference, [points([(10, 10), (50, 10), (50, 40)]), points([(20, 60), (80, 60)])])
        XCTAssertEqual(try StrokeDrawing(contentsOf: path("drawn.svg")).strokes, reference)
    }

    func testBadDrawingsNameTheFile() throws {
        func error(_ text: String, _ name: String) -> String {
            let file = path(name)
            FileManager.default.createFile(atPath: file, contents: Data(text.utf8))
            do { _ = try StrokeDrawing(contentsOf: file); return "no error" } catch { return "\(error)".replacingOccurrences(of: file, with: name) }
        }
        XCTAssertTrue(error("hello", "a.svg").hasPrefix("a.svg: not well-formed SVG at line 1, column "), error("hello", "a.svg"))
        XCTAssertEqual(error("<html/>", "b.svg"), "b.svg: not an SVG file: its root element is <html>")
        XCTAssertEqual(error("<svg><g><text>1</text></g></svg>", "c.svg"), "c.svg: the SVG has no stroke paths (<path d=...>, <polyline>, <line>)")
        XCTAssertEqual(error("<svg>\n<g transform=\"spin(3)\"><path d=\"M1,2 L3,4\"/></g></svg>", "t.svg"),
                       "t.svg: line 2: transform \"spin(3)\": unknown function \"spin\"")
        XCTAssertEqual(error("<svg>\n<polyline points=\"1,2 3\"/></svg>", "p.svg"), "p.svg: line 2: points \"1,2 3\": an odd count of numbers (3)")
        XCTAssertTrue(error("<svg>\n<path d=\"M1,2 L3\"/></svg>", "d.svg").hasPrefix("d.svg: line 2: "), error("<svg>\n<path d=\"M1,2 L3\"/></svg>", "d.svg"))
        // A file cut short, and elements closed out of order: refused (Linux's XMLParser calls
        // both a success), naming the line.
        let cut = "<svg>\n<g id=\"strokes\">\n<path d=\"M1,2 L3,4\"/>\n"
        XCTAssertEqual(error(cut, "e.svg"), "e.svg: not well-formed SVG: <g> at line 2 is never closed (is the file cut short?)")
        let crossed = "<svg>\n<g>\n<path d=\"M1,2 L3,4\"/>\n</svg>\n</g>\n"
        XCTAssertTrue(error(crossed, "f.svg").hasPrefix("f.svg: not well-formed SVG at line 4, column "), error(crossed, "f.svg"))
        XCTAssertTrue(error(crossed, "f.svg").hasSuffix("an end tag that does not match its start tag"), error(crossed, "f.svg"))
        let unquoted = "<svg><path d=M1,2/></svg>"
        XCTAssertTrue(error(unquoted, "h.svg").hasPrefix("h.svg: not well-formed SVG"), error(unquoted, "h.svg"))
    }

    func testTrainsEvaluatesSavesAndGenerates() throws {
        let (drawings, _) = try StrokeDrawing.read(paths: [repositoryFile("Data/strokes/kanjivg")])
        let data = try StrokeDataset(drawings: drawings)
        var configuration = StrokeModelConfiguration()
        configuration.hiddenSize = 32
        configuration.componentCount = 3
        configuration.embeddingSize = 8
        configuration.learningRate = 0.01
        var options = TrainingOptions()
        options.epochs = 25
        options.batchSize = 5
        let (model, history, validation) = try StrokeModel.train(data, configuration: configuration, options: options)
        XCTAssertEqual(history.validationLoss.count, 25)
        let first = try XCTUnwrap(history.validationLoss.first), best = try XCTUnwrap(history.validationLoss.min())
        XCTAssertLessThan(best, first - 0.5, "held-out NLL per point falls: \(history.validationLoss)")
        XCTAssertEqual(try XCTUnwrap(validation), best, accuracy: 1e-4, "the best epoch's weights are kept")

        let file = path("strokes.model")
        try model.model.save(to: file)
        let loaded = try StrokeModel(contentsOf: file)
        XCTAssertEqual(loaded.characters, data.characters)
        XCTAssertEqual(try loaded.evaluate(data.validation), best, accuracy: 1e-4)
        let generated = try loaded.generate(characters: [0, 1, 2], temperature: 0.3, seed: 5, maximumSteps: 60)
        XCTAssertEqual(generated.count, 3)
        XCTAssertTrue(generated.allSatisfy { $0.joined().count <= 60 })
        XCTAssertEqual(try loaded.generate(characters: [0, 1, 2], temperature: 0.3, seed: 5, maximumSteps: 60).map { $0.map(\.count) },
                       generated.map { $0.map(\.count) }, "the same seed, the same drawings")
        XCTAssertThrowsError(try loaded.generate(characters: [10]))
        XCTAssertThrowsError(try loaded.generate(characters: [0], temperature: 0))
    }

    func testCommandLine() throws {
        let model = path("kanji.model")
        let trained = try runCLI(["strokes", "train", repositoryFile("Data/strokes/kanjivg"), "--hidden", "16", "--components", "2",
                                  "--epochs", "2", "--batch-size", "5", "--export-data", path("strokes.json"), "-o", model])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stderr.contains("13 drawings read: 10 for training, 3 held out; 10 characters"), trained.stderr)
        XCTAssertTrue(trained.stdout.contains("held-out drawings: "), trained.stdout)
        let export = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("strokes.json")))) as? [String: Any]
        XCTAssertEqual(export?["characterCount"] as? Int, 10)
        XCTAssertEqual((export?["validation"] as? [Any])?.count, 3)

        let generated = try runCLI(["strokes", "generate", model, "--count", "4", "--condition", "日木", "--seed", "2", "-o", path("grid.svg")])
        XCTAssertEqual(generated.status, 0, generated.stderr)
        let svg = try String(contentsOfFile: path("grid.svg"), encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        XCTAssertEqual(svg.components(separatedBy: "<text ").count - 1, 4)
        XCTAssertEqual(svg.matches(of: />(日|木)</).map { String($0.1) }, ["日", "木", "日", "木"])
        let strokeCount = try XCTUnwrap(generated.stderr.firstMatch(of: /4 drawings, (\d+) strokes/).map { Int($0.1) ?? -1 })
        XCTAssertGreaterThanOrEqual(strokeCount, svg.components(separatedBy: "<polyline ").count - 1)

        let unknown = try runCLI(["strokes", "generate", model, "--condition", "猫", "-o", path("x.svg")])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertEqual(unknown.stderr, "recurrent: error: --condition 猫: the model never learnt to draw it (it knows 10 characters)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.svg")))

        let unwritable = path("missing-folder/grid.svg")
        let refusedOutput = try runCLI(["strokes", "generate", model, "-o", unwritable])
        XCTAssertEqual(refusedOutput.status, 1)
        XCTAssertTrue(refusedOutput.stderr.hasPrefix("recurrent: error: \(unwritable): "), refusedOutput.stderr)
        XCTAssertEqual(refusedOutput.stderr.filter { $0 == "\n" }.count, 1)

        let folder = path("svgs")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: repositoryFile("Data/strokes/kanjivg/04e00.svg"), toPath: folder + "/04e00.svg")
        FileManager.default.createFile(atPath: folder + "/04e01.svg", contents: Data("<svg><text>x</text></svg>".utf8))
        let refused = try runCLI(["strokes", "train", folder, "-o", path("y.model")])
        XCTAssertEqual(refused.status, 1)
        XCTAssertEqual(refused.stderr, "recurrent: error: \(folder)/04e01.svg: the SVG has no stroke paths (<path d=...>, <polyline>, <line>)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("y.model")))
    }
}
