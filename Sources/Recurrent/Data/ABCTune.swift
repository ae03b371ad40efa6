/// An exact fraction, for musical durations (a dotted eighth is 3/16 of a whole note): sums
/// of durations must compare exactly with the meter, which floating point would not.
public struct Fraction: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public private(set) var numerator: Int
    public private(set) var denominator: Int

    /// n/d in lowest terms with a positive denominator; d = 0 gives 0 (never reached from
    /// parsed text, which refuses a zero denominator).
    public init(_ numerator: Int, _ denominator: Int = 1) {
        guard denominator != 0 else { self.numerator = 0; self.denominator = 1; return }
        let divisor = Self.gcd(abs(numerator), abs(denominator))
        let sign = denominator < 0 ? -1 : 1
        self.numerator = sign * numerator / max(divisor, 1)
        self.denominator = sign * denominator / max(divisor, 1)
    }

    public static let zero = Fraction(0)
    public static let one = Fraction(1)

    static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

    public static func + (a: Fraction, b: Fraction) -> Fraction {
        Fraction(a.numerator * b.denominator + b.numerator * a.denominator, a.denominator * b.denominator)
    }
    public static func - (a: Fraction, b: Fraction) -> Fraction {
        Fraction(a.numerator * b.denominator - b.numerator * a.denominator, a.denominator * b.denominator)
    }
    public static func * (a: Fraction, b: Fraction) -> Fraction {
        Fraction(a.numerator * b.numerator, a.denominator * b.denominator)
    }
    public static func / (a: Fraction, b: Fraction) -> Fraction {
        Fraction(a.numerator * b.denominator, a.denominator * b.numerator)
    }
    public static func < (a: Fraction, b: Fraction) -> Bool {
        a.numerator * b.denominator < b.numerator * a.denominator
    }

    public var doubleValue: Double { Double(numerator) / Double(denominator) }

    /// "3/2", "2", "1/4".
    public var description: String { denominator == 1 ? "\(numerator)" : "\(numerator)/\(denominator)" }
}

/// A position in a source file, for error messages.
public struct SourcePosition: Equatable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var description: String { "line \(line), column \(column)" }
}

/// The time signature of an ABC tune (`M:`): a fraction of a whole note per bar, or free
/// (`M:none`, no bars to fill).
public struct ABCMeter: Equatable, Sendable {
    /// Beats and beat unit as written ("6/8": 6 and 8); nil for free meter.
    public var numerator: Int?
    public var denominator: Int?

    public static let free = ABCMeter(numerator: nil, denominator: nil)

    /// What one bar holds, as a fraction of a whole note; nil for free meter.
    public var barLength: Fraction? {
        guard let numerator, let denominator else { return nil }
        return Fraction(numerator, denominator)
    }

    /// Compound meters (6/8, 9/8, 12/8) group their beats by three.
    public var isCompound: Bool {
        guard let numerator, let denominator else { return false }
        return denominator >= 8 && numerator % 3 == 0 && numerator > 3
    }

    /// "6/8", "none".
    public var text: String {
        guard let numerator, let denominator else { return "none" }
        return "\(numerator)/\(denominator)"
    }
}

/// A key (`K:`): its tonic and mode, and the accidentals it puts on each note letter.
public struct ABCKey: Equatable, Sendable {
    /// "D", "F#", "Bb"; "" for `K:none`.
    public var tonic: String
    /// "maj", "min", "dor", "mix", "phr", "lyd", "loc", "exp", "none", "HP", "Hp".
    public var mode: String
    /// Semitones added to each letter C, D, E, F, G, A, B (index 0...6) by the key signature.
    public var accidentals: [Int]

    /// "Dmaj", "Gmin", "Ador": how the tokenizer and the header write it.
    public var name: String { mode == "none" ? "none" : (mode == "HP" || mode == "Hp" ? mode : tonic + mode) }
}

/// The pitch of a written note: the letter (C...B as 0...6), the octave (4 for C...B, 5 for
/// c...b, one more per ', one less per ,) and an explicit accidental (semitones; nil when none
/// is written, so that the key and the bar decide).
public struct ABCPitch: Hashable, Sendable {
    public var letter: Int
    public var octave: Int
    public var accidental: Int?

    /// The ABC spelling: "^F", "=c", "_B,", "c''".
    public var text: String {
        var result = ""
        switch accidental {
        case .some(let a) where a > 0: result = String(repeating: "^", count: a)
        case .some(let a) where a < 0: result = String(repeating: "_", count: -a)
        case .some: result = "="
        case .none: break
        }
        let upper = Array("CDEFGAB")[letter]
        if octave >= 5 {
            result += String(upper).lowercased() + String(repeating: "'", count: octave - 5)
        } else {
            result += String(upper) + String(repeating: ",", count: 4 - octave)
        }
        return result
    }

    static let semitones = [0, 2, 4, 5, 7, 9, 11]

    /// The MIDI note number (middle C, "C", is 60) given the accidental in force for the letter.
    public func midiNumber(accidentalInForce: Int) -> Int {
        12 * (octave + 1) + Self.semitones[letter] + (accidental ?? accidentalInForce)
    }
}

/// A note of a tune as written: its pitch and its length as a fraction of a whole note (the
/// written multiplier times the unit length `L:` in force).
public struct ABCNote: Equatable, Sendable {
    public var pitch: ABCPitch
    public var length: Fraction
}

/// The kinds of bar line: `|`, `||`, `|]` (end), `|:` (repeat from here), `:|` (repeat back),
/// `::` (both), each possibly followed by an ending number (`|1`, `:|2`).
public struct ABCBar: Equatable, Sendable {
    public enum Kind: String, Sendable {
        case single = "|", double = "||", final = "|]", repeatStart = "|:", repeatEnd = ":|", repeatBoth = "::"
    }
    public var kind: Kind
    /// The ending that starts after this bar line (`|1`: 1), if any.
    public var ending: Int?

    public var text: String { kind.rawValue + (ending.map(String.init) ?? "") }
}

/// One element of a tune's music, in order.
public enum ABCElement: Equatable, Sendable {
    case note(ABCNote)
    /// Notes sounding together (`[CEG]2`); the chord lasts as long as its first note.
    case chord([ABCNote])
    case rest(Fraction)
    case bar(ABCBar)
    /// `(p:q:r`: the next r notes take the time of q.
    case tuplet(p: Int, q: Int, r: Int)
    /// `-` after a note: it continues into the next note of the same pitch.
    case tie
    /// `>` (count 1), `>>` (2), ...: the previous note lengthened, the next shortened (`<`: the
    /// reverse). The lengths stored in the notes are as written, before this applies.
    case broken(lengthensFirst: Bool, count: Int)
    /// A chord symbol such as "Am" (guitar chords, not played).
    case chordSymbol(String)
    /// A change of meter, unit length or key inside the music (a field line or `[K:...]`).
    case meter(ABCMeter)
    case unitLength(Fraction)
    case key(ABCKey)
}

/// One tune of an ABC file: its header fields and its music.
public struct ABCTune: Sendable {
    /// The reference number (`X:`), 0 when absent.
    public var number: Int
    public var title: String
    /// Where the tune starts (its `X:` line).
    public var path: String
    public var line: Int
    public var meter: ABCMeter
    /// The length a note without a number has (`L:`; by default 1/8, or 1/16 under a meter
    /// below 3/4, as ABC 2.1 says).
    public var unitLength: Fraction
    public var key: ABCKey
    public var elements: [ABCElement]
    /// Where each element was read (same indices as `elements`).
    public var positions: [SourcePosition]

    /// "FILE: tune 12 (line 340)".
    public var location: String { "\(path): tune \(number) (line \(line))" }
}
