import Foundation
import XCTest
@testable import Recurrent

/// The bundled Asterisk prompts (Data/speech).
let speechData = repositoryFile("Data/speech")

/// A manifest in `directory` listing `files` (paths under Data/speech/asterisk-en) with their texts.
func writeSpeechManifest(_ rows: [(String, String)], to path: String) throws {
    let lines = ["path\ttext"] + rows.map { "\(speechData)/asterisk-en/\($0.0)\t\($0.1)" }
    try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
}

/// Eight spoken digits of the training split.
let spokenDigits = [("digits/0.wav", "zero"), ("digits/1.wav", "one"), ("digits/2.wav", "two"), ("digits/3.wav", "three"),
                    ("digits/6.wav", "six"), ("digits/7.wav", "seven"), ("digits/8.wav", "eight"), ("digits/9.wav", "nine")]

final class SpeechTests: ScratchDirectoryTestCase {
    func smallOptions(steps: Int) -> TrainingOptions {
        var options = TrainingOptions()
        options.epochs = steps
        options.batchSize = 8
        options.seed = 3
        return options
    }

    func smallConfiguration(bidirectional: Bool) -> SpeechConfiguration {
        var c = SpeechConfiguration()
        c.hiddenSize = 48
        c.numLayers = 1
        c.bidirectional = bidirectional
        c.dropout = 0
        c.learningRate = 1e-2
        c.validationFraction = 0
        return c
    }

    /// Eight digits, one batch, 150 steps: the model must learn to write them (a CER far below
    /// the 100% an untrained model makes), and its file must give the same transcripts.
    func testLearnsSpokenDigitsAndReloads() throws {
        try writeSpeechManifest(spokenDigits, to: path("digits.tsv"))
        let manifest = try SpeechManifest(contentsOf: path("digits.tsv"))
        let (recognizer, report) = try SpeechRecognizer.train(train: manifest, validation: nil, configuration: smallConfiguration(bidirectional: true),
                                                               options: smallOptions(steps: 150))
        XCTAssertEqual(report.trainingUtterances, 8)
        XCTAssertEqual(recognizer.alphabet, ["e", "g", "h", "i", "n", "o", "r", "s", "t", "v", "w", "x", "z"])
        XCTAssertLessThan(report.history.trainLoss.last ?? .infinity, report.history.trainLoss[0] / 5, "\(report.history.trainLoss)")
        let (score, transcripts) = try recognizer.evaluate(manifest)
        XCTAssertLessThan(score.characterErrorRate, 0.2, "\(transcripts)")
        XCTAssertEqual(score.utterances, 8)
        XCTAssertEqual(score.referenceCharacters, spokenDigits.map(\.1.count).reduce(0, +))

        try recognizer.save(to: path("digits.model"))
        let reloaded = try SpeechRecognizer(contentsOf: path("digits.model"))
        XCTAssertEqual(try reloaded.evaluate(manifest).1, transcripts)
        // A beam without a language model finds the best path's labelling or a likelier one.
        let (beamScore, _) = try reloaded.evaluate(manifest, decoding: SpeechDecoding(beamWidth: 8))
        XCTAssertLessThanOrEqual(beamScore.characterErrorRate, score.characterErrorRate + 0.05)
    }

    /// A unidirectional model with global statistics transcribes a stream fed in chunks of any
    /// size exactly as it transcribes the whole clip, with the best path and with a beam; the
    /// partial transcripts only grow at the best path.
    func testStreamingEqualsWholeClip() throws {
        try writeSpeechManifest(spokenDigits, to: path("digits.tsv"))
        let manifest = try SpeechManifest(contentsOf: path("digits.tsv"))
        let (recognizer, _) = try SpeechRecognizer.train(train: manifest, validation: nil, configuration: smallConfiguration(bidirectional: false),
                                                         options: smallOptions(steps: 60))
        XCTAssertTrue(recognizer.isStreamable)
        XCTAssertEqual(recognizer.configuration.resolvedNormalization, .global)
        let clip = try WAVFile.read(path: "\(speechData)/asterisk-en/vm-intro.wav")
        for decoding in [SpeechDecoding(), SpeechDecoding(beamWidth: 4)] {
            let whole = try recognizer.transcribe(clip, name: "vm-intro.wav", decoding: decoding)
            for chunk in [800, 37, 1601] {
                let stream = try SpeechStream(recognizer, decoding: decoding)
                var partials: [String] = []
                for start in stride(from: 0, to: clip.samples.count, by: chunk) {
                    partials.append(try stream.push(Array(clip.samples[start..<min(clip.samples.count, start + chunk)])))
                }
                XCTAssertEqual(try stream.finish(), whole, "chunks of \(chunk), beam \(decoding.beamWidth)")
                XCTAssertEqual(stream.samplesHeard, clip.samples.count)
                if decoding.beamWidth == 1 {
                    for (earlier, later) in zip(partials, partials.dropFirst()) { XCTAssertTrue(later.hasPrefix(earlier)) }
                }
            }
        }
    }

    func testStreamRefusesModelsThatNeedTheWholeUtterance() throws {
        try writeSpeechManifest(Array(spokenDigits.prefix(3)), to: path("three.tsv"))
        let manifest = try SpeechManifest(contentsOf: path("three.tsv"))
        let (bidirectional, _) = try SpeechRecognizer.train(train: manifest, validation: nil, configuration: smallConfiguration(bidirectional: true),
                                                            options: smallOptions(steps: 1))
        XCTAssertThrowsError(try SpeechStream(bidirectional)) { error in
            XCTAssertTrue("\(error)".contains("bidirectional"), "\(error)")
        }
        var perUtterance = smallConfiguration(bidirectional: false)
        perUtterance.normalization = .utterance
        let (unidirectional, _) = try SpeechRecognizer.train(train: manifest, validation: nil, configuration: perUtterance, options: smallOptions(steps: 1))
        XCTAssertThrowsError(try SpeechStream(unidirectional)) { error in
            XCTAssertTrue("\(error)".contains("--normalization global"), "\(error)")
        }
    }

    func testScoreSumsEditsOverTheCorpus() {
        var score = SpeechScore()
        score.add(transcript: "press  one", reference: "Press one")           // equal after normalisation
        score.add(transcript: "the pond key", reference: "the pound key")      // 1 character, 1 word
        score.add(transcript: "", reference: "goodbye")                       // 7 characters, 1 word
        XCTAssertEqual(score.utterances, 3)
        XCTAssertEqual(score.characterEdits, 8)
        XCTAssertEqual(score.referenceCharacters, 9 + 13 + 7)
        XCTAssertEqual(score.wordEdits, 2)
        XCTAssertEqual(score.referenceWords, 2 + 3 + 1)
        XCTAssertEqual(score.characterErrorRate, 8.0 / 29, accuracy: 1e-12)
        XCTAssertEqual(score.wordErrorRate, 2.0 / 6, accuracy: 1e-12)
    }

    /// Validation held out by text: every recording of a text on the same side.
    func testHoldOutKeepsTextsTogether() {
        let utterances = (0..<200).map { Utterance(audioPath: "\($0).wav", text: "text \($0 % 70)", line: $0 + 2) }
        let (train, validation) = SpeechRecognizer.holdOut(utterances, fraction: 0.2)
        XCTAssertEqual(train.count + validation.count, 200)
        XCTAssertTrue(Set(train.map(\.text)).isDisjoint(with: Set(validation.map(\.text))))
        XCTAssertGreaterThan(validation.count, 10)
        XCTAssertGreaterThan(train.count, 100)
    }
}

final class SpeechManifestTests: ScratchDirectoryTestCase {
    func testReadsTSVAndCSVWithPathsRelativeToTheManifestOrARoot() throws {
        try FileManager.default.createDirectory(atPath: path("clips"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(speechData)/asterisk-en/digits/1.wav", toPath: path("clips/one.wav"))
        // Common Voice's sentences hold bare quotes: a TSV is split on tabs only.
        _ = try write("client_id\tpath\ttext\n7\tclips/one.wav\tshe said \"one\"\n\n", to: "cv.tsv")
        let tsv = try SpeechManifest(contentsOf: path("cv.tsv"))
        XCTAssertEqual(tsv.utterances, [Utterance(audioPath: path("clips/one.wav"), text: "she said \"one\"", line: 2)])
        _ = try write("text,path\n\"one, again\",one.wav\n", to: "list.csv")
        let csv = try SpeechManifest(contentsOf: path("list.csv"), audioRoot: path("clips"))
        XCTAssertEqual(csv.utterances.map(\.text), ["one, again"])
        XCTAssertEqual(csv.utterances.map(\.audioPath), [path("clips/one.wav")])
        // Common Voice's TSV as it ships (sentence, clips/ beside it), DeepSpeech's CSV.
        _ = try write("client_id\tpath\tsentence_id\tsentence\tup_votes\n7\tone.wav\t12\tone\t2\n", to: "validated.tsv")
        XCTAssertEqual(try SpeechManifest(contentsOf: path("validated.tsv")).utterances,
                       [Utterance(audioPath: path("clips/one.wav"), text: "one", line: 2)])
        _ = try write("wav_filename,wav_filesize,transcript\nclips/one.wav,7836,one\n", to: "train.csv")
        XCTAssertEqual(try SpeechManifest(contentsOf: path("train.csv")).utterances.map(\.audioPath), [path("clips/one.wav")])
        // A LibriSpeech folder: SPEAKER/CHAPTER/SPEAKER-CHAPTER.trans.txt beside ID.flac (or .wav).
        let chapter = path("LibriSpeech/dev-clean/84/121123")
        try FileManager.default.createDirectory(atPath: chapter, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: path("clips/one.wav"), toPath: chapter + "/84-121123-0000.flac")
        try FileManager.default.copyItem(atPath: path("clips/one.wav"), toPath: chapter + "/84-121123-0001.wav")
        _ = try write("84-121123-0000 GO DO YOU HEAR\n84-121123-0001 BUT IN LESS THAN FIVE MINUTES\n", to: "LibriSpeech/dev-clean/84/121123/84-121123.trans.txt")
        let libri = try SpeechManifest(contentsOf: path("LibriSpeech"))
        XCTAssertEqual(libri.utterances, [Utterance(audioPath: chapter + "/84-121123-0000.flac", text: "GO DO YOU HEAR", line: 1),
                                          Utterance(audioPath: chapter + "/84-121123-0001.wav", text: "BUT IN LESS THAN FIVE MINUTES", line: 2)])
        XCTAssertThrowsError(try SpeechManifest(contentsOf: path("clips"))) { error in
            XCTAssertTrue("\(error)".contains("is a folder without LibriSpeech transcripts (*.trans.txt)"), "\(error)")
        }
    }

    func testBadManifestsNameTheFileAndLine() throws {
        _ = try write("path\tcaption\nx.wav\thello\n", to: "notext.tsv")
        XCTAssertThrowsError(try SpeechManifest(contentsOf: path("notext.tsv"))) { error in
            XCTAssertTrue("\(error)".contains("notext.tsv: no \"text\" column"), "\(error)")
        }
        _ = try write("path\ttext\n\(speechData)/asterisk-en/digits/1.wav\tone\nmissing.wav\thello\n", to: "missing.tsv")
        XCTAssertThrowsError(try SpeechManifest(contentsOf: path("missing.tsv"))) { error in
            XCTAssertTrue("\(error)".contains("missing.tsv: line 3: no audio file"), "\(error)")
        }
        _ = try write("path\ttext\n", to: "empty.tsv")
        XCTAssertThrowsError(try SpeechManifest(contentsOf: path("empty.tsv"))) { error in
            XCTAssertTrue("\(error)".contains("lists no utterances"), "\(error)")
        }
    }
}
