import Foundation
import XCTest
@testable import Recurrent

/// Multichannel recordings: the `.ts` reader, step-per-row CSVs, classification on an archive's
/// own split, and anomaly detection (scores, ranges, figures, streaming).
final class SensorsTests: ScratchDirectoryTestCase {
    static let tiny = """
        # two cases of two channels
        @problemName Tiny
        @timeStamps false
        @missing true
        @univariate false
        @dimensions 2
        @equalLength false
        @classLabel true up down
        @data
        1,2,3:4,?,6:up
        1,2,?:3,4,?:down

        """

    func testTSFileReadsChannelsLabelsGapsAndLengths() throws {
        let file = try TSFile(text: Self.tiny, path: "tiny.ts")
        XCTAssertEqual(file.problemName, "Tiny")
        XCTAssertEqual(file.dimensions, 2)
        XCTAssertEqual(file.classLabels, ["up", "down"])
        XCTAssertEqual(file.sequences.channels, ["1", "2"])
        XCTAssertEqual(file.sequences.labels, ["up", "down"])
        XCTAssertEqual(file.sequences.lineNumbers, [10, 11])
        // The gap inside channel 2 is filled from its neighbours; steps missing in every channel
        // at the end are padding and are cut off, so the second case keeps its length of 2.
        XCTAssertEqual(file.sequences.series, [[1, 4, 2, 5, 3, 6], [1, 3, 2, 4]])
        XCTAssertEqual(file.sequences.lengths, [3, 2])
    }

    func testBundledArchivesReadAsDocumented() throws {
        let motions = try TSFile(path: repositoryFile("Data/sensors/BasicMotions_TRAIN.ts"))
        XCTAssertEqual(motions.sequences.count, 40)
        XCTAssertEqual(motions.dimensions, 6)
        XCTAssertEqual(Set(motions.sequences.lengths), [100])
        let vowels = try TSFile(path: repositoryFile("Data/sensors/JapaneseVowels_TEST.ts"))
        XCTAssertEqual(vowels.sequences.count, 370)
        XCTAssertEqual(vowels.dimensions, 12)
        XCTAssertEqual(vowels.sequences.lengths.min(), 7)
        XCTAssertEqual(vowels.sequences.lengths.max(), 29)
    }

    func assertInvalid(_ text: String, mentions parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try TSFile(text: text, path: "bad.ts"), file: file, line: line) { error in
            let message = String(describing: error)
            for part in ["bad.ts"] + parts { XCTAssertTrue(message.contains(part), "\(message) lacks \(part)", file: file, line: line) }
        }
    }

    func testTSFileErrorsNameTheLine() {
        assertInvalid(Self.tiny.replacingOccurrences(of: "1,2,3:4,?,6:up", with: "1,2,3:4,?,6:7,8,9:up"),
                      mentions: ["line 10", "3 channels", "@dimensions declares 2"])
        assertInvalid(Self.tiny.replacingOccurrences(of: "@dimensions 2", with: "@dimensions two"),
                      mentions: ["line 6", "@dimensions takes a positive whole number"])
        assertInvalid(Self.tiny.replacingOccurrences(of: ":up", with: ":left"), mentions: ["line 10", "\"left\""])
        assertInvalid(Self.tiny.replacingOccurrences(of: "1,2,3:4", with: "1,x,3:4"), mentions: ["line 10", "\"x\" is not a number"])
        assertInvalid(Self.tiny.replacingOccurrences(of: "@data\n", with: ""), mentions: ["line 9", "comes before @data"])
        assertInvalid(Self.tiny.replacingOccurrences(of: "@missing true", with: "@colour blue"), mentions: ["line 4", "unknown tag"])
    }

    func testStepPerRowCSVGroupsRowsBySequenceID() throws {
        let csv = try write("id,ax,ay,activity\na,1,2,walk\na,2,3,walk\nb,5,6,run\na,3,4,walk\n", to: "steps.csv")
        let sequences = try MultichannelSequences(table: CSVTable(path: csv), sequenceColumn: "id", labelColumn: "activity")
        XCTAssertEqual(sequences.channels, ["ax", "ay"])
        XCTAssertEqual(sequences.series, [[1, 2, 2, 3, 3, 4], [5, 6]])
        XCTAssertEqual(sequences.labels, ["walk", "run"])
        XCTAssertEqual(sequences.lineNumbers, [2, 4])
        let mixed = try write("id,ax,activity\na,1,walk\na,2,run\n", to: "mixed.csv")
        XCTAssertThrowsError(try MultichannelSequences(table: CSVTable(path: mixed), sequenceColumn: "id", labelColumn: "activity")) {
            XCTAssertTrue(String(describing: $0).contains("line 3"), String(describing: $0))
        }
    }

    func classification() -> ClassificationConfiguration {
        var c = ClassificationConfiguration()
        c.cell = .gru
        c.bidirectional = true
        return c
    }

    /// BasicMotions on the archive's own test file (1.00 in the README with this configuration).
    func testBasicMotionsOnTheArchiveSplit() throws {
        let input = ClassificationInput.archive()
        let train = try ClassificationRows(path: repositoryFile("Data/sensors/BasicMotions_TRAIN.ts"), input: input, requireLabels: true)
        let test = try ClassificationRows(path: repositoryFile("Data/sensors/BasicMotions_TEST.ts"), input: train.input, requireLabels: true)
        var options = TrainingOptions()
        options.epochs = 100
        let (_, report, _) = try Classifier.train(rows: train, test: test, configuration: classification(), options: options)
        XCTAssertEqual(report.count, 40, "every case of the test file, none held out of training")
        XCTAssertGreaterThanOrEqual(report.accuracy, 0.95)
    }

    func testUnseenTestClassAndConstantChannelAreErrors() throws {
        let train = try write(Self.tiny + "2,3,4:5,6,7:up\n3,4,5:6,7,9:down\n", to: "train.ts")
        let test = try write(Self.tiny.replacingOccurrences(of: "up down", with: "up down left")
            .replacingOccurrences(of: ":down", with: ":left"), to: "test.ts")
        let rows = try ClassificationRows(path: train, input: .archive(), requireLabels: true)
        let testRows = try ClassificationRows(path: test, input: rows.input, requireLabels: true)
        var options = TrainingOptions()
        options.epochs = 1
        var c = classification()
        c.validationFraction = 0
        XCTAssertThrowsError(try Classifier.train(rows: rows, test: testRows, configuration: c, options: options)) {
            let message = String(describing: $0)
            XCTAssertTrue(message.contains("test.ts") && message.contains("line 11") && message.contains("\"left\""), message)
        }
        let constant = try write(Self.tiny.replacingOccurrences(of: "4,?,6", with: "4,4,4").replacingOccurrences(of: "3,4,?", with: "4,4,?"),
                                 to: "constant.ts")
        let constantRows = try ClassificationRows(path: constant, input: .archive(), requireLabels: true)
        XCTAssertThrowsError(try Classifier.train(rows: constantRows, test: constantRows, configuration: c, options: options)) {
            let message = String(describing: $0)
            XCTAssertTrue(message.contains("constant.ts") && message.contains("channel 2 is constant"), message)
        }
    }
}
