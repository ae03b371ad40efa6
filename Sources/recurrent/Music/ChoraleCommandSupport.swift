import ArgumentParser
import Foundation
import Recurrent

/// Piano-roll options of `music train --format pianoroll`.
struct PianoRollOptionsGroup: ParsableArguments {
    @Option(help: "pianoroll: the length of a step, a note value: 1/8 (eighth, the default) or 1/16 (sixteenth).")
    var step: String = "1/8"

    @Option(help: "pianoroll: c moves every chorale to C major or C minor before reading it; none keeps its key.")
    var transpose: String = "c"

    /// The step in quarter notes.
    func stepLength() throws -> Fraction {
        let parts = step.split(separator: "/").compactMap { Int($0) }
        guard parts.count == 2, parts[0] > 0, parts[1] > 0, [1, 2, 4, 8, 16, 32].contains(parts[1]) else {
            throw ValidationError("--step must be a note value such as 1/8 or 1/16, got \(step)")
        }
        return Fraction(parts[0] * 4, parts[1])
    }

    func validate() throws {
        _ = try stepLength()
        guard transpose == "c" || transpose == "none" else { throw ValidationError("--transpose must be c or none, got \(transpose)") }
    }
}

/// Chorales for the `music` verbs: four-part scores as piano rolls.
enum ChoraleCommandSupport {
    static func isPianoRollModel(_ path: String) throws -> Bool {
        try Model(contentsOf: path).metadata("task", as: String.self) == "music-chorales"
    }

    static func rolls(_ chorales: [Chorale], _ configuration: ChoraleModelConfiguration) -> [PianoRoll] {
        chorales.map { $0.pianoRoll(stepLength: configuration.stepLength, transposingToC: configuration.transposeToC) }
    }

    static func evaluate(model: String, paths: [String], json: Bool) throws {
        let choraleModel = try ChoraleModel(contentsOf: model)
        let (chorales, _) = try Chorale.read(paths: paths)
        let pianoRolls = Self.rolls(chorales, choraleModel.configuration)
        try DistributedLaunch.splittingWork("evaluation") { communicator in
            let evaluation = try choraleModel.evaluate(pianoRolls, communicator: communicator)
            print(String(format: "%d chorales: %.4f nats per step (negative log-likelihood) over %d steps", evaluation.chorales,
                         evaluation.negativeLogLikelihood, evaluation.steps))
            if json {
                print("{\"chorales\": \(evaluation.chorales), \"steps\": \(evaluation.steps), \"negative_log_likelihood\": \(evaluation.negativeLogLikelihood)}")
            }
        }
    }

    static func generate(model: String, count: Int, temperature: Double, seed: UInt64, steps: Int?, tempo: Double, svg: String?, midi: String?) throws {
        let choraleModel = try ChoraleModel(contentsOf: model)
        let composed = try choraleModel.compose(count: count, steps: steps, temperature: temperature, seed: seed, quarterNotesPerMinute: tempo)
        let rolls = composed.rolls, notes = composed.notes
        if let midi { try AtomicFile.write(composed.midi.data(), to: midi) }
        if let svg { try AtomicFile.write(Data(composed.picture.utf8), to: svg) }
        let chords = rolls.flatMap(\.steps).map { $0.filter { $0 }.count }
        note("\(rolls.count) chorale\(rolls.count == 1 ? "" : "s") of \(rolls.first?.steps.count ?? 0) steps, \(notes.count) notes; "
             + "keys sounding per step: " + (0...4).map { k in "\(k): \(chords.filter { $0 == k }.count)" }.joined(separator: ", "))
        if let svg { note("wrote \(svg)") }
        if let midi { note("wrote \(midi)") }
        if svg == nil && midi == nil { note("nothing written: give -o ROLL.svg and/or --midi OUT.mid") }
    }
}

extension MusicTrainCommand {
    func trainChorales() throws {
        var configuration = ChoraleModelConfiguration()
        training.apply(to: &configuration)
        configuration.stepLength = try pianoRoll.stepLength()
        configuration.transposeToC = pianoRoll.transpose == "c"
        let options = try training.trainingOptions(defaultEpochs: 100, defaultBatchSize: 16)

        let (chorales, skipped) = try Chorale.read(paths: paths, skippingUnreadable: skipUnreadable)
        for line in skipped { note("skipped: \(line)") }
        let fraction = validationFraction ?? 0.1
        let every = fraction > 0 ? max(2, Int((1 / fraction).rounded())) : Int.max
        let rolls = ChoraleCommandSupport.rolls(chorales, configuration)
        let trainingRolls = rolls.indices.filter { ($0 + 1) % every != 0 }.map { rolls[$0] }
        let validationRolls = rolls.indices.filter { ($0 + 1) % every == 0 }.map { rolls[$0] }
        note("\(chorales.count) chorales read\(skipped.isEmpty ? "" : ", \(skipped.count) skipped"): \(trainingRolls.count) for training, "
             + "\(validationRolls.count) held out; \(trainingRolls.reduce(0) { $0 + $1.steps.count }) training steps")
        if let exportData {
            let encode = { (rolls: [PianoRoll]) in rolls.map { $0.steps.map { step in step.indices.filter { step[$0] } } } }
            try AtomicFile.write(try JSONEncoder().encode(["training": encode(trainingRolls), "validation": encode(validationRolls)]), to: exportData)
        }
        let progress = ConsoleProgress(describeValidation: { String(format: "held-out %.4f nats per step", $0) })
        let (choraleModel, history, validation) = try ChoraleModel.train(training: trainingRolls, validation: validationRolls,
                                                                         configuration: configuration, options: options, progress: progress)
        try choraleModel.model.save(to: training.output)
        print("wrote \(training.output): \(choraleModel.model.layer.parameterCount) parameters; \(history.stepsAndSpeed)")
        if let validation {
            print(String(format: "held-out chorales: %.4f nats per step (negative log-likelihood) over %d steps of %d chorales",
                         validation.negativeLogLikelihood, validation.steps, validation.chorales))
        }
        if history.stopReason == .diverged { throw RecurrentError.diverged(history.message ?? "training diverged") }
    }
}
