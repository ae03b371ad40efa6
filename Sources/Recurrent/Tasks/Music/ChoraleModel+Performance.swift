import Foundation

/// Generated chorales as a musician receives them: the piano rolls, one MIDI file of them all
/// (half a bar of silence between them) and a picture of the rolls.
public struct GeneratedChorales {
    public var rolls: [PianoRoll]
    public var notes: [PerformedNote]
    public var midi: MIDIFile
    /// The piano rolls drawn as SVG, one panel each.
    public var picture: String
}

extension ChoraleModel {
    /// Writes `count` chorales of `steps` steps (8 bars of 4/4 by default) and their MIDI file
    /// and picture, as `recurrent music generate --format pianoroll` writes them.
    public func compose(count: Int, steps: Int? = nil, temperature: Double = 1, seed: UInt64 = 0,
                        quarterNotesPerMinute: Double = 120) throws -> GeneratedChorales {
        let stepLength = configuration.stepLength
        let rolls = try generate(count: count, steps: steps ?? Int((Fraction(32) / stepLength).doubleValue.rounded()),
                                 temperature: Float(temperature), seed: seed)
        var notes: [PerformedNote] = []
        var offset = Fraction.zero
        for roll in rolls {
            notes += roll.notes().map { PerformedNote(pitch: $0.pitch, start: $0.start + offset, length: $0.length) }
            offset = offset + Fraction(roll.steps.count) * stepLength / Fraction(4) + Fraction(1, 2)
        }
        let midi = MIDIFile(parts: [(name: "Chorale", program: 19, notes: notes)], quarterNotesPerMinute: quarterNotesPerMinute, meter: (4, 4))
        let stepsPerBar = max(1, Int((Fraction(4) / stepLength).doubleValue.rounded()))
        let picture = PianoRollPicture(rolls: rolls, titles: rolls.indices.map { "Generated chorale \($0 + 1) (seed \(seed), temperature \(temperature))" },
                                       stepsPerBar: stepsPerBar).render()
        return GeneratedChorales(rolls: rolls, notes: notes, midi: midi, picture: picture)
    }
}
