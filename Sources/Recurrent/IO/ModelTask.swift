import Foundation

/// The task a model file was trained for, read alike by every verb, so that a model given to
/// the wrong verb is refused with one message naming what the file is and what makes the right one.
extension Model {
    /// What each task's models are, and the command that trains them.
    static let tasks: [String: (kind: String, trainCommand: String)] = [
        "forecast": ("a forecaster of one series", "recurrent forecast train"),
        "global-forecast": ("a forecaster of many series", "recurrent forecast train"),
        "language-model": ("a language model", "recurrent text train"),
        "classify": ("a classifier", "recurrent classify train"),
        "seq2seq": ("a sequence-to-sequence model", "recurrent seq2seq train"),
        "speech": ("a speech recognizer", "recurrent speech train"),
        "music-chorales": ("a piano-roll model", "recurrent music train --format pianoroll"),
        "music-tunes": ("a tune model", "recurrent music train"),
        "anomaly": ("an anomaly detector", "recurrent anomaly train"),
        "strokes": ("a stroke model", "recurrent strokes train"),
    ]

    /// The metadata's "task" ("forecast", "language-model", ...): some tasks store it as a JSON
    /// string, others as plain text; nil when absent.
    public var task: String? {
        guard let stored = metadata["task"] else { return nil }
        return (try? JSONDecoder().decode(String.self, from: Data(stored.utf8))) ?? stored
    }

    /// Throws, naming `path`, unless the model was trained for `expected`; `kind` and
    /// `trainCommand` describe the expected model where the table's words are not enough.
    public func requireTask(_ expected: String, path: String, kind: String? = nil, trainCommand: String? = nil) throws {
        let found = task
        guard found != expected else { return }
        let known = Self.tasks[expected]
        let wanted = (kind: kind ?? known?.kind ?? "a \"\(expected)\" model", trainCommand: trainCommand ?? known?.trainCommand ?? "its train verb")
        let what: String
        if let found, let known = Self.tasks[found] {
            what = "it is \(known.kind) (made by \(known.trainCommand))"
        } else if let found {
            what = "its task is \"\(found)\", which this build does not know"
        } else {
            what = "it names no task (a bare network, from recurrent import or Layer.save)"
        }
        throw RecurrentError.invalidFile(path: path, reason: "not \(wanted.kind): \(what); make one with \(wanted.trainCommand)")
    }
}
