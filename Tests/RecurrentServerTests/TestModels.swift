import Foundation
import XCTest

/// Small models of every kind, made once per test run with the built command line: PyTorch's
/// LSTM and bidirectional GRU fixtures imported, and a forecaster, a character language model, a
/// text classifier and an encoder-decoder trained for a few steps on the repository's data.
enum TestModels {
    static let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-serve-models-\(getpid())")

    static func path(_ name: String) -> String { directory.appendingPathComponent("\(name).model").path }

    static var lstm: String { path("lstm") }
    static var bigru: String { path("bigru") }
    static var airline: String { path("airline") }
    static var bard: String { path("bard") }
    static var sentiment: String { path("sentiment") }
    static var g2p: String { path("g2p") }
    static var digits: String { path("digits") }
    static var all: [String] { [lstm, bigru, airline, bard, sentiment, g2p, digits] }
    /// A word-level language model whose output layer (about 1,100 words x 256 units) is beyond
    /// the dot products' cache bound (262,144 floats), served on its own.
    static var words: String { path("words") }
    /// A model of many series (the M3 monthly sample, horizon 12), served on its own.
    static var m3: String { path("m3") }
    /// A chat model (chatterbot-corpus, 600 steps): served beside the others by the tests of
    /// OpenAI's routes, the page and the fuzz run.
    static var chat: String { path("chat") }
    /// An anomaly detector on the labelled MIT-BIH excerpt (a few steps).
    static var ecg: String { path("ecg") }
    /// A tune model, a chorale model and a stroke model (a few steps each).
    static var tunes: String { path("tunes") }
    static var chorales: String { path("chorales") }
    static var strokes: String { path("strokes") }

    private static let made = LockedValue<Result<Void, any Error>>()
    private static let lock = NSLock()

    /// Makes the models on first use; later calls return at once.
    static func make() throws {
        lock.lock()
        defer { lock.unlock() }
        if let result = made.get() { return try result.get() }
        let result = Result { try build() }
        made.set(result)
        try result.get()
    }

    private static func build() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // The models last for the test process and go with it.
        atexit { try? FileManager.default.removeItem(at: TestModels.directory) }
        let data = repositoryRoot.appendingPathComponent("Data").path
        let fixtures = repositoryRoot.appendingPathComponent("Tests/RecurrentTests/Fixtures/torch").path
        let dictionary = directory.appendingPathComponent("small.dict").path
        let lines = try String(contentsOfFile: "\(data)/cmudict/train.dict", encoding: .utf8).split(separator: "\n").prefix(800)
        try (lines.joined(separator: "\n") + "\n").write(toFile: dictionary, atomically: true, encoding: .utf8)
        let spoken = directory.appendingPathComponent("digits.tsv").path
        try (["path\ttext"] + ["0 zero", "1 one", "2 two", "3 three", "6 six", "7 seven", "8 eight", "9 nine"].map {
            "\(data)/speech/asterisk-en/digits/\($0.split(separator: " ")[0]).wav\t\($0.split(separator: " ")[1])"
        }).joined(separator: "\n").write(toFile: spoken, atomically: true, encoding: .utf8)
        let commands: [[String]] = [
            ["import", "torch", "\(fixtures)/lstm_2layer.safetensors", "--config", "\(fixtures)/lstm_2layer.json", "-o", lstm],
            ["import", "torch", "\(fixtures)/gru_bidirectional_2layer.safetensors", "--config", "\(fixtures)/gru_bidirectional_2layer.json", "-o", bigru],
            ["forecast", "train", "\(data)/airline-passengers.csv", "--column", "Passengers", "--epochs", "2", "--hidden", "16", "-o", airline],
            ["text", "train", "\(data)/shakespeare", "--level", "char", "--max-steps", "8", "--hidden", "32", "--layers", "1",
             "--batch-size", "8", "--seq-len", "32", "-o", bard],
            ["text", "train", "\(data)/shakespeare", "--level", "word", "--max-vocabulary", "1100", "--max-steps", "2", "--hidden", "256",
             "--layers", "1", "--batch-size", "4", "--seq-len", "8", "-o", words],
            ["classify", "train", "\(data)/rotten-tomatoes-sentences.csv", "--label-column", "category", "--text-column", "text",
             "--exclude-label", "plot", "--max-steps", "6", "--hidden", "16", "-o", sentiment],
            ["seq2seq", "train", dictionary, "--format", "cmudict", "--epochs", "1", "--hidden", "32", "-o", g2p],
            ["forecast", "train", "\(data)/m3-monthly-sample-train.csv", "--season", "12", "--horizon", "12", "--epochs", "1", "--hidden", "8",
             "--reference", "theta", "--loss-scale", "level", "-o", m3],
            // Enough steps (6 s) that its replies are words, not the empty reply.
            ["chat", "train", "\(data)/dialogue/chatterbot", "--max-steps", "600", "--hidden", "64", "--embedding-size", "32",
             "--vocabulary", "600", "--max-turn-tokens", "12", "--batch-size", "32", "--learning-rate", "0.005", "-o", chat],
            ["anomaly", "train", "\(data)/sensors/mitdb.csv", "--column", "data", "--labels", "label", "--max-steps", "40", "--hidden", "16",
             "-o", ecg],
            ["music", "train", "\(data)/music/oneills1850", "--max-steps", "3", "--hidden", "16", "-o", tunes],
            ["music", "train", "\(data)/music/bach", "--format", "pianoroll", "--max-steps", "3", "--hidden", "16", "-o", chorales],
            ["strokes", "train", "\(data)/strokes/kanjivg", "--max-steps", "3", "--hidden", "16", "-o", strokes],
            ["speech", "train", spoken, "--hidden", "32", "--layers", "1", "--epochs", "40", "--learning-rate", "0.01", "--dropout", "0", "-o", digits],
        ]
        for arguments in commands {
            let run = try runRecurrent(arguments)
            guard run.status == 0 else {
                throw NSError(domain: "TestModels", code: Int(run.status), userInfo: [NSLocalizedDescriptionKey: "\(arguments.joined(separator: " ")): \(run.stderr)"])
            }
        }
    }
}
