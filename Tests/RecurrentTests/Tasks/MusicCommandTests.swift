import Foundation
import XCTest
@testable import Recurrent

/// `recurrent music ...` on tunes, through the built binary.
final class MusicCommandTests: ScratchDirectoryTestCase {
    func trainTunes() throws -> String {
        let model = path("tunes.model")
        let result = try runCLI(["music", "train", repositoryFile("Data/music/oneills1850/0001-0050.abc"), "--hidden", "32", "--layers", "1",
                                 "--embedding", "8", "--epochs", "2", "--batch-size", "8", "--validation-fraction", "0.1",
                                 "--export-data", path("tunes.json"), "-o", model])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("50 tunes read: 45 for training, 5 held out"), result.stderr)
        XCTAssertTrue(result.stdout.contains("held-out tunes: "), result.stdout)
        return model
    }

    func testTrainGenerateABCAndMIDI() throws {
        let model = try trainTunes()
        let exported = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("tunes.json")))) as? [String: Any]
        XCTAssertEqual((exported?["training"] as? [[Int]])?.count, 45)
        XCTAssertEqual((exported?["validation"] as? [[Int]])?.count, 5)

        let generated = try runCLI(["music", "generate", model, "--count", "3", "--meter", "6/8", "--key", "Dmaj", "--seed", "2",
                                    "--length", "200", "-o", path("new.abc"), "--midi", path("new.mid")])
        XCTAssertEqual(generated.status, 0, generated.stderr)
        XCTAssertTrue(generated.stderr.contains("3 tunes: "), generated.stderr)
        let text = try String(contentsOfFile: path("new.abc"), encoding: .utf8)
        XCTAssertEqual(text.components(separatedBy: "M:6/8\nL:1/8\nK:Dmaj\n").count, 4, text)
        // What the MIDI file holds: the notes of the tunes that read, as the library plays them.
        let (tunes, _) = try ABCReader.parse(text, path: "new.abc", skippingUnreadable: true)
        let expectedNotes = tunes.reduce(0) { $0 + $1.performance().count }
        let midi = try Data(contentsOf: URL(fileURLWithPath: path("new.mid")))
        XCTAssertEqual(Array(midi.prefix(4)), Array("MThd".utf8))
        guard pythonHas("mido") else { throw XCTSkip("python3 with mido is not installed (.ci/run installs it)") }
        let read = try runPython("""
            import sys, mido
            m = mido.MidiFile(sys.argv[1])
            print(m.type, len(m.tracks), sum(1 for t in m.tracks for e in t if e.type == 'note_on' and e.velocity > 0))
            """, arguments: [path("new.mid")])
        XCTAssertEqual(read.trimmingCharacters(in: .whitespacesAndNewlines), "1 2 \(expectedNotes)")
    }

    func testEvaluateAndStandardOutput() throws {
        let model = try trainTunes()
        let evaluation = try runCLI(["music", "evaluate", model, repositoryFile("Data/music/oneills1850/0051-0100.abc"), "--json"])
        XCTAssertEqual(evaluation.status, 0, evaluation.stderr)
        let last = try XCTUnwrap(evaluation.stdout.split(separator: "\n").last)
        let figures = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Double])
        XCTAssertEqual(figures["tunes"], 50)
        XCTAssertLessThan(try XCTUnwrap(figures["cross_entropy"]), 4.6, "below guessing among ~100 tokens")
        let printed = try runCLI(["music", "generate", model, "--seed", "1", "--length", "50"])
        XCTAssertEqual(printed.status, 0, printed.stderr)
        XCTAssertTrue(printed.stdout.hasPrefix("X:1\nT:Generated tune 1\nM:"), printed.stdout)
    }

    func testBadInputStopsWithOneLine() throws {
        let noKey = try write("X:1\nT:Keyless\nM:4/4\nL:1/8\nABcd|\n", to: "nokey.abc")
        let result = try runCLI(["music", "train", noKey, "-o", path("x.model")])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr, "recurrent: error: \(noKey): line 5, column 1: the music starts before a K: field (the key, the last field of a tune's header)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.model")))

        let badNote = try write("X:1\nM:4/4\nK:G\nGABc|d2 Hz ^ |\n", to: "badnote.abc")
        let noted = try runCLI(["music", "train", badNote, "-o", path("x.model")])
        XCTAssertEqual(noted.status, 1)
        XCTAssertEqual(noted.stderr, "recurrent: error: \(badNote): line 4, column 13: unreadable note: an accidental needs a note letter A-G or a-g after it\n")

        let model = try trainTunes()
        let unwritable = path("missing-folder/out.mid")
        let midi = try runCLI(["music", "generate", model, "--length", "40", "-o", path("out.abc"), "--midi", unwritable])
        XCTAssertEqual(midi.status, 1)
        XCTAssertTrue(midi.stderr.hasPrefix("recurrent: error: \(unwritable): "), midi.stderr)
        XCTAssertEqual(midi.stderr.filter { $0 == "\n" }.count, 1, midi.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.abc")), "nothing is written when the MIDI file cannot be")

        let unknownMeter = try runCLI(["music", "generate", model, "--meter", "7/4"])
        XCTAssertEqual(unknownMeter.status, 1)
        XCTAssertTrue(unknownMeter.stderr.hasPrefix("recurrent: error: --meter 7/4: the model never saw it; it knows "), unknownMeter.stderr)
    }
}

/// Whether python3 can import `module`.
func pythonHas(_ module: String) -> Bool {
    (try? runPython("import \(module)", arguments: [])) != nil
}
