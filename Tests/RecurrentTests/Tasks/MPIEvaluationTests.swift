import Foundation
import XCTest

/// Evaluation and batch prediction under `mpirun -np 2`: every verb that reads many items (rows,
/// series, windows, files, lines, batches) splits them over the ranks and gathers the results in
/// order, and rank 0 prints exactly what one process prints, every digit of every figure. Each
/// test trains a tiny model for a few steps, runs the verb as one process and on 2 ranks, and
/// compares the whole standard output. Skipped, with a message, where MPI is not installed.
final class MPIEvaluationTests: ScratchDirectoryTestCase {
    let common = ["--threads", "1", "--seed", "7"]

    func data(_ name: String) -> String { repositoryFile("Data/" + name) }

    /// Trains `arguments` for `steps` steps into `name`.model and returns its path.
    func trained(_ name: String, _ arguments: [String], steps: Int = 6) throws -> String {
        let model = path("\(name).model")
        let result = try runCLI(arguments + ["--max-steps", "\(steps)", "-o", model])
        XCTAssertEqual(result.status, 0, "\(name): \(result.stderr)")
        return model
    }

    /// Runs `arguments` alone and on 2 ranks: both succeed, the ranks say they split the work,
    /// and the standard outputs are equal.
    func assertTwoRanksPrintWhatOneProcessPrints(_ arguments: [String], input: String? = nil, file: StaticString = #filePath,
                                                 line: UInt = #line) throws {
        let name = arguments.prefix(2).joined(separator: " ")
        let one = try runCLI(arguments, input: input)
        XCTAssertEqual(one.status, 0, "\(name): \(one.stderr)", file: file, line: line)
        let two = try twoRanks(arguments, input: input)
        XCTAssertEqual(two.status, 0, "\(name): \(two.stderr)", file: file, line: line)
        XCTAssertTrue(two.stderr.contains("split over 2 ranks"), "\(name): \(two.stderr)", file: file, line: line)
        XCTAssertFalse(one.stdout.isEmpty, name, file: file, line: line)
        XCTAssertEqual(two.stdout, one.stdout, name, file: file, line: line)
    }

    /// One token stream cut into rows: each rank reads its rows (the last with the tail), and the
    /// rows' sums are added in row order whatever the split.
    func testTextEvaluateSplitsTheRowsOfTheStream() throws {
        _ = try mpirun()
        let texts = try corpus()
        let model = try trained("text", ["text", "train"] + texts + ["--level", "char", "--hidden", "24", "--seq-len", "20",
                                                                    "--batch-size", "8"] + common)
        try assertTwoRanksPrintWhatOneProcessPrints(["text", "evaluate", model, texts[1], "--json"])
    }

    /// Many series: each rank forecasts its share of the series of every backtest window, each
    /// series drawing from a generator of its own (a distribution head samples its intervals, the
    /// recursive strategy its paths);
    /// one series: each rank forecasts its share of the windows.
    func testForecastEvaluateAndPredictSplitTheSeriesAndTheWindows() throws {
        _ = try mpirun()
        let panel = data("m3-monthly-sample-train.csv")
        for (name, head) in [("quantiles", ["--head", "quantiles"]), ("student-t", ["--head", "student-t", "--samples", "50"]),
                                  ("recursive", ["--head", "gaussian", "--strategy", "recursive", "--samples", "20"])] {
            let model = try trained("panel-\(name)", ["forecast", "train", panel, "--season", "12", "--horizon", "6", "--hidden", "16"]
                                    + head + common)
            try assertTwoRanksPrintWhatOneProcessPrints(["forecast", "evaluate", model, panel, "--backtest-windows", "2", "--json"])
            try assertTwoRanksPrintWhatOneProcessPrints(["forecast", "predict", model, panel, "--json"])
        }
        let airline = data("airline-passengers.csv")
        let single = try trained("airline", ["forecast", "train", airline, "--column", "Passengers", "--hidden", "16"] + common)
        try assertTwoRanksPrintWhatOneProcessPrints(["forecast", "evaluate", single, airline, "--backtest-windows", "5", "--json"])
    }

    /// Lines of standard input: rank 0 reads them and sends them to every rank; blank lines stay.
    func testSeq2SeqTranslateSplitsTheLinesOfStandardInput() throws {
        _ = try mpirun()
        let commands = Dictionary(uniqueKeysWithValues: try trainingCommands().map { ($0.name, $0.arguments) })
        let model = try trained("seq2seq", commands["seq2seq"] ?? [])
        let words = ["PHONE", "TABLE", "", "WATER", "KITCHEN", "SUNDAY", "  ", "RIVER", "MOUNTAIN"]
        try assertTwoRanksPrintWhatOneProcessPrints(["seq2seq", "translate", model, "--beam", "2"],
                                                    input: words.joined(separator: "\n") + "\n")
    }

    /// Several WAV files: each rank reads and transcribes its share.
    func testSpeechTranscribeSplitsTheFiles() throws {
        _ = try mpirun()
        let commands = Dictionary(uniqueKeysWithValues: try trainingCommands().map { ($0.name, $0.arguments) })
        let model = try trained("speech", commands["speech"] ?? [])
        let manifest = try String(contentsOfFile: data("speech/train.tsv"), encoding: .utf8).split(separator: "\n")
        let files = manifest.dropFirst().prefix(5).map { data("speech/" + $0.split(separator: "\t")[0]) }
        try assertTwoRanksPrintWhatOneProcessPrints(["speech", "transcribe", model] + files + ["--threads", "1", "--json"])
    }

    /// The replies' loss in batches and the model's own replies, sampled (each batch draws from a
    /// generator keyed by its place) and by beam search.
    func testChatEvaluateSplitsTheBatches() throws {
        _ = try mpirun()
        let commands = Dictionary(uniqueKeysWithValues: try moreTrainingCommands().map { ($0.name, $0.arguments) })
        let dialogue = ["greetings.yml", "conversations.yml", "emotion.yml"].map { data("dialogue/chatterbot/" + $0) }
        let model = try trained("chat", commands["chat"] ?? [])
        for decoding in [["--beam", "2"], ["--decoding", "sample", "--decoding-seed", "3"]] {
            try assertTwoRanksPrintWhatOneProcessPrints(["chat", "evaluate", model] + dialogue
                                                        + ["--all", "--samples", "4", "--json"] + decoding)
        }
    }

    /// Tunes and chorales in batches of similar lengths: each rank scores its share of the batches.
    func testMusicEvaluateSplitsTheBatchesOfTunesAndChorales() throws {
        _ = try mpirun()
        let commands = Dictionary(uniqueKeysWithValues: try moreTrainingCommands().map { ($0.name, $0.arguments) })
        let tunes = try trained("tunes", commands["music-tunes"] ?? [])
        try assertTwoRanksPrintWhatOneProcessPrints(["music", "evaluate", tunes, data("music/oneills1850/0051-0100.abc"),
                                                     data("music/oneills1850/0101-0200.abc"), "--json"])
        let chorales = try trained("chorales", commands["music-pianoroll"] ?? [])
        // The 12 chorales three times over: a batch of 32 and one of 4, one for each rank.
        try assertTwoRanksPrintWhatOneProcessPrints(["music", "evaluate", chorales] + Array(repeating: data("music/bach"), count: 3) + ["--json"])
    }
}
