import Foundation
import XCTest
@testable import Recurrent

/// PhysioNet WFDB records (Fixtures/wfdb, from wfdb-python's sample data) read as PhysioNet's
/// own reader reads them: `NAME.expected.csv` holds `wfdb.rdrecord(physical=True)`'s values
/// (scripts/wfdb_fixtures.py), every storage format of the binformats record included.
final class WFDBRecordTests: ScratchDirectoryTestCase {
    let folder = repositoryFile("Tests/RecurrentTests/Fixtures/wfdb")

    func testEveryFormatGivesPhysioNetsValuesExactly() throws {
        for name in ["binformats", "100_3chan", "3000003_0003", "test01_00s"] {
            let record = try WFDBRecord(contentsOf: "\(folder)/\(name).hea")
            let expected = try CSVTable(path: "\(folder)/\(name).expected.csv")
            XCTAssertEqual(record.signals.map(\.name), expected.header, name)
            XCTAssertEqual(record.sampleCount, expected.rows.count, name)
            for (k, signal) in record.signals.enumerated() {
                let wanted = expected.rows.map { Double($0[k]) ?? .nan }
                let differing = zip(signal.values, wanted).enumerated().filter { $1.0 != $1.1 }
                XCTAssertTrue(differing.isEmpty, "\(name) \(signal.name) (format \(signal.format)): \(differing.count) values differ, first \(differing.prefix(2))")
            }
        }
        let record = try WFDBRecord(contentsOf: "\(folder)/100_3chan.hea")
        XCTAssertEqual(record.frequency, 360)
        XCTAssertEqual(record.signals.map(\.units), ["mV", "mV", "mV"])
        XCTAssertEqual(record.signals[0].baseline, 1024)
        // As a table: what every CSV reader takes (forecasting, classification, anomaly detection).
        let table = try CSVTable(path: "\(folder)/test01_00s.hea")
        XCTAssertEqual(table.header, ["ECG 1", "ECG 2", "ECG 3", "ECG 4"])
        XCTAssertEqual(table.rows.count, 4000)
        let signal = try LabelledSignal(table: table, column: "ECG 2")
        XCTAssertEqual(signal.values, try WFDBRecord(contentsOf: "\(folder)/test01_00s.hea").signals[1].values.map(Float.init))
        XCTAssertEqual(table.location(row: 7, column: 1), "sample 7, signal 2 (\"ECG 2\")")
    }

    /// MIT-format annotation files (record 100's reference beats, and 1003's with auxiliary
    /// text on every beat) read as PhysioNet's reader reads them, and abnormal beats as labels.
    func testAnnotationsGivePhysioNetsBeatsAndLabelAbnormalBeats() throws {
        for name in ["100", "1003"] {
            let read = try WFDBAnnotations(contentsOf: "\(folder)/\(name).atr").annotations
            let expected = try CSVTable(path: "\(folder)/\(name).atr.expected.csv")
            XCTAssertEqual(read.count, expected.rows.count, name)
            XCTAssertEqual(read.map(\.sample), expected.rows.map { Int($0[0]) ?? -1 }, name)
            XCTAssertEqual(read.map(\.symbol), expected.rows.map { $0[1] }, name)
            XCTAssertEqual(read.map(\.auxiliary), expected.rows.map { $0[2] }, name)
        }
        let record100 = try WFDBAnnotations(contentsOf: "\(folder)/100.atr")
        let labels = record100.abnormalBeatLabels(sampleCount: 650_000)
        let beats = record100.annotations.filter { ["N", "A", "V"].contains($0.symbol) }
        XCTAssertEqual(beats.filter { $0.symbol != "N" }.count, 34, "33 atrial premature beats and one ventricular")
        for beat in beats { XCTAssertEqual(labels[beat.sample], beat.symbol == "N" ? 0 : 1, "\(beat.symbol) at \(beat.sample)") }
        // A beat covers halfway to its neighbours.
        let few = WFDBAnnotations(annotations: [.init(sample: 10, code: 1, auxiliary: ""), .init(sample: 20, code: 5, auxiliary: ""),
                                               .init(sample: 25, code: 28, auxiliary: "(N"), .init(sample: 31, code: 1, auxiliary: "")])
        XCTAssertEqual(few.abnormalBeatLabels(sampleCount: 35), (0..<35).map { (15...25).contains($0) ? 1 : 0 })

        // Beside a record's header, the annotations are a column of labels.
        for file in ["test01_00s.hea", "test01_00s.dat"] { try FileManager.default.copyItem(atPath: "\(folder)/\(file)", toPath: path(file)) }
        try FileManager.default.copyItem(atPath: "\(folder)/100.atr", toPath: path("test01_00s.atr"))
        let table = try CSVTable(path: path("test01_00s.hea"))
        XCTAssertEqual(table.header, ["ECG 1", "ECG 2", "ECG 3", "ECG 4", "atr"])
        XCTAssertEqual(table.rows.map { Int($0[4]) ?? -1 }, record100.abnormalBeatLabels(sampleCount: 4000))
        let truncated = try write("", to: "bad.atr")
        try Data([0x4D, 0xFC, 0x05]).write(to: URL(fileURLWithPath: truncated))
        XCTAssertThrowsError(try WFDBAnnotations(contentsOf: truncated)) { XCTAssertTrue("\($0)".contains("bad.atr: byte 0: auxiliary text"), "\($0)") }
    }

    func testRecordsThatCannotBeReadAreNamedWithTheLine() throws {
        func copy(_ name: String) throws { try FileManager.default.copyItem(atPath: "\(folder)/\(name)", toPath: path(name)) }
        try copy("100_3chan.dat")
        func error(_ header: String) -> String {
            do {
                _ = try WFDBRecord(contentsOf: try write(header, to: "r.hea"))
                return "no error"
            } catch { return "\(error)" }
        }
        let cases: [(String, String)] = [
            ("r/3 2 125 1000\n", "line 1: r/3 is a multi-segment record"),
            ("r 2 360 999\n100_3chan.dat 212x4 200 11 1024 995 0 0 I\n100_3chan.dat 212 200 11 1024 0 0 0 II\n", "line 2: signal 1 is stored at 4 samples per frame"),
            ("r 1 360 999\n100_3chan.dat 516 200 16 0 0 0 0 I\n", "line 2: storage format 516 is not read (FLAC;"),
            ("r 2 360 999\n100_3chan.dat 212 200 11 1024 995 0 0 I\n", "says 2 signals, but 1 signal lines follow"),
            ("r 1 360 999\n100_3chan.dat 212 abc/mV 11 1024 995 0 0 I\n", "line 2: gain \"abc\" in \"abc/mV\" is not a number"),
            ("r 1 fast 999\n100_3chan.dat 212\n", "line 1: sampling frequency \"fast\""),
            ("r 1 360 99999\n100_3chan.dat 212\n", "holds 2997 samples of each of its 1 signals; the header"),
            ("r 1 360 10\nmissing.dat 16\n", "missing.dat: cannot be read"),
            ("# only a comment\n", "is empty: no record line"),
        ]
        for (header, fragment) in cases {
            XCTAssertTrue(error(header).contains(fragment), "\(fragment) in \(error(header))")
        }
        // Without a sample count, the file's size says it.
        let counted = try WFDBRecord(contentsOf: try write("r 1 360\n100_3chan.dat 16\n", to: "r.hea"))
        XCTAssertEqual(counted.sampleCount, 4496 / 2)
    }

    /// The command line reads a record wherever it reads a CSV: an anomaly detector trained on a
    /// signal of a PhysioNet record, by the signal's name.
    func testTheCommandLineTrainsOnARecordsSignal() throws {
        let header = "\(folder)/test01_00s.hea"
        let trained = try runCLI(["anomaly", "train", header, "--column", "ECG 1", "--window", "200", "--max-steps", "5", "-o", path("ecg.model")])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let detected = try runCLI(["anomaly", "detect", path("ecg.model"), header, "--json"])
        XCTAssertEqual(detected.status, 0, detected.stderr)
        // With annotations beside the header, --labels atr scores the detection.
        for file in ["test01_00s.hea", "test01_00s.dat"] { try FileManager.default.copyItem(atPath: "\(folder)/\(file)", toPath: path(file)) }
        try FileManager.default.copyItem(atPath: "\(folder)/100.atr", toPath: path("test01_00s.atr"))
        let labelled = try runCLI(["anomaly", "detect", path("ecg.model"), path("test01_00s.hea"), "--labels", "atr", "--json"])
        XCTAssertEqual(labelled.status, 0, labelled.stderr)
        XCTAssertTrue(labelled.stdout.contains("\"evaluation\""), labelled.stdout)
        let wrong = try runCLI(["anomaly", "train", header, "--column", "MLII", "-o", path("x.model")])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stderr.contains("test01_00s.hea") && wrong.stderr.contains("ECG 1"), wrong.stderr)
    }
}
