import Foundation
import Recurrent

/// The task a model file was trained for, with the object that runs it. A new task (speech,
/// say) is one case here, one line in `load`, and its entries in `TaskRoute.all`.
enum ServedTask {
    case tensorsOnly
    case forecaster(Forecaster)
    /// One model of many series (`recurrent forecast train` on a long or wide file).
    case globalForecaster(GlobalForecaster)
    case classifier(Classifier)
    case languageModel(LanguageModel)
    case translator(Translator)
    case recognizer(SpeechRecognizer)
    case chatbot(Chatbot)
    case anomalyDetector(AnomalyDetector)
    case tunes(TuneModel)
    case chorales(ChoraleModel)
    case strokes(StrokeModel)

    /// The name metadata and the page show.
    var name: String {
        switch self {
        case .tensorsOnly: return "tensors"
        case .forecaster, .globalForecaster: return "forecast"
        case .classifier: return "classify"
        case .languageModel: return "language-model"
        case .translator: return "seq2seq"
        case .recognizer: return "speech"
        case .chatbot: return "chat"
        case .anomalyDetector: return "anomaly"
        case .tunes: return "music-tunes"
        case .chorales: return "music-chorales"
        case .strokes: return "strokes"
        }
    }

    /// The layer the tensor interface (x -> y) runs.
    var layer: (any Layer)? {
        switch self {
        case .tensorsOnly: return nil
        case .forecaster(let forecaster): return forecaster.model.layer
        case .globalForecaster(let forecaster): return forecaster.model.layer
        case .classifier(let classifier): return classifier.model.layer
        case .languageModel(let languageModel): return languageModel.network
        case .translator(let translator): return translator.model.layer
        case .recognizer(let recognizer): return recognizer.model.layer
        case .chatbot(let chatbot): return chatbot.model.layer
        case .anomalyDetector(let detector): return detector.model.layer
        case .tunes(let tunes): return tunes.model.layer
        case .chorales(let chorales): return chorales.model.layer
        case .strokes(let strokes): return strokes.model.layer
        }
    }

    /// Reads the task a model file names in its metadata and loads the object for it.
    static func load(_ path: String, model: Model) throws -> ServedTask {
        let task = model.metadata["task"].map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        switch task {
        case "forecast": return .forecaster(try Forecaster(contentsOf: path))
        case "global-forecast": return .globalForecaster(try GlobalForecaster(contentsOf: path))
        case "classify": return .classifier(try Classifier(contentsOf: path))
        case "language-model": return .languageModel(try LanguageModel(contentsOf: path))
        case "seq2seq": return .translator(try Translator(contentsOf: path))
        case "speech": return .recognizer(try SpeechRecognizer(contentsOf: path))
        case "chat": return .chatbot(try Chatbot(contentsOf: path))
        case "anomaly": return .anomalyDetector(try AnomalyDetector(contentsOf: path))
        case "music-tunes": return .tunes(try TuneModel(contentsOf: path))
        case "music-chorales": return .chorales(try ChoraleModel(contentsOf: path))
        case "strokes": return .strokes(try StrokeModel(contentsOf: path))
        default: return .tensorsOnly
        }
    }
}

/// A loaded model: its name, its tensor interface and its task. The model's objects are used
/// only on the executor's thread; what other threads read (names, signatures) never changes.
final class ServedModel: @unchecked Sendable {
    let name: String
    let path: String
    let task: ServedTask
    let runner: ModelRunner
    /// x, h0, c0, lengths and the task's own inputs (text, history), with the outputs likewise.
    let inputs: [TensorSignatureDescription]
    let outputs: [TensorSignatureDescription]

    init(name: String, path: String) throws {
        let model = try Model(contentsOf: path)
        let task = try ServedTask.load(path, model: model)
        self.name = name
        self.path = path
        self.task = task
        runner = ModelRunner(task.layer ?? model.layer)
        let natural = NaturalTensors.signatures(for: task)
        inputs = runner.inputSignatures.map(TensorSignatureDescription.init) + natural.inputs
        outputs = runner.outputSignatures.map(TensorSignatureDescription.init) + natural.outputs
    }

    /// The model's description for people and the page: its task, the endpoints it answers,
    /// and what the task needs (labels, vocabulary level, window).
    var details: JSON {
        var fields: [String: JSON] = [
            "name": .string(name), "task": .string(task.name), "carries_state": .bool(runner.carriesState),
            "streams": .bool(runner.canStream),
            "endpoints": .array(TaskRoute.all.filter { $0.applies(task) }.map { .string($0.name) }),
        ]
        switch task {
        case .classifier(let classifier):
            fields["labels"] = .array(classifier.labels.map(JSON.string))
            fields["reads_text"] = .bool(classifier.input.isText)
        case .forecaster(let forecaster):
            fields["features"] = .array(forecaster.configuration.features.map(JSON.string))
            fields["window"] = .number(Double(forecaster.configuration.window ?? 0))
            fields["horizon"] = .number(Double(forecaster.configuration.horizon))
        case .globalForecaster(let forecaster):
            let c = forecaster.configuration
            if case .long(_, _, let target)? = c.layout { fields["features"] = .array([.string(target)]) } else { fields["features"] = .array([.string("y")]) }
            fields["window"] = .number(Double(c.resolvedWindow))
            fields["horizon"] = .number(Double(c.horizon))
            fields["season"] = .number(Double(c.season))
            fields["intervals"] = .array(c.intervals.map { .number(Double($0)) })
            fields["series"] = .number(Double(c.seriesIDs.count))
            fields["known_covariates"] = .array(c.knownCovariates.map(JSON.string))
            fields["past_covariates"] = .array(c.pastCovariates.map(JSON.string))
        case .languageModel(let languageModel):
            fields["level"] = .string(languageModel.tokenizer.level.rawValue)
        case .translator(let translator):
            fields["attention"] = .string(translator.configuration.attention.rawValue)
        case .recognizer(let recognizer):
            fields["sample_rate"] = .number(Double(recognizer.sampleRate))
            fields["alphabet"] = .array(recognizer.alphabet.map(JSON.string))
            fields["streams"] = .bool(recognizer.isStreamable)
        case .chatbot(let chatbot):
            let c = chatbot.configuration
            fields["context_turns"] = .number(Double(c.contextTurns))
            fields["max_turn_tokens"] = .number(Double(c.maxTurnTokens))
            fields["rerankings"] = .array(chatbot.availableRerankings.map { .string($0.rawValue) })
        case .anomalyDetector(let detector):
            let c = detector.configuration
            fields["column"] = .string(detector.column)
            fields["threshold"] = .number(detector.threshold)
            fields["smoothing"] = .number(Double(c.smoothing))
            fields["burn_in"] = .number(Double(c.burnIn))
            fields["merge_gap"] = .number(Double(c.mergeGap))
        case .tunes(let tunes):
            fields["meters"] = .array(tunes.meters.map(JSON.string))
            fields["keys"] = .array(tunes.keys.map(JSON.string))
        case .chorales:
            break
        case .strokes(let strokes):
            fields["characters"] = .array(strokes.characters.map(JSON.string))
        case .tensorsOnly:
            break
        }
        return .object(fields)
    }
}

/// A tensor of the interface as metadata lists it.
struct TensorSignatureDescription: Sendable {
    var name: String
    var datatype: String
    var shape: [Int]

    init(name: String, datatype: String, shape: [Int]) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
    }

    init(_ signature: TensorSignature) {
        self.init(name: signature.name, datatype: signature.datatype.rawValue, shape: signature.shape)
    }

    var json: JSON {
        .object(["name": .string(name), "datatype": .string(datatype), "shape": .array(shape.map { .number(Double($0)) })])
    }
}
