import Foundation
import XCTest
@testable import Recurrent

/// MusicXML reading, piano rolls, the chorale model and `recurrent music ... --format pianoroll`.
final class MusicChoraleTests: ScratchDirectoryTestCase {
    static let score = """
        <?xml version="1.0" encoding="UTF-8"?>
        <score-partwise version="3.1">
          <part-list>
            <score-part id="P1"><part-name>Soprano</part-name></score-part>
            <score-part id="P2"><part-name>Bass</part-name></score-part>
          </part-list>
          <part id="P1"><measure number="1">
            <attributes><divisions>2</divisions><key><fifths>-1</fifths><mode>minor</mode></key>
              <time><beats>4</beats><beat-type>4</beat-type></time></attributes>
            <note><pitch><step>A</step><octave>4</octave></pitch><duration>2</duration></note>
            <note><pitch><step>C</step><alter>1</alter><octave>5</octave></pitch><duration>1</duration><tie type="start"/></note>
            <note><pitch><step>C</step><alter>1</alter><octave>5</octave></pitch><duration>1</duration><tie type="stop"/></note>
            <note><grace/><pitch><step>D</step><octave>5</octave></pitch></note>
            <note><rest/><duration>2</duration></note>
            <note><pitch><step>F</step><octave>4</octave></pitch><duration>2</duration></note>
            <note><chord/><pitch><step>D</step><octave>4</octave></pitch><duration>2</duration></note>
            <backup><duration>8</duration></backup>
            <note><pitch><step>E</step><alter>-1</alter><octave>4</octave></pitch><duration>8</duration><voice>2</voice></note>
          </measure></part>
          <part id="P2"><measure number="1">
            <attributes><divisions>1</divisions></attributes>
            <note><pitch><step>D</step><octave>3</octave></pitch><duration>4</duration></note>
          </measure></part>
        </score-partwise>
        """

    func testReadsNotesChordsTiesVoicesAndKey() throws {
        let score = try MusicXMLScore(xml: Data(Self.score.utf8), path: "s.xml")
        func note(_ pitch: Int, _ start: Fraction, _ length: Fraction) -> MusicXMLScore.Note { .init(pitch: pitch, start: start, length: length) }
        XCTAssertEqual(score.parts.map(\.name), ["Soprano", "Bass"])
        XCTAssertEqual(score.parts[0].notes, [note(69, .zero, .one), note(73, .one, .one), note(65, Fraction(3), .one),
                                              note(62, Fraction(3), .one), note(63, .zero, Fraction(4))])
        XCTAssertEqual(score.parts[1].notes, [note(50, .zero, Fraction(4))])
        XCTAssertEqual(score.keyFifths, -1)
        XCTAssertEqual(score.keyMode, "minor")
        XCTAssertEqual([score.beats, score.beatType], [4, 4])
    }

    func testPianoRollQuantisesAndTransposes() throws {
        let score = try MusicXMLScore(xml: Data(Self.score.utf8), path: "s.xml")
        let roll = PianoRoll(parts: score.parts.map(\.notes), stepLength: Fraction(1, 2), transposition: -2)
        XCTAssertEqual(roll.steps.count, 8)
        func on(_ pitch: Int) -> [Int] { roll.steps.indices.filter { roll.steps[$0][pitch - 2 - PianoRoll.lowestPitch] } }
        XCTAssertEqual(on(69), [0, 1])
        XCTAssertEqual(on(73), [2, 3], "the tied notes are one")
        XCTAssertEqual(on(65), [6, 7])
        XCTAssertEqual(on(62), [6, 7])
        XCTAssertEqual(on(63), Array(0..<8))
        XCTAssertEqual(on(50), Array(0..<8))
        XCTAssertEqual(roll.steps.map { $0.filter { $0 }.count }, [3, 3, 3, 3, 2, 2, 4, 4])
        // Back to notes: start and length in whole notes, the transposition kept.
        XCTAssertEqual(roll.notes().first { $0.pitch == 71 }, PerformedNote(pitch: 71, start: Fraction(1, 4), length: Fraction(1, 4)))
        XCTAssertEqual(roll.notes().count, 6)
    }

    func testBundledChoralesReadAsFourVoices() throws {
        let (chorales, skipped) = try Chorale.read(paths: [repositoryFile("Data/music/bach")])
        XCTAssertEqual(chorales.count, 12)
        XCTAssertTrue(skipped.isEmpty)
        // BWV 1.6 has a horn part above its four voices: the named voices are kept.
        let first = try XCTUnwrap(chorales.first { $0.path.hasSuffix("bwv1.6.mxl") })
        XCTAssertEqual(first.voices.count, 4)
        XCTAssertEqual([first.keyFifths, first.transpositionToC], [-1, -5], "BWV 1.6 is in F major: down a fourth to C")
        for chorale in chorales {
            let roll = chorale.pianoRoll(stepLength: Fraction(1, 2), transposingToC: true)
            let counts = roll.steps.map { $0.filter { $0 }.count }
            XCTAssertGreaterThan(roll.steps.count, 30, chorale.path)
            XCTAssertLessThanOrEqual(counts.max() ?? 0, 4, chorale.path)
            XCTAssertGreaterThan(Double(counts.filter { $0 == 4 }.count) / Double(counts.count), 0.6, "mostly four voices: \(chorale.path)")
        }
    }

    func testBadScoresNameTheProblem() throws {
        func error(_ data: Data, _ name: String) -> String {
            let file = path(name)
            FileManager.default.createFile(atPath: file, contents: data)
            do { _ = try Chorale(contentsOf: file); return "no error" } catch { return "\(error)".replacingOccurrences(of: file, with: name) }
        }
        XCTAssertTrue(error(Data("hello".utf8), "a.xml").hasPrefix("a.xml: not well-formed XML at line 1, column "), error(Data("hello".utf8), "a.xml"))
        XCTAssertEqual(error(Data("<html><body/></html>".utf8), "b.xml"),
                       "b.xml: not a MusicXML score: its root element is <html>, expected <score-partwise>")
        XCTAssertEqual(error(Data("<score-partwise><part-list/></score-partwise>".utf8), "c.xml"), "c.xml: the score has no parts with notes")
        // A score cut short is refused, not read as far as it goes.
        let cut = String(Self.score.prefix(Self.score.count * 2 / 3))
        XCTAssertTrue(error(Data(cut.utf8), "g.xml").hasPrefix("g.xml: not well-formed XML"), error(Data(cut.utf8), "g.xml"))
        let noSATB = Self.score.replacingOccurrences(of: "Soprano", with: "Flute")
        XCTAssertEqual(error(Data(noSATB.utf8), "d.xml"), "d.xml: not a four-part score: its parts are Flute, Bass")
        let mxl = try Data(contentsOf: URL(fileURLWithPath: repositoryFile("Data/music/bach/bwv66.6.mxl")))
        XCTAssertTrue(error(mxl.prefix(mxl.count / 2), "e.mxl").hasPrefix("e.mxl: not a readable zip archive"), error(mxl.prefix(mxl.count / 2), "e.mxl"))
        var damaged = mxl
        for offset in 200..<260 { damaged[offset] ^= 0x5A }
        XCTAssertTrue(error(damaged, "f.mxl").hasPrefix("f.mxl: the zip archive is corrupt: "), error(damaged, "f.mxl"))
    }

    func testTrainsEvaluatesAndGenerates() throws {
        let (chorales, _) = try Chorale.read(paths: [repositoryFile("Data/music/bach")])
        var configuration = ChoraleModelConfiguration()
        configuration.hiddenSize = 32
        configuration.dropout = 0
        configuration.learningRate = 0.01
        let rolls = chorales.map { $0.pianoRoll(stepLength: configuration.stepLength, transposingToC: true) }
        var options = TrainingOptions()
        options.epochs = 6
        options.batchSize = 4
        let (model, history, validation) = try ChoraleModel.train(training: Array(rolls.prefix(10)), validation: Array(rolls.suffix(2)),
                                                                  configuration: configuration, options: options)
        XCTAssertEqual(history.validationLoss.count, 6)
        XCTAssertLessThan(history.validationLoss.last ?? .infinity, 0.5 * (history.validationLoss.first ?? 0))
        let figures = try XCTUnwrap(validation)
        XCTAssertEqual(figures.steps, rolls.suffix(2).reduce(0) { $0 + $1.steps.count })
        XCTAssertEqual(figures.negativeLogLikelihood, history.validationLoss.min() ?? 0, accuracy: 1e-4)
        XCTAssertLessThan(figures.negativeLogLikelihood, 88 * log(2.0) / 4, "far better than a coin per key")

        let file = path("chorales.model")
        try model.model.save(to: file)
        let loaded = try ChoraleModel(contentsOf: file)
        XCTAssertEqual(try loaded.evaluate(Array(rolls.suffix(2))).negativeLogLikelihood, figures.negativeLogLikelihood, accuracy: 1e-5)
        let generated = try loaded.generate(count: 2, steps: 24, seed: 3)
        XCTAssertEqual(generated.map(\.steps.count), [24, 24])
        XCTAssertTrue(generated.allSatisfy { $0.steps.allSatisfy { $0.filter { $0 }.count <= 4 } })
        XCTAssertEqual(try loaded.generate(count: 2, steps: 24, seed: 3), generated, "the same seed, the same chorales")
    }

    func testCommandLine() throws {
        let model = path("bach.model")
        let trained = try runCLI(["music", "train", "--format", "pianoroll", repositoryFile("Data/music/bach"), "--hidden", "16", "--epochs", "2",
                                  "--batch-size", "4", "--validation-fraction", "0.25", "--export-data", path("rolls.json"), "-o", model])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stderr.contains("12 chorales read: 9 for training, 3 held out"), trained.stderr)
        XCTAssertTrue(trained.stdout.contains("held-out chorales: "), trained.stdout)

        let generated = try runCLI(["music", "generate", model, "--format", "pianoroll", "--length", "32", "--seed", "1",
                                    "-o", path("roll.svg"), "--midi", path("chorale.mid")])
        XCTAssertEqual(generated.status, 0, generated.stderr)
        let svg = try String(contentsOfFile: path("roll.svg"), encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        let noteCount = try XCTUnwrap(generated.stderr.firstMatch(of: /of 32 steps, (\d+) notes/).map { Int($0.1) ?? -1 })
        XCTAssertEqual(svg.components(separatedBy: "fill=\"#3465a4\"").count - 1, noteCount)

        let wrongFormat = try runCLI(["music", "generate", model, "--format", "abc"])
        XCTAssertEqual(wrongFormat.status, 1)
        XCTAssertEqual(wrongFormat.stderr, "recurrent: error: \(model): a pianoroll model, not abc\n")

        let damaged = path("damaged.mxl")
        let data = try Data(contentsOf: URL(fileURLWithPath: repositoryFile("Data/music/bach/bwv66.6.mxl")))
        FileManager.default.createFile(atPath: damaged, contents: data.prefix(700))
        let refused = try runCLI(["music", "train", "--format", "pianoroll", damaged, "-o", path("x.model")])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.hasPrefix("recurrent: error: \(damaged): not a readable zip archive"), refused.stderr)
        XCTAssertEqual(refused.stderr.filter { $0 == "\n" }.count, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.model")))

        guard pythonHas("mido") else { throw XCTSkip("python3 with mido is not installed (.ci/run installs it)") }
        let read = try runPython("""
            import sys, mido
            m = mido.MidiFile(sys.argv[1])
            print(m.type, len(m.tracks), sum(1 for t in m.tracks for e in t if e.type == 'note_on' and e.velocity > 0))
            """, arguments: [path("chorale.mid")])
        XCTAssertEqual(read.trimmingCharacters(in: .whitespacesAndNewlines), "1 2 \(noteCount)")
    }
}
