import Foundation
import XCTest
@testable import Recurrent

/// ABC reading, tokens, bars, the notes as played, MIDI bytes, and the tune model.
final class MusicTuneTests: XCTestCase {
    /// A reel with a repeat, two endings, a chord, a triplet, broken rhythm, a tie, a rest, a
    /// natural that holds to the end of its bar, and a chord symbol.
    static let reel = """
        X:7
        T:Test Reel
        M:4/4
        L:1/8
        K:D
        |:"D"A2 =F>E D/E/F/G/ A2|[DF]2 (3ABc d2 z2|1 e4- e2 =c2:|2 e8||

        """

    func readReel() throws -> ABCTune {
        let tunes = try ABCReader.parse(Self.reel, path: "reel.abc").tunes
        XCTAssertEqual(tunes.count, 1)
        return try XCTUnwrap(tunes.first)
    }

    func testReadsHeaderAndMusic() throws {
        let tune = try readReel()
        XCTAssertEqual(tune.number, 7)
        XCTAssertEqual(tune.title, "Test Reel")
        XCTAssertEqual(tune.meter.barLength, Fraction(1))
        XCTAssertEqual(tune.key.name, "Dmaj")
        XCTAssertEqual(tune.key.accidentals, [1, 0, 0, 1, 0, 0, 0], "D major sharpens C and F")
        XCTAssertEqual(tune.elements[0], .bar(ABCBar(kind: .repeatStart, ending: nil)))
        XCTAssertEqual(tune.elements[1], .chordSymbol("D"))
        XCTAssertEqual(tune.elements[2], .note(ABCNote(pitch: ABCPitch(letter: 5, octave: 4, accidental: nil), length: Fraction(1, 4))))
        XCTAssertEqual(tune.elements[3], .note(ABCNote(pitch: ABCPitch(letter: 3, octave: 4, accidental: 0), length: Fraction(1, 8))))
        XCTAssertEqual(tune.elements[4], .broken(lengthensFirst: true, count: 1))
        XCTAssertEqual(tune.positions[2], SourcePosition(line: 6, column: 6))
        XCTAssertTrue(tune.elements.contains(.tuplet(p: 3, q: 2, r: 3)))
        XCTAssertTrue(tune.elements.contains(.bar(ABCBar(kind: .repeatEnd, ending: 2))))
    }

    func testTokensInEighthsAndBackToABC() throws {
        let tokens = ABCTokenizer().tokens(try readReel())
        XCTAssertEqual(tokens, ["M:4/4", "K:Dmaj", "|:", "A", "2", "=F", ">", "E", "D", "/2", "E", "/2", "F", "/2", "G", "/2", "A", "2", "|",
                                "[", "D", "F", "]", "2", "(3", "A", "B", "c", "d", "2", "z", "2", "|1", "e", "4", "-", "e", "2", "=c", "2",
                                ":|2", "e", "8", "||"])
        XCTAssertEqual(ABCTokenizer(keepChordSymbols: true).tokens(try readReel())[3], "\"D\"")
        // L:1/16 lengths are written in eighths: the same rhythm gives the same tokens.
        let sixteenths = try XCTUnwrap(ABCReader.parse("X:1\nM:2/4\nL:1/16\nK:G\nG2A B4 c/|\n", path: "s.abc").tunes.first)
        XCTAssertEqual(ABCTokenizer().tokens(sixteenths), ["M:2/4", "K:Gmaj", "G", "A", "/2", "B", "2", "c", "/4", "|"])
    }

    /// Every bundled tune reads, tokenizes, writes back as ABC and reads into the same tokens.
    func testBundledTunesRoundTrip() throws {
        let collection = try TuneCollection(paths: [repositoryFile("Data/music/oneills1850")])
        XCTAssertEqual(collection.tunes.count, 200)
        let tokenizer = ABCTokenizer()
        var innerBars = 0, fullInnerBars = 0
        for tune in collection.tunes {
            let tokens = tokenizer.tokens(tune)
            let text = tokenizer.text(tokens: tokens, number: tune.number, title: tune.title)
            let again = try XCTUnwrap(ABCReader.parse(text, path: "again").tunes.first, tune.location)
            XCTAssertEqual(tokenizer.tokens(again), tokens, tune.location)
            XCTAssertEqual(again.performance().map(\.pitch), tune.performance().map(\.pitch), tune.location)
            let inner = tune.barLengths().filter { !$0.isSectionEdge }
            innerBars += inner.count
            fullInnerBars += inner.filter(\.isFull).count
        }
        XCTAssertGreaterThan(Double(fullInnerBars) / Double(innerBars), 0.98, "\(fullInnerBars) of \(innerBars)")
    }

    func testBarLengths() throws {
        let bars = try readReel().barLengths()
        XCTAssertEqual(bars.map(\.length), [Fraction(1), Fraction(1), Fraction(1), Fraction(1)])
        XCTAssertTrue(bars.allSatisfy { $0.isFull && $0.isSectionEdge })
        let pickup = try XCTUnwrap(ABCReader.parse("X:1\nM:6/8\nK:G\nD|GAB c2d|e3 d2B|G3 G2:|\n", path: "p.abc").tunes.first)
        XCTAssertEqual(pickup.barLengths().map(\.length), [Fraction(1, 8), Fraction(3, 4), Fraction(3, 4), Fraction(5, 8)])
        XCTAssertEqual(pickup.barLengths().map(\.isSectionEdge), [true, false, false, true])
    }

    func testPerformanceTakesRepeatsKeyAccidentalsAndTies() throws {
        let notes = try readReel().performance()
        func f(_ n: Int, _ d: Int) -> Fraction { Fraction(n, d) }
        let firstBar: [(Int, Fraction, Fraction)] = [(69, f(0, 1), f(1, 4)), (65, f(1, 4), f(3, 16)), (64, f(7, 16), f(1, 16)),
                                                     (62, f(1, 2), f(1, 16)), (64, f(9, 16), f(1, 16)), (65, f(5, 8), f(1, 16)),
                                                     (67, f(11, 16), f(1, 16)), (69, f(3, 4), f(1, 4))]
        let secondBar: [(Int, Fraction, Fraction)] = [(62, f(1, 1), f(1, 4)), (66, f(1, 1), f(1, 4)), (69, f(5, 4), f(1, 12)),
                                                      (71, f(4, 3), f(1, 12)), (73, f(17, 12), f(1, 12)), (74, f(3, 2), f(1, 4))]
        var expected = (firstBar + secondBar).map { PerformedNote(pitch: $0.0, start: $0.1, length: $0.2) }
        expected += [PerformedNote(pitch: 76, start: f(2, 1), length: f(3, 4)), PerformedNote(pitch: 72, start: f(11, 4), length: f(1, 4))]
        expected += (firstBar + secondBar).map { PerformedNote(pitch: $0.0, start: $0.1 + f(3, 1), length: $0.2) }
        expected.append(PerformedNote(pitch: 76, start: f(5, 1), length: f(1, 1)))
        XCTAssertEqual(notes, expected)
    }

    func testKeys() {
        XCTAssertEqual(ABCKeyParser.parse("Ador")?.accidentals, [0, 0, 0, 1, 0, 0, 0], "A dorian has G major's F sharp")
        XCTAssertEqual(ABCKeyParser.parse("Gm")?.name, "Gmin")
        XCTAssertEqual(ABCKeyParser.parse("Gm")?.accidentals, [0, 0, -1, 0, 0, 0, -1], "G minor flattens B and E")
        XCTAssertEqual(ABCKeyParser.parse("Bb")?.fifths, -2)
        XCTAssertEqual(ABCKeyParser.parse("E mixolydian")?.name, "Emix")
        XCTAssertEqual(ABCKeyParser.parse("D clef=treble")?.name, "Dmaj")
        XCTAssertEqual(ABCKeyParser.parse("C ^f")?.accidentals, [0, 0, 0, 1, 0, 0, 0])
        XCTAssertNil(ABCKeyParser.parse("H"))
    }

    func testSeveralVoicesReadAsTheFirstVoiceAlone() throws {
        let melody = "X:1\nT:Two voices\nM:4/4\nL:1/8\nK:G\n|:GABc d2e2|1 f4 g4:|2 g8|]\n"
        let single = try XCTUnwrap(ABCReader.parse(melody, path: "one.abc").tunes.first)
        // Voices declared in the header, music in turns, another voice's own length, key and
        // endings, an inline voice and an overlay inside the second voice: none reaches the first.
        let voices = """
            X:1
            T:Two voices
            M:4/4
            L:1/8
            V:1 name="Melody" clef=treble
            V:2 name="Bass" clef=bass
            K:G
            V:1
            |:GABc d2e2|1 f4 g4:|
            V:2
            L:1/4
            K:Em
            |:G,2 & B,2 D,2|1 E,4:|2 [V:2] E,4|]
            V:1
            [2 g8|]
            """
        let both = try XCTUnwrap(ABCReader.parse(voices, path: "two.abc").tunes.first)
        XCTAssertEqual(both.elements, single.elements)
        XCTAssertEqual(both.key, single.key)
        // Without declarations, the first voice named in the music is read.
        let inTurns = "X:1\nT:Two voices\nM:4/4\nL:1/8\nK:G\n[V:1] |:GABc d2e2|1 f4 g4:|\n[V:2] B,8|B,8|]\n[V:1] [2 g8|]\n"
        XCTAssertEqual(try ABCReader.parse(inTurns, path: "turns.abc").tunes.first?.elements, single.elements)
    }

    func testLooserABCOfRealCollectionsReadsAsItsTidyForm() throws {
        func elements(_ text: String) throws -> [ABCElement] {
            try XCTUnwrap(ABCReader.parse(text, path: "t.abc").tunes.first).elements
        }
        let head = "X:1\nT:t\nM:4/4\nL:1/8\nK:G\n"
        let tidy = try elements(head + "|:GABc d2e2|1 f4 g4:|2 g8|][E4e4]c2 fed c2A|B8|]\n")
        XCTAssertEqual(tidy.count, 23)
        // Aird's Airs (music21's corpus) write each of these.
        let loose = [
            // a directive continued over two lines in the header
            "X:1\nT:t\n%%Bfly 0 300 6 \\\n 0 0 3 2 1\nM:4/4\nL:1/8\nK:G\n|:GABc d2e2|1 f4 g4:|2 g8|][E4e4]c2 fed c2A|B8|]\n",
            // an ending at the start of a line whose previous line ended without a bar line
            head + "|:GABc d2e2\n[1 f4 g4:|2 g8|][E4e4]c2 fed c2A|B8|]\n",
            // older ABC's line break, a slur inside a chord, and a real decoration beside them
            head + "|:GABc d2e2|1 f4 g4:|2 g8|]![E4(e4]c2) !trill!fed c2A|B8|]\n",
            // Ryan's Mammoth: a repeat's bar line and an ending's number continued over a line
            // break, a rest inside a chord, a lone plus
            head + "||\\\n:GABc d2e2|\\\n1 f4 g4:|2 g8|][E4e4z4]c2 + fed c2A|B8|]\n",
        ]
        for text in loose { XCTAssertEqual(try elements(text), tidy, text) }
        // A colon alone after notes ends a repeat.
        XCTAssertEqual(try elements(head + "GABc:\n").last, .bar(ABCBar(kind: .repeatEnd, ending: nil)))
        XCTAssertThrowsError(try ABCReader.parse(head + "[1 GABc|\n", path: "t.abc")) { error in
            XCTAssertEqual("\(error)", "t.abc: line 6, column 1: an ending [1 before any note")
        }
    }

    func testBadTunesNameFileLineAndColumn() {
        func error(_ text: String) -> String {
            do { _ = try ABCReader.parse(text, path: "bad.abc"); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(error("X:3\nT:No key\nM:4/4\n"), "bad.abc: line 1: tune 3 has no K: field (the key ends a tune's header)")
        XCTAssertEqual(error("X:3\nT:No key\nM:4/4\nABc|\n"),
                       "bad.abc: line 4, column 1: the music starts before a K: field (the key, the last field of a tune's header)")
        XCTAssertEqual(error("X:1\nK:D\nAB#c|\n"), "bad.abc: line 3, column 3: unreadable note or symbol \"#\"")
        XCTAssertEqual(error("X:1\nK:D\nAB [ce|\n"), "bad.abc: line 3, column 7: unreadable note \"|\" in a chord")
        XCTAssertEqual(error("X:1\nK:D\nA^ B|\n"), "bad.abc: line 3, column 3: unreadable note: an accidental needs a note letter A-G or a-g after it")
        XCTAssertEqual(error("X:1\nK:D\nA0 B|\n"), "bad.abc: line 3, column 2: a note or rest of length 0")
        XCTAssertEqual(error("X:1\nK:D\nAB & cd|\n"), "bad.abc: line 3, column 4: voice overlay (&) is not read; keep one voice per tune")
        XCTAssertEqual(error("X:1\nK:Q\nAB|\n"), "bad.abc: line 2, column 3: unreadable key K:Q")
        XCTAssertEqual(error("% only a comment\n"), "bad.abc: no tune in the file (a tune starts with an X: line and has a K: line)")
        let lenient = try? ABCReader.parse("X:1\nK:D\nAB|\n\nX:2\nK:D\nA#|\n", path: "two.abc", skippingUnreadable: true)
        XCTAssertEqual(lenient?.tunes.count, 1)
        XCTAssertEqual(lenient?.skipped, ["two.abc: line 7, column 2: unreadable note or symbol \"#\""])
    }

    // MARK: - MIDI

    func testMIDIBytes() {
        let file = MIDIFile(ticksPerQuarter: 480, tracks: [
            MIDIFile.Track(events: [(0, .tempo(microsecondsPerQuarter: 500_000))]),
            MIDIFile.Track(events: [(480, .noteOff(channel: 0, key: 60)), (0, .noteOn(channel: 0, key: 60, velocity: 80))]),
        ])
        let expected: [UInt8] = Array("MThd".utf8) + [0, 0, 0, 6, 0, 1, 0, 2, 0x01, 0xE0]
            + Array("MTrk".utf8) + [0, 0, 0, 11, 0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20, 0x00, 0xFF, 0x2F, 0x00]
            + Array("MTrk".utf8) + [0, 0, 0, 13, 0x00, 0x90, 60, 80, 0x83, 0x60, 0x80, 60, 64, 0x00, 0xFF, 0x2F, 0x00]
        XCTAssertEqual(Array(file.data()), expected)
        XCTAssertEqual(MIDIFile.variableLength(0x7F), [0x7F])
        XCTAssertEqual(MIDIFile.variableLength(0x80), [0x81, 0x00])
        XCTAssertEqual(MIDIFile.variableLength(0x3FFF), [0xFF, 0x7F])
        XCTAssertEqual(MIDIFile.variableLength(0x20_0000), [0x81, 0x80, 0x80, 0x00])
    }

    func testTuneMIDIHasEveryPlayedNote() throws {
        let tune = try readReel()
        let file = TuneModel.midiFile([tune, tune], quarterNotesPerMinute: 100)
        XCTAssertEqual(file.tracks.count, 2)
        let ons = file.tracks[1].events.filter { if case .noteOn = $0.event { return true } else { return false } }
        XCTAssertEqual(ons.count, 2 * tune.performance().count)
        // The second tune starts half a whole note after the first one's last note ends (6 whole notes).
        XCTAssertEqual(ons[tune.performance().count].tick, Int(6.5 * 1920))
        XCTAssertTrue(file.tracks[0].events.contains { $0.event == .keySignature(fifths: 2, minor: false) })
    }

    // MARK: - The model

    func testTrainsEvaluatesSavesAndGenerates() throws {
        let collection = try TuneCollection(paths: [repositoryFile("Data/music/oneills1850/0001-0050.abc")])
        let (training, validation) = collection.split(validationFraction: 0.1)
        XCTAssertEqual([training.count, validation.count], [45, 5])
        var configuration = TuneModelConfiguration()
        configuration.hiddenSize = 48
        configuration.numLayers = 1
        configuration.embeddingSize = 16
        configuration.dropout = 0
        configuration.learningRate = 0.01
        var options = TrainingOptions()
        options.epochs = 4
        options.batchSize = 8
        let (tuneModel, report) = try TuneModel.train(training: training, validation: validation, configuration: configuration, options: options)
        let history = report.history
        XCTAssertEqual(history.validationLoss.count, 4)
        XCTAssertLessThan(history.validationLoss.last ?? .infinity, history.validationLoss.first ?? 0)
        let uniform = log(Double(tuneModel.vocabulary.count))
        let heldOut = try XCTUnwrap(report.validation)
        XCTAssertLessThan(heldOut.crossEntropy, 0.75 * uniform, "better than guessing among \(tuneModel.vocabulary.count) tokens")
        XCTAssertEqual(heldOut.tokens, validation.reduce(0) { $0 + ABCTokenizer().tokens($1).count + 1 })

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tunes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("tunes.model").path
        try tuneModel.model.save(to: path)
        let loaded = try TuneModel(contentsOf: path)
        XCTAssertEqual(try loaded.evaluate(validation).crossEntropy, heldOut.crossEntropy, accuracy: 1e-5)

        let generated = try loaded.generate(count: 3, meter: "6/8", key: "G", seed: 5, maximumTokens: 120)
        XCTAssertEqual(generated.count, 3)
        for tune in generated {
            XCTAssertEqual(Array(tune.tokens.prefix(3)), ["<s>", "M:6/8", "K:Gmaj"])
            XCTAssertTrue(tune.abc.hasPrefix("X:"), tune.abc)
            for (index, token) in tune.tokens.enumerated() where TuneModel.isLength(token) {
                XCTAssertTrue(TuneModel.takesLength(tune.tokens[index - 1]), "\(tune.tokens[index - 1]) \(token)")
            }
            XCTAssertFalse(tune.tokens.dropFirst(3).contains { $0.hasPrefix("M:") || $0.hasPrefix("K:") || $0 == "<unk>" })
            var inChord = false
            for token in tune.tokens {
                if inChord { XCTAssertTrue(TuneModel.takesLength(token) || TuneModel.isLength(token), "\(token) inside a chord") }
                if token == "[" { inChord = true } else if token == "]" { XCTAssertTrue(inChord); inChord = false }
            }
        }
        let again = try loaded.generate(count: 3, meter: "6/8", key: "G", seed: 5, maximumTokens: 120)
        XCTAssertEqual(again.map(\.tokens), generated.map(\.tokens), "the same seed writes the same tunes")
        XCTAssertThrowsError(try loaded.generate(count: 1, meter: "7/4")) { error in
            XCTAssertTrue("\(error)".hasPrefix("--meter 7/4: the model never saw it; it knows "), "\(error)")
        }
        XCTAssertThrowsError(try loaded.generate(count: 1, key: "Q"))
    }
}
