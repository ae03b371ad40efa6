/// A note as played: MIDI pitch, start and length in whole notes from the start of the tune.
public struct PerformedNote: Equatable, Sendable {
    public var pitch: Int
    public var start: Fraction
    public var length: Fraction

    public init(pitch: Int, start: Fraction, length: Fraction) {
        self.pitch = pitch
        self.start = start
        self.length = length
    }
}

/// One bar as written: how long its music lasts and how long the meter in force asks.
public struct ABCBarLength: Equatable, Sendable {
    public var length: Fraction
    /// nil under free meter.
    public var expected: Fraction?
    public var position: SourcePosition
    /// The first or last bar of a section (the tune's start and end, a repeat sign, a double
    /// bar or an ending next to it): where a pickup and the bar that balances it may be short.
    public var isSectionEdge: Bool
    public var isFull: Bool { expected == length }
}

extension ABCTune {
    /// An element with its sounding length: tuplets and broken rhythms applied.
    enum Timed {
        case notes([ABCNote], length: Fraction)
        case rest(Fraction)
        case bar(ABCBar)
        case tie
        case key(ABCKey)
        case meter(ABCMeter)
    }

    /// The elements in written order with the lengths they sound for; indices of `positions`.
    func timedElements() -> [(Timed, Int)] {
        var timed: [(Timed, Int)] = []
        var tuplet: (factor: Fraction, remaining: Int)? = nil
        var pendingShorten: Fraction? = nil
        var lastSounding: Int? = nil  // index into `timed` of the last note, chord or rest
        func scaled(_ length: Fraction) -> Fraction {
            var length = length
            if let (factor, remaining) = tuplet {
                length = length * factor
                tuplet = remaining > 1 ? (factor, remaining - 1) : nil
            }
            if let shorten = pendingShorten { length = length * shorten; pendingShorten = nil }
            return length
        }
        for (index, element) in elements.enumerated() {
            switch element {
            case .note(let note):
                lastSounding = timed.count
                timed.append((.notes([note], length: scaled(note.length)), index))
            case .chord(let notes):
                lastSounding = timed.count
                timed.append((.notes(notes, length: scaled(notes[0].length)), index))
            case .rest(let length):
                lastSounding = timed.count
                timed.append((.rest(scaled(length)), index))
            case .tuplet(let p, let q, let r):
                tuplet = (Fraction(q, p), r)
            case .broken(let lengthensFirst, let count):
                let small = Fraction(1, 1 << min(count, 6)), large = Fraction(2) - small
                if let last = lastSounding {
                    switch timed[last].0 {
                    case .notes(let notes, let length): timed[last].0 = .notes(notes, length: length * (lengthensFirst ? large : small))
                    case .rest(let length): timed[last].0 = .rest(length * (lengthensFirst ? large : small))
                    default: break
                    }
                }
                pendingShorten = lengthensFirst ? small : large
            case .bar(let bar): timed.append((.bar(bar), index))
            case .tie: timed.append((.tie, index))
            case .key(let key): timed.append((.key(key), index))
            case .meter(let meter): timed.append((.meter(meter), index))
            case .chordSymbol, .unitLength: break
            }
        }
        return timed
    }

    /// Each bar's length against the meter, in written order (repeats not played twice). A
    /// last bar with no music after the final bar line is not a bar.
    public func barLengths() -> [ABCBarLength] {
        var bars: [ABCBarLength] = []
        var meter = self.meter, length = Fraction.zero, hasMusic = false, opensSection = true
        var start = positions.first ?? SourcePosition(line: line, column: 1)
        for (element, index) in timedElements() {
            switch element {
            case .notes(_, let sounding): length = length + sounding; hasMusic = true
            case .rest(let sounding): length = length + sounding; hasMusic = true
            case .bar(let bar):
                let boundary = bar.kind != .single || bar.ending != nil
                if hasMusic {
                    bars.append(ABCBarLength(length: length, expected: meter.barLength, position: start, isSectionEdge: opensSection || boundary))
                    opensSection = false
                }
                opensSection = opensSection || boundary
                length = .zero; hasMusic = false
                start = positions[min(index + 1, positions.count - 1)]
            case .meter(let newMeter): meter = newMeter
            case .tie, .key: break
            }
        }
        if hasMusic { bars.append(ABCBarLength(length: length, expected: meter.barLength, position: start, isSectionEdge: true)) }
        return bars
    }

    /// The notes as played: repeats taken (`|: ... :|` twice, first and second endings), the
    /// key signature and the accidentals written earlier in the bar applied, tied notes joined.
    public func performance() -> [PerformedNote] {
        let timed = timedElements()
        var notes: [PerformedNote] = []
        var time = Fraction.zero
        var key = self.key.accidentals
        var barAccidentals: [Int: Int] = [:]  // letter + 7 octave -> semitones, until the bar ends
        var tiedFrom: [Int: Int] = [:]        // pitch -> index in `notes` of a note tied onwards
        var tieOpen = false
        var pass = 1, repeatStart = 0, skipping = false
        var i = 0, budget = timed.count * 4 + 16
        while i < timed.count && budget > 0 {
            budget -= 1
            switch timed[i].0 {
            case .bar(let bar):
                barAccidentals = [:]
                let endsRepeat = bar.kind == .repeatEnd || bar.kind == .repeatBoth
                if endsRepeat && !skipping && pass == 1 {
                    pass = 2
                    i = repeatStart
                    continue
                }
                if let ending = bar.ending {
                    skipping = ending != pass
                } else if bar.kind != .single {
                    skipping = false
                }
                if endsRepeat && pass == 2 && !skipping { pass = 1; repeatStart = i + 1 }
                if bar.kind == .repeatStart || bar.kind == .repeatBoth || bar.kind == .double || bar.kind == .final {
                    if !endsRepeat || bar.kind == .repeatBoth { repeatStart = i + 1; pass = 1 }
                }
            case .key(let newKey):
                key = newKey.accidentals
            case .tie where !skipping:
                tieOpen = true
            case .notes(let chord, let length) where !skipping:
                var continued: [Int: Int] = [:]
                for note in chord {
                    let slot = note.pitch.letter + 7 * note.pitch.octave
                    if let accidental = note.pitch.accidental { barAccidentals[slot] = accidental }
                    let pitch = note.pitch.midiNumber(accidentalInForce: barAccidentals[slot] ?? key[note.pitch.letter])
                    let noteLength = chord.count == 1 ? length : note.length * (length / chord[0].length)
                    if tieOpen, let earlier = tiedFrom[pitch], notes[earlier].start + notes[earlier].length == time {
                        notes[earlier].length = notes[earlier].length + noteLength
                        continued[pitch] = earlier
                    } else if (0...127).contains(pitch) {
                        continued[pitch] = notes.count
                        notes.append(PerformedNote(pitch: pitch, start: time, length: noteLength))
                    }
                }
                tiedFrom = continued
                tieOpen = false
                time = time + length
            case .rest(let length) where !skipping:
                tiedFrom = [:]
                tieOpen = false
                time = time + length
            default:
                break
            }
            i += 1
        }
        return notes
    }
}
