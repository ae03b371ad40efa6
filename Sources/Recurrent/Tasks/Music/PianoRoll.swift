import Foundation

/// Music as a grid of time steps by the 88 keys of a piano (A0, MIDI 21, to C8, MIDI 108):
/// a key is on at a step when a note sounds there. Boulanger-Lewandowski et al. (2012) model
/// chorales this way. A held note is on for all its steps, so a note repeated without a gap
/// reads as one long note.
public struct PianoRoll: Equatable, Sendable {
    public static let lowestPitch = 21
    /// P: the keys of one step.
    public static let pitchCount = 88

    /// The length of a step in quarter notes (1/2: an eighth note, 1/4: a sixteenth).
    public var stepLength: Fraction
    /// [steps][88]: whether key p (MIDI 21 + p) sounds at a step.
    public var steps: [[Bool]]

    public init(stepLength: Fraction, steps: [[Bool]]) {
        self.stepLength = stepLength
        self.steps = steps
    }

    /// The notes of `parts` sampled every `stepLength` quarter notes and moved by `transposition`
    /// semitones: a key is on at a step when a note sounds at the step's start, so a voice
    /// sounds one key per step and notes shorter than a step between two starts are left out
    /// (passing sixteenths in eighth steps). Notes outside the 88 keys are left out.
    public init(parts: [[MusicXMLScore.Note]], stepLength: Fraction, transposition: Int = 0) {
        let end = parts.joined().map { $0.start + $0.length }.max() ?? .zero
        let stepCount = Self.stepsStartingBefore(end, stepLength)
        var steps = [[Bool]](repeating: [Bool](repeating: false, count: Self.pitchCount), count: stepCount)
        for note in parts.joined() {
            let key = note.pitch + transposition - Self.lowestPitch
            guard (0..<Self.pitchCount).contains(key) else { continue }
            let first = Self.stepsStartingBefore(note.start, stepLength)
            let last = Self.stepsStartingBefore(note.start + note.length, stepLength)
            for step in first..<min(last, stepCount) { steps[step][key] = true }
        }
        self.init(stepLength: stepLength, steps: steps)
    }

    /// How many steps start before `time`: ceil(time / stepLength).
    static func stepsStartingBefore(_ time: Fraction, _ stepLength: Fraction) -> Int {
        let ratio = time / stepLength
        return (ratio.numerator + ratio.denominator - 1) / ratio.denominator
    }

    /// [steps * 88] as 0 and 1.
    public var values: [Float] { steps.flatMap { $0.map { $0 ? 1 : 0 } } }

    /// The notes it plays: each run of steps on one key is a note (start and length in whole
    /// notes, for `MIDIFile`).
    public func notes() -> [PerformedNote] {
        var notes: [PerformedNote] = []
        let stepInWholes = stepLength / Fraction(4)
        for key in 0..<Self.pitchCount {
            var start: Int? = nil
            for step in 0...steps.count {
                let on = step < steps.count && steps[step][key]
                if on, start == nil { start = step }
                if !on, let first = start {
                    notes.append(PerformedNote(pitch: key + Self.lowestPitch, start: Fraction(first) * stepInWholes,
                                               length: Fraction(step - first) * stepInWholes))
                    start = nil
                }
            }
        }
        return notes.sorted { ($0.start, $0.pitch) < ($1.start, $1.pitch) }
    }
}

/// A four-part chorale read from MusicXML: its soprano, alto, tenor and bass (the parts of
/// those names, or the only four parts), and its key.
public struct Chorale: Sendable {
    public var path: String
    public var voices: [[MusicXMLScore.Note]]
    public var keyFifths: Int
    public var isMinor: Bool

    /// The four voices of a score, or an error naming the file when it has no four voices.
    public init(score: MusicXMLScore, path: String) throws {
        let named = ["soprano", "alto", "tenor", "bass"].compactMap { voice in
            score.parts.first { $0.name.lowercased().hasPrefix(voice) }
        }
        if named.count == 4 {
            voices = named.map(\.notes)
        } else if score.parts.count == 4 {
            voices = score.parts.map(\.notes)
        } else {
            throw RecurrentError.invalidFile(path: path, reason: "not a four-part score: its parts are \(score.parts.map(\.name).joined(separator: ", "))")
        }
        self.path = path
        keyFifths = score.keyFifths ?? 0
        isMinor = score.keyMode?.lowercased() == "minor"
    }

    /// Reads a MusicXML file (`.mxl`, `.xml`, `.musicxml`).
    public init(contentsOf path: String) throws {
        try self.init(score: try MusicXMLScore.read(path: path), path: path)
    }

    /// Semitones that bring the tonic to C (C major or C minor), between -6 and +5.
    public var transpositionToC: Int {
        let tonic = ((keyFifths * 7 + (isMinor ? 9 : 0)) % 12 + 12) % 12
        return tonic <= 6 ? -tonic : 12 - tonic
    }

    /// The piano roll at `stepLength` quarter notes per step, in C when `transposingToC`.
    public func pianoRoll(stepLength: Fraction, transposingToC: Bool) -> PianoRoll {
        PianoRoll(parts: voices, stepLength: stepLength, transposition: transposingToC ? transpositionToC : 0)
    }

    /// Every `.mxl`, `.musicxml` and `.xml` file of `paths` (files, or folders read in name order).
    /// With `skippingUnreadable`, files that do not read as four-part chorales are left out and
    /// their errors returned; otherwise the first error is thrown.
    public static func read(paths: [String], skippingUnreadable: Bool = false) throws -> (chorales: [Chorale], skipped: [String]) {
        var chorales: [Chorale] = [], skipped: [String] = []
        for path in paths {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                throw RecurrentError.io(path: path, reason: "no such file or folder")
            }
            var files = [path]
            if isFolder.boolValue {
                files = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
                    .filter { [".mxl", ".musicxml", ".xml"].contains(where: $0.lowercased().hasSuffix) }
                    .sorted().map { (path as NSString).appendingPathComponent($0) }
                guard !files.isEmpty else { throw RecurrentError.invalidFile(path: path, reason: "the folder holds no MusicXML file (.mxl, .musicxml, .xml)") }
            }
            for file in files {
                do {
                    chorales.append(try Chorale(contentsOf: file))
                } catch let error as RecurrentError where skippingUnreadable {
                    skipped.append(error.description)
                }
            }
        }
        guard !chorales.isEmpty else { throw RecurrentError.invalidArgument("no four-part chorale could be read from \(paths.joined(separator: ", "))") }
        return (chorales, skipped)
    }
}
