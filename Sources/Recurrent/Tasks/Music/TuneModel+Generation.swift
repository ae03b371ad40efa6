import Foundation

/// A tune written by a model: its tokens, its ABC text, and, when that text reads as ABC, the
/// tune (for MIDI and for checking its bars).
public struct GeneratedTune: Sendable {
    public var tokens: [String]
    public var abc: String
    /// nil when the text does not read: `readError` says why.
    public var tune: ABCTune?
    public var readError: String?
    /// The model stopped it at the length limit rather than ending it.
    public var truncated: Bool
}

extension TuneModel {
    /// The meters the model's tunes were written in (what `generate(meter:)` may ask for).
    public var meters: [String] { vocabulary.tokens.filter { $0.hasPrefix("M:") }.map { String($0.dropFirst(2)) } }
    /// The keys likewise (`generate(key:)`).
    public var keys: [String] { vocabulary.tokens.filter { $0.hasPrefix("K:") }.map { String($0.dropFirst(2)) } }

    /// Writes `count` tunes at once (a batch), each started with `<s>`, the meter and the key
    /// (sampled where not given: `meter` "6/8", `key` "D", "Dmaj", "Ador", "Em"), then sampled
    /// token by token until `</s>` or `maximumTokens`. The header tokens are drawn only where
    /// a header belongs, and never again in the music; a length only right after a note, a rest
    /// or a chord, and inside a chord's brackets only notes and lengths, the chord closed before
    /// anything else (anywhere else ABC cannot read them); `<unk>` is never drawn.
    public func generate(count: Int, meter: String? = nil, key: String? = nil, sampling: SamplingOptions = SamplingOptions(),
                         seed: UInt64 = 0, maximumTokens: Int = 1000, firstNumber: Int = 1) throws -> [GeneratedTune] {
        try sampling.validate()
        guard count >= 1 else { throw RecurrentError.invalidArgument("the number of tunes must be at least 1, got \(count)") }
        let meterToken = try meter.map { try headerToken("M:" + normalizedMeter($0), option: "--meter", prefix: "M:") }
        let keyToken = try key.map { value -> Int in
            guard let parsed = ABCKeyParser.parse(value) else {
                throw RecurrentError.invalidArgument("--key \(value) is not a key (examples: D, Dmaj, Ador, Em, Bbmix)")
            }
            return try headerToken("K:" + parsed.name, option: "--key", prefix: "K:")
        }
        let tokens = vocabulary.tokens
        let meterIDs = Set(tokens.indices.filter { tokens[$0].hasPrefix("M:") })
        let keyIDs = Set(tokens.indices.filter { tokens[$0].hasPrefix("K:") })
        let never: Set<Int> = [vocabulary.unknownID, vocabulary.id(ABCTokenizer.tuneStart)]
        let all = Set(tokens.indices)
        let lengthIDs = Set(tokens.indices.filter { Self.isLength(tokens[$0]) })
        let lengthTakers = Set(tokens.indices.filter { Self.takesLength(tokens[$0]) })
        let music = all.subtracting(meterIDs).subtracting(keyIDs)
        let pitchIDs = Set(tokens.indices.filter { Self.takesLength(tokens[$0]) && tokens[$0] != "z" && tokens[$0] != "]" })
        let openID = vocabulary.contains("[") ? vocabulary.id("[") : -1, closeID = vocabulary.contains("]") ? vocabulary.id("]") : -1
        let inChordAllowed = pitchIDs.union(lengthIDs).union([closeID])
        var inChord = [Bool](repeating: false, count: count)

        var rng = SplitMix64(seed: seed)
        var sequences = [[Int]](repeating: [vocabulary.id(ABCTokenizer.tuneStart)], count: count)
        var finished = [Bool](repeating: false, count: count)
        var state: RecurrentLayer.State? = nil
        let endID = vocabulary.id(ABCTokenizer.tuneEnd)
        for position in 1...max(3, maximumTokens) where finished.contains(false) {
            let logits = GradientMode.withoutRecording { () -> [Float] in
                let last = Tensor(shape: [count, 1], scalars: sequences.map { Float($0.last ?? 0) })
                let result = network.run(Variable(last), state: state)
                state = result.state
                return result.logits.value.scalars
            }
            let width = tokens.count
            for row in 0..<count where !finished[row] {
                let next: Int
                switch position {
                case 1 where meterToken != nil: next = meterToken ?? 0
                case 2 where keyToken != nil: next = keyToken ?? 0
                default:
                    let afterNote = lengthTakers.contains(sequences[row].last ?? 0)
                    var allowed = position == 1 ? meterIDs : (position == 2 ? keyIDs : (afterNote ? music : music.subtracting(lengthIDs)))
                    if position > 2 { allowed = inChord[row] ? allowed.intersection(inChordAllowed) : allowed.subtracting([closeID]) }
                    next = sampling.sample(logits: Array(logits[(row * width)..<((row + 1) * width)]),
                                           excluding: never.union(all.subtracting(allowed)), using: &rng)
                }
                sequences[row].append(next)
                if next == openID { inChord[row] = true } else if next == closeID { inChord[row] = false }
                if next == endID { finished[row] = true }
            }
        }
        return sequences.enumerated().map { row, ids in
            let tokens = ids.map { vocabulary.token($0) }
            let abc = configuration.tokenizer.text(tokens: tokens, number: firstNumber + row, title: "Generated tune \(firstNumber + row)")
            var tune: ABCTune? = nil, readError: String? = nil
            do {
                tune = try ABCReader.parse(abc, path: "generated tune \(firstNumber + row)").tunes.first
            } catch {
                readError = "\(error)"
            }
            return GeneratedTune(tokens: tokens, abc: abc, tune: tune, readError: readError, truncated: !finished[row])
        }
    }

    /// "2", "/2", "3/2": a length token.
    static func isLength(_ token: String) -> Bool {
        !token.isEmpty && token.allSatisfy { $0.isASCII && ($0.isNumber || $0 == "/") }
    }

    /// A pitch ("^F", "c'"), a rest or the end of a chord: what a length may follow.
    static func takesLength(_ token: String) -> Bool {
        token == "z" || token == "]" || (token.last.map { "CDEFGABcdefgab',".contains($0) } ?? false) && !token.hasPrefix("\"")
    }

    /// "6/8" -> "6/8", "C" -> "4/4", "C|" -> "2/2".
    func normalizedMeter(_ value: String) -> String {
        switch value {
        case "C": return "4/4"
        case "C|": return "2/2"
        default: return value.replacingOccurrences(of: " ", with: "")
        }
    }

    /// The id of a header token the model knows, or an error listing those it does.
    func headerToken(_ token: String, option: String, prefix: String) throws -> Int {
        guard vocabulary.contains(token) else {
            let known = vocabulary.tokens.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(2)) }.sorted()
            throw RecurrentError.invalidArgument("\(option) \(token.dropFirst(2)): the model never saw it; it knows \(known.joined(separator: ", "))")
        }
        return vocabulary.id(token)
    }

    /// The tunes one after another in one type-1 MIDI file (two beats of silence between them),
    /// each with its meter and key, at `quarterNotesPerMinute`. Tunes that did not read are left out.
    public static func midiFile(_ tunes: [ABCTune], quarterNotesPerMinute: Double = 120) -> MIDIFile {
        var conductor = MIDIFile.Track(events: [(0, .tempo(microsecondsPerQuarter: Int(60_000_000 / max(quarterNotesPerMinute, 1))))])
        var melody = MIDIFile.Track(events: [(0, .trackName("Melody")), (0, .programChange(channel: 0, program: 73))])
        let ticksPerWhole = Fraction(4 * 480)
        var offset = Fraction.zero
        for tune in tunes {
            let start = MIDIFile.ticks(offset * ticksPerWhole)
            if let numerator = tune.meter.numerator, let denominator = tune.meter.denominator, denominator & (denominator - 1) == 0 {
                conductor.events.append((start, .timeSignature(numerator: numerator, denominator: denominator)))
            }
            conductor.events.append((start, .keySignature(fifths: tune.key.fifths, minor: tune.key.mode == "min")))
            var end = offset
            for note in tune.performance() {
                let noteStart = offset + note.start, noteEnd = noteStart + note.length
                melody.events.append((MIDIFile.ticks(noteStart * ticksPerWhole), .noteOn(channel: 0, key: note.pitch, velocity: 80)))
                melody.events.append((MIDIFile.ticks(noteEnd * ticksPerWhole), .noteOff(channel: 0, key: note.pitch)))
                end = max(end, noteEnd)
            }
            offset = end + Fraction(1, 2)
        }
        return MIDIFile(ticksPerQuarter: 480, tracks: [conductor, melody])
    }
}

extension ABCKey {
    /// The key signature as sharps (positive) or flats, for MIDI.
    public var fifths: Int { accidentals.reduce(0, +) }
}
