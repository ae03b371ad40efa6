/// The music lines of a tune: one pass over the characters of a line, each element recorded
/// with its line and column.
extension ABCTuneParser {
    mutating func readMusic(_ s: [Unicode.Scalar], line: Int) throws {
        var i = 0
        while i < s.count {
            let c = s[i], column = i + 1
            switch c {
            case " ", "\t", "`", "$", "y", "\\", ")", ".", "~", "H"..."W", "h"..."w":
                i += 1  // spacing, beam breaks, continuations, slur ends, decorations (ABC 2.1 reserves H-W, h-w for them)
            case "%":
                return
            case "\"":
                guard let close = s[(i + 1)...].firstIndex(of: "\"") else { throw fail(line, column, "a quoted chord symbol or annotation is not closed") }
                let text = String(String.UnicodeScalarView(s[(i + 1)..<close]))
                if let first = text.unicodeScalars.first, !"^_<>@".unicodeScalars.contains(first) { append(.chordSymbol(text), line, column) }
                i = close + 1
            case "!", "+" where Self.decorationEnd(s, from: i) == nil:
                i += 1  // older ABC's line break (ABC 1.6), or a lone plus: no decoration
            case "1"..."9" where s[..<i].allSatisfy({ $0 == " " || $0 == "\t" }) && lastBarTakesEnding:
                // An ending whose bar line closed the line before (`|\` then `1 ...`).
                try startEnding(try readNumber(s, &i, line: line) ?? 1, line: line, column: column)
                skipEndingList(s, &i)
            case "{", "!", "+":
                let closing: Unicode.Scalar = c == "{" ? "}" : c
                guard let close = s[(i + 1)...].firstIndex(of: closing) else {
                    throw fail(line, column, c == "{" ? "grace notes {...} are not closed" : "a decoration \(c)...\(c) is not closed")
                }
                i = close + 1
            case "(":
                if i + 1 < s.count, s[i + 1].properties.numericType != nil { try readTuplet(s, &i, line: line) } else { i += 1 }
            case "-":
                append(.tie, line, column)
                i += 1
            case ">", "<":
                var count = 0
                while i < s.count, s[i] == c { count += 1; i += 1 }
                append(.broken(lengthensFirst: c == ">", count: count), line, column)
            case "[":
                try readBracket(s, &i, line: line)
            case "|", ":":
                try readBar(s, &i, line: line)
            case "z", "x":
                i += 1
                append(.rest(try readLength(s, &i, line: line) * currentUnit), line, column)
            case "Z":
                i += 1
                let bars = try readNumber(s, &i, line: line) ?? 1
                guard bars > 0, let bar = currentMeter.barLength else { throw fail(line, column, "a whole-bar rest Z needs a meter and a count of bars") }
                append(.rest(Fraction(bars) * bar), line, column)
            case "^", "_", "=", "A"..."G", "a"..."g":
                append(.note(try readNote(s, &i, line: line)), line, column)
            case "&":
                guard inFirstVoice else { i += 1; continue }
                throw fail(line, column, "voice overlay (&) is not read; keep one voice per tune")
            default:
                throw fail(line, column, "unreadable note or symbol \"\(Character(c))\"")
            }
        }
    }

    /// `^F`, `=c'`, `_B,2`, `e3/2`: accidental, letter, octave marks, length.
    mutating func readNote(_ s: [Unicode.Scalar], _ i: inout Int, line: Int) throws -> ABCNote {
        let column = i + 1
        var accidental: Int? = nil
        while i < s.count, "^_=".unicodeScalars.contains(s[i]) {
            let step = s[i] == "^" ? 1 : (s[i] == "_" ? -1 : 0)
            if s[i] == "=" {
                guard accidental == nil else { throw fail(line, i + 1, "unreadable accidental") }
                accidental = 0
                i += 1
                break
            }
            accidental = (accidental ?? 0) + step
            i += 1
            guard abs(accidental ?? 0) <= 2 else { throw fail(line, column, "unreadable accidental: at most two sharps or flats") }
        }
        guard i < s.count, let letterIndex = "CDEFGABcdefgab".unicodeScalars.firstIndex(of: s[i]) else {
            throw fail(line, i + 1, "unreadable note: an accidental needs a note letter A-G or a-g after it")
        }
        let letterOffset = "CDEFGABcdefgab".unicodeScalars.distance(from: "CDEFGABcdefgab".unicodeScalars.startIndex, to: letterIndex)
        var octave = letterOffset >= 7 ? 5 : 4
        i += 1
        while i < s.count, s[i] == "'" || s[i] == "," {
            octave += s[i] == "'" ? 1 : -1
            i += 1
        }
        guard (0...9).contains(octave) else { throw fail(line, column, "the note's octave is outside the MIDI range") }
        let length = try readLength(s, &i, line: line)
        return ABCNote(pitch: ABCPitch(letter: letterOffset % 7, octave: octave, accidental: accidental), length: length * currentUnit)
    }

    /// A length multiplier: `2`, `3/2`, `/2`, `/`, `//`; none is 1.
    func readLength(_ s: [Unicode.Scalar], _ i: inout Int, line: Int) throws -> Fraction {
        let column = i + 1
        let numerator = try readNumber(s, &i, line: line)
        var length = Fraction(numerator ?? 1)
        while i < s.count, s[i] == "/" {
            i += 1
            let denominator = try readNumber(s, &i, line: line) ?? 2
            guard denominator > 0 else { throw fail(line, column, "a note length divided by 0") }
            length = length / Fraction(denominator)
        }
        guard length > .zero else { throw fail(line, column, "a note or rest of length 0") }
        return length
    }

    /// Up to four digits (longer numbers are no note lengths), or nil when none.
    func readNumber(_ s: [Unicode.Scalar], _ i: inout Int, line: Int) throws -> Int? {
        var value = 0, digits = 0
        while i < s.count, let digit = Int(String(s[i])), s[i].isASCII {
            value = value * 10 + digit
            digits += 1
            i += 1
            guard digits <= 4 else { throw fail(line, i, "a number too long for a note length or tuplet") }
        }
        return digits > 0 ? value : nil
    }

    /// `(3`, `(3:2`, `(3:2:3`, `(3::2`: q defaults to 3 for 2, 4 and 8 notes, 2 for 3 and 6,
    /// and otherwise 3 in compound meter, 2 in simple; r defaults to p.
    mutating func readTuplet(_ s: [Unicode.Scalar], _ i: inout Int, line: Int) throws {
        let column = i + 1
        i += 1
        guard let p = try readNumber(s, &i, line: line), p >= 2 else { throw fail(line, column, "unreadable tuplet: (p needs p of 2 or more") }
        var q: Int? = nil, r: Int? = nil
        if i < s.count, s[i] == ":" {
            i += 1
            q = try readNumber(s, &i, line: line)
            if i < s.count, s[i] == ":" {
                i += 1
                r = try readNumber(s, &i, line: line)
            }
        }
        let defaultQ: Int
        switch p {
        case 2, 4, 8: defaultQ = 3
        case 3, 6: defaultQ = 2
        default: defaultQ = currentMeter.isCompound ? 3 : 2
        }
        let resolvedQ = q ?? defaultQ, resolvedR = r ?? p
        guard resolvedQ > 0, resolvedR > 0 else { throw fail(line, column, "unreadable tuplet: q and r must be positive") }
        append(.tuplet(p: p, q: resolvedQ, r: resolvedR), line, column)
    }

    /// After `[`: `[|` (a thick bar), `[2` (an ending), `[K:G]` (an inline field) or a chord.
    mutating func readBracket(_ s: [Unicode.Scalar], _ i: inout Int, line: Int) throws {
        let column = i + 1
        let next = i + 1 < s.count ? s[i + 1] : " "
        if next == "|" {
            i += 1
            try readBar(s, &i, line: line, thick: true)
        } else if next.properties.numericType != nil {
            i += 1
            try startEnding(try readNumber(s, &i, line: line) ?? 1, line: line, column: column)
            skipEndingList(s, &i)
        } else if i + 2 < s.count, s[i + 2] == ":", next.isASCII, next.properties.isAlphabetic {
            guard let close = s[i...].firstIndex(of: "]") else { throw fail(line, column, "an inline field [\(Character(next)):... is not closed") }
            try field(next, value: String(String.UnicodeScalarView(s[(i + 3)..<close])), line: line, column: column + 3)
            i = close + 1
        } else {
            try readChord(s, &i, line: line)
        }
    }

    /// `[CEG]2`, `[A,2e2]`: notes inside, then a multiplier for all of them.
    mutating func readChord(_ s: [Unicode.Scalar], _ i: inout Int, line: Int) throws {
        let column = i + 1
        i += 1
        var notes: [ABCNote] = []
        while true {
            guard i < s.count else { throw fail(line, column, "a chord [...] is not closed on its line") }
            let c = s[i]
            if c == "]" { i += 1; break }
            if "^_=CDEFGABcdefgab".unicodeScalars.contains(c) {
                notes.append(try readNote(s, &i, line: line))
            } else if " .~-()".unicodeScalars.contains(c) || ("H"..."W").contains(c) || ("h"..."w").contains(c) {
                i += 1
            } else if c == "!" || c == "+", let close = s[(i + 1)...].firstIndex(of: c) {
                i = close + 1
            } else if c == "z" || c == "x" {
                i += 1  // a rest beside the notes of a chord: the notes sound
                _ = try readLength(s, &i, line: line)
            } else {
                throw fail(line, i + 1, "unreadable note \"\(Character(c))\" in a chord")
            }
        }
        guard !notes.isEmpty else { throw fail(line, column, "an empty chord []") }
        let multiplier = try readLength(s, &i, line: line)
        append(.chord(notes.map { ABCNote(pitch: $0.pitch, length: $0.length * multiplier) }), line, column)
    }

    /// `|`, `||`, `|]`, `[|`, `|:`, `:|`, `::`, `:|:`, then an ending number (`|1`, `:|2`).
    mutating func readBar(_ s: [Unicode.Scalar], _ i: inout Int, line: Int, thick: Bool = false) throws {
        let column = i + 1
        var text = ""
        while i < s.count, s[i] == "|" || s[i] == ":" || (s[i] == "]" && text.last == "|") {
            text.unicodeScalars.append(s[i])
            i += 1
        }
        // Collections write odd combinations ("|:|", "|]|]", "|]:|"): the colons at either end
        // say where a repeat ends or starts, and what is left is a plain, double or final bar.
        guard text.contains("|") || text.count >= 2 else {
            guard text == ":" else { throw fail(line, column, "unreadable bar line \"\(text)\"") }
            guard inFirstVoice else { return }
            if let last = elements.indices.last, case .bar(var bar) = elements[last] {
                // The bar line went on over a line break (`||\` then `:`): it starts a repeat.
                bar.kind = bar.kind == .repeatEnd || bar.kind == .repeatBoth ? .repeatBoth : .repeatStart
                elements[last] = .bar(bar)
            } else {
                append(.bar(ABCBar(kind: .repeatEnd, ending: nil)), line, column)  // a colon alone after notes
            }
            return
        }
        let endsRepeat = text.hasPrefix(":"), startsRepeat = text.hasSuffix(":")
        let kind: ABCBar.Kind
        if endsRepeat && startsRepeat {
            kind = .repeatBoth
        } else if endsRepeat {
            kind = .repeatEnd
        } else if startsRepeat {
            kind = .repeatStart
        } else if text == "|" {
            kind = thick ? .double : .single
        } else {
            kind = text.hasSuffix("]") ? .final : .double
        }
        append(.bar(ABCBar(kind: kind, ending: nil)), line, column)
        if i < s.count, s[i].isASCII, let ending = try readNumber(s, &i, line: line) {
            try startEnding(ending, line: line, column: column)
            skipEndingList(s, &i)
        }
    }

    /// An ending number belongs to the bar line just read.
    mutating func startEnding(_ ending: Int, line: Int, column: Int) throws {
        guard inFirstVoice else { return }
        guard let last = elements.indices.last, case .bar(var bar) = elements[last], bar.ending == nil else {
            // Collections start an ending after notes where a line ended without its bar line.
            guard elements.contains(where: { if case .note = $0 { return true } else { return false } }) else {
                throw fail(line, column, "an ending [\(ending) before any note")
            }
            append(.bar(ABCBar(kind: .single, ending: ending)), line, column)
            return
        }
        bar.ending = ending
        elements[last] = .bar(bar)
    }

    /// Whether the last element read is a bar line without an ending yet.
    var lastBarTakesEnding: Bool {
        guard inFirstVoice, let last = elements.last, case .bar(let bar) = last else { return false }
        return bar.ending == nil
    }

    /// Where the decoration `!name!` (or `+name+`) opened at `start` closes: a name of letters,
    /// digits and `+-.<>()/^_` up to the closing mark; nil when the line holds none (then the
    /// mark is a line break or a stray plus).
    static func decorationEnd(_ s: [Unicode.Scalar], from start: Int) -> Int? {
        let mark = s[start]
        var j = start + 1
        while j < s.count, s[j] != mark {
            guard s[j].isASCII, s[j].properties.isAlphabetic || s[j].properties.numericType != nil
                    || "+-.<>()/^_".unicodeScalars.contains(s[j]) else { return nil }
            j += 1
        }
        return j < s.count && j > start + 1 ? j : nil
    }

    /// Endings may list several passes (`|1,3`, `[1-3`): the first one is kept.
    func skipEndingList(_ s: [Unicode.Scalar], _ i: inout Int) {
        while i < s.count, s[i] == "," || s[i] == "-" || (s[i].isASCII && s[i].properties.numericType != nil) { i += 1 }
    }
}

/// `K:` values: a tonic (A-G, then # or b) and a mode (major by default; m, min, dor, mix...),
/// `K:none`, the bagpipe keys `K:HP` and `K:Hp`, then optional explicit accidentals (`^f =c`)
/// and clef settings, which are ignored.
enum ABCKeyParser {
    /// Sharps (positive) or flats of each major key, by tonic.
    static let majorFifths: [String: Int] = [
        "C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F#": 6, "C#": 7,
        "F": -1, "Bb": -2, "Eb": -3, "Ab": -4, "Db": -5, "Gb": -6, "Cb": -7,
    ]
    /// How far each mode's signature sits from the major key on the same tonic.
    static let modeFifths: [String: Int] = ["maj": 0, "ion": 0, "mix": -1, "dor": -2, "min": -3, "aeo": -3, "phr": -4, "loc": -5, "lyd": 1]

    static func parse(_ value: String) -> ABCKey? {
        var words = value.split(separator: " ").map(String.init).filter { !$0.contains("=") || $0.first == "=" }
        guard let first = words.first else { return ABCKey(tonic: "C", mode: "maj", accidentals: Array(repeating: 0, count: 7)) }
        words.removeFirst()
        if first == "none" { return ABCKey(tonic: "", mode: "none", accidentals: Array(repeating: 0, count: 7)) }
        if first == "HP" { return ABCKey(tonic: "", mode: "HP", accidentals: Array(repeating: 0, count: 7)) }
        if first == "Hp" { return ABCKey(tonic: "", mode: "Hp", accidentals: [1, 0, 0, 1, 0, 0, 0]) }
        var tonic = String(first.prefix(1)).uppercased()
        guard "ABCDEFG".contains(tonic) else { return nil }
        var rest = first.dropFirst()
        if let sign = rest.first, sign == "#" || sign == "b" {
            tonic.append(sign)
            rest = rest.dropFirst()
        }
        var modeWord = String(rest)
        if modeWord.isEmpty, let next = words.first, modeFifths.keys.contains(String(next.lowercased().prefix(3))) || next.lowercased() == "m" {
            modeWord = next
            words.removeFirst()
        }
        let lowered = modeWord.lowercased()
        let mode: String
        if lowered.isEmpty { mode = "maj" }
        else if lowered == "m" { mode = "min" }
        else if lowered.hasPrefix("exp") { mode = "exp" }
        else if let known = modeFifths.keys.first(where: { lowered.hasPrefix($0) }) { mode = known == "ion" ? "maj" : (known == "aeo" ? "min" : known) }
        else { return nil }
        var accidentals = Array(repeating: 0, count: 7)
        if mode != "exp" {
            guard let base = majorFifths[tonic], let offset = modeFifths[mode] else { return nil }
            let fifths = base + offset
            guard (-7...7).contains(fifths) else { return nil }
            let sharpOrder = [3, 0, 4, 1, 5, 2, 6]  // F C G D A E B
            for k in 0..<abs(fifths) {
                let letter = fifths > 0 ? sharpOrder[k] : sharpOrder[6 - k]
                accidentals[letter] = fifths > 0 ? 1 : -1
            }
        }
        for word in words {
            let scalars = Array(word.unicodeScalars)
            guard let letter = scalars.last.flatMap({ "cdefgab".unicodeScalars.firstIndex(of: Unicode.Scalar(String($0).lowercased()) ?? " ") }) else { continue }
            let index = "cdefgab".unicodeScalars.distance(from: "cdefgab".unicodeScalars.startIndex, to: letter)
            let marks = scalars.dropLast()
            guard !marks.isEmpty, marks.allSatisfy({ "^_=".unicodeScalars.contains($0) }) else { continue }
            accidentals[index] = marks.reduce(0) { $0 + ($1 == "^" ? 1 : ($1 == "_" ? -1 : 0)) }
        }
        return ABCKey(tonic: tonic, mode: mode, accidentals: accidentals)
    }
}
