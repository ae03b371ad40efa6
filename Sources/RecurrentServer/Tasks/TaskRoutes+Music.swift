import Foundation
import Recurrent

// MARK: - Tunes, chorales and strokes

extension TaskRoute {
    /// The most pieces or drawings one request asks for.
    static let maximumPieces = 64
    /// Far beyond any useful temperature (1 samples the model as it learnt); above it the
    /// mixture's spreads overflow.
    static let maximumTemperature = 10.0

    /// How many pieces, at what temperature and from what seed (the command line's defaults
    /// given), for compose and draw.
    static func sampling(_ fields: inout Fields, count: Int, temperature: Double) throws -> (count: Int, temperature: Double, seed: UInt64) {
        let count = try fields.integer("count", in: 1...maximumPieces) ?? count
        let temperature = try fields.number("temperature") ?? temperature
        guard temperature > 0, temperature <= maximumTemperature else {
            throw fields.fail("temperature", "is \(temperature), expected above 0 and at most \(Int(maximumTemperature))")
        }
        return (count, temperature, UInt64(try fields.integer("seed", in: 0...Int(Int64.max)) ?? 0))
    }

    /// `POST /v2/models/{m}/compose`: `recurrent music generate` over HTTP. A tune model writes
    /// ABC (each tune's text, whether it reads, and one MIDI file of those that do); a chorale
    /// model writes piano rolls (the MIDI file and the rolls' picture).
    static let compose = TaskRoute(
        name: "compose",
        summary: "New tunes as ABC and MIDI (a tune model), or chorales as MIDI and a piano-roll picture (a chorale model), as `recurrent music generate` writes them.",
        streams: false, applies: { switch $0 { case .tunes, .chorales: return true; default: return false } },
        requestSchema: Schemas.composeRequest, responseSchema: Schemas.composeResponse
    ) { model, body, executor in
        var fields = try Fields(body, context: "request body")
        let (count, temperature, seed) = try sampling(&fields, count: 1, temperature: 1)
        let length = try fields.integer("length", in: 1...10_000)
        let tempo = try fields.number("tempo") ?? 120
        guard (1...1000).contains(tempo) else { throw fields.fail("tempo", "is \(tempo), expected 1 to 1000 quarter notes per minute") }
        switch model.task {
        case .tunes(let tunes):
            let meter = try fields.string("meter"), key = try fields.string("key")
            try fields.finish()
            let box = UncheckedBox(tunes)
            let written = try await executor.run(model) {
                try box.value.generate(count: count, meter: meter, key: key, sampling: SamplingOptions(temperature: temperature),
                                       seed: seed, maximumTokens: length ?? 1000)
            }
            let midi = TuneModel.midiFile(written.compactMap(\.tune), quarterNotesPerMinute: tempo).data()
            return .json(.object([
                "model_name": .string(model.name), "abc": .string(written.map(\.abc).joined(separator: "\n")),
                "tunes": .array(written.map { tune in
                    var entry: [String: JSON] = ["abc": .string(tune.abc), "reads": .bool(tune.tune != nil), "truncated": .bool(tune.truncated)]
                    if let error = tune.readError { entry["read_error"] = .string(error) }
                    return .object(entry)
                }),
                "midi": .string(midi.base64EncodedString()),
            ]))
        case .chorales(let chorales):
            try fields.finish()
            let box = UncheckedBox(chorales)
            let composed = try await executor.run(model) {
                let piece = try box.value.compose(count: count, steps: length, temperature: temperature, seed: seed, quarterNotesPerMinute: tempo)
                return (midi: piece.midi.data(), picture: piece.picture, steps: piece.rolls.first?.steps.count ?? 0, notes: piece.notes.count)
            }
            return .json(.object([
                "model_name": .string(model.name), "midi": .string(composed.midi.base64EncodedString()), "svg": .string(composed.picture),
                "steps": .number(Double(composed.steps)), "notes": .number(Double(composed.notes)),
            ]))
        default:
            throw ServerError.notFound("no music model")
        }
    }

    /// `POST /v2/models/{m}/draw`: `recurrent strokes generate` over HTTP: the drawings' strokes
    /// as points and the grid of them as SVG.
    static let draw = TaskRoute(
        name: "draw",
        summary: "New drawings of characters (the ones asked for in \"condition\", or drawn at random), as strokes of points and as an SVG grid, as `recurrent strokes generate` draws them.",
        streams: false, applies: { if case .strokes = $0 { return true } else { return false } },
        requestSchema: Schemas.drawRequest, responseSchema: Schemas.drawResponse
    ) { model, body, executor in
        guard case .strokes(let strokes) = model.task else { throw ServerError.notFound("no stroke model") }
        var fields = try Fields(body, context: "request body")
        let (count, temperature, seed) = try sampling(&fields, count: 12, temperature: 0.4)
        let columns = try fields.integer("columns", in: 1...64) ?? 6
        let condition = try fields.string("condition")
        let fromData = try fields.bool("first_offset_from_data") ?? false
        try fields.finish()
        let known = Dictionary(strokes.characters.enumerated().map { ($1, $0) }) { first, _ in first }
        let requested: [Int]
        if let condition {
            let wanted = condition.map(String.init)
            guard !wanted.isEmpty else { throw fields.fail("condition", "is empty") }
            if let unknown = wanted.first(where: { known[$0] == nil }) {
                throw fields.fail("condition", "holds \"\(unknown)\", which the model never learnt to draw (it knows \(strokes.characters.count) characters)")
            }
            requested = (0..<count).map { known[wanted[$0 % wanted.count]] ?? 0 }
        } else {
            // The same draw of characters as the command line's.
            var rng = SplitMix64(seed: seed &+ 0x5eed)
            requested = (0..<count).map { _ in Int(rng.next() % UInt64(strokes.characters.count)) }
        }
        let box = UncheckedBox(strokes)
        let drawings = try await executor.run(model) { 
            try box.value.generate(characters: requested, temperature: temperature, seed: seed, firstOffsetFromData: fromData)
        }
        let labels = requested.map { strokes.characters[$0] }
        guard drawings.allSatisfy({ $0.allSatisfy { $0.allSatisfy { $0.x.isFinite && $0.y.isFinite } } }) else {
            throw ServerError.badRequest("the drawings are not finite at temperature \(temperature); ask for a lower one")
        }
        return .json(.object([
            "model_name": .string(model.name),
            "svg": .string(StrokeGridPicture(drawings: drawings, labels: labels, columns: columns).render()),
            "drawings": .array(zip(labels, drawings).map { label, drawing in
                .object(["character": .string(label), "strokes": .array(drawing.map { stroke in
                    .array(stroke.map { .array([.number($0.x), .number($0.y)]) })
                })])
            }),
        ]))
    }
}
