/// Tunes as tokens, in the manner of folk-rnn (Sturm et al. 2016): the meter and the key, then
/// the music, one token per pitch (with its accidental and octave: `^F`, `c'`), per length
/// (`2`, `/2`, `3/2`: counted in eighth notes whatever the tune's `L:`, so that the same
/// rhythm is always the same tokens), per bar line with its ending (`|`, `|:`, `:|2`), per rest
/// (`z`), chord bracket (`[`, `]`), tuplet (`(3`), tie (`-`) and broken rhythm (`>`).
/// Chord symbols are dropped, or kept as one token each (`"Am"`).
///
/// The tokens written back one after the other are ABC again (`text(tokens:number:title:)`),
/// with `L:1/8`: a tune read, tokenized and written reads back into the same tokens.
public struct ABCTokenizer: Codable, Equatable, Sendable {
    public var keepChordSymbols: Bool

    public init(keepChordSymbols: Bool = false) {
        self.keepChordSymbols = keepChordSymbols
    }

    /// Every length is written in this unit.
    public static let unit = Fraction(1, 8)
    /// Around each tune in a training sequence.
    public static let tuneStart = "<s>", tuneEnd = "</s>"

    /// "M:6/8", "K:Dmaj", then the music.
    public func tokens(_ tune: ABCTune) -> [String] {
        var tokens = ["M:" + tune.meter.text, "K:" + tune.key.name]
        for element in tune.elements {
            switch element {
            case .note(let note):
                tokens.append(note.pitch.text)
                tokens += Self.lengthTokens(note.length)
            case .chord(let notes):
                tokens.append("[")
                let shared = notes.allSatisfy { $0.length == notes[0].length }
                for note in notes {
                    tokens.append(note.pitch.text)
                    if !shared { tokens += Self.lengthTokens(note.length) }
                }
                tokens.append("]")
                if shared { tokens += Self.lengthTokens(notes[0].length) }
            case .rest(let length):
                tokens.append("z")
                tokens += Self.lengthTokens(length)
            case .bar(let bar):
                tokens.append(bar.text)
            case .tuplet(let p, let q, let r):
                let defaultQ = [2: 3, 3: 2, 4: 3, 6: 2, 8: 3][p]
                tokens.append(q == defaultQ && r == p ? "(\(p)" : "(\(p):\(q):\(r)")
            case .tie:
                tokens.append("-")
            case .broken(let lengthensFirst, let count):
                tokens.append(String(repeating: lengthensFirst ? ">" : "<", count: count))
            case .chordSymbol(let symbol):
                if keepChordSymbols { tokens.append("\"\(symbol)\"") }
            case .meter(let meter):
                tokens.append("[M:\(meter.text)]")
            case .key(let key):
                tokens.append("[K:\(key.name)]")
            case .unitLength:
                break  // lengths are already in eighths
            }
        }
        return tokens
    }

    /// A length in eighth notes: none for 1, "2", "/2", "3/2".
    static func lengthTokens(_ length: Fraction) -> [String] {
        let eighths = length / unit
        if eighths == .one { return [] }
        if eighths.denominator == 1 { return ["\(eighths.numerator)"] }
        if eighths.numerator == 1 { return ["/\(eighths.denominator)"] }
        return [eighths.description]
    }

    /// A whole ABC tune from tokens (the start and end tokens, if present, are left out): the
    /// header X:, T:, then M: and K: from the leading tokens (M:4/4 and K:Cmaj when missing),
    /// L:1/8, and the music, four bars to a line.
    public func text(tokens: [String], number: Int, title: String) -> String {
        var music = tokens.filter { $0 != Self.tuneStart && $0 != Self.tuneEnd }
        var meter = "4/4", key = "Cmaj"
        while let first = music.first, first.hasPrefix("M:") || first.hasPrefix("K:") {
            if first.hasPrefix("M:") { meter = String(first.dropFirst(2)) } else { key = String(first.dropFirst(2)) }
            music.removeFirst()
        }
        var body = "", barsOnLine = 0
        for token in music {
            if Self.isBarLine(token) {
                body += body.isEmpty || body.hasSuffix("\n") ? token : " " + token
                barsOnLine += 1
                if barsOnLine >= 4 { body += "\n"; barsOnLine = 0 } else { body += " " }
            } else {
                body += token
            }
        }
        while body.last == " " || body.last == "\n" { body.removeLast() }
        return "X:\(number)\nT:\(title)\nM:\(meter)\nL:1/8\nK:\(key)\n\(body)\n"
    }

    /// "|", "||", "|]", "|:", ":|", "::", with an ending number or not.
    public static func isBarLine(_ token: String) -> Bool {
        guard let first = token.first else { return false }
        return (first == "|" || first == ":") && token.allSatisfy { "|:]0123456789".contains($0) }
    }
}
