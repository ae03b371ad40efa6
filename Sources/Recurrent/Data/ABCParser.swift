import Foundation

/// Reads tunes in ABC notation (abcnotation.com, standard 2.1): header fields, then the music.
///
/// Read: `X:` `T:` `M:` `L:` `K:` (and field changes inside the music, inline `[K:...]` too);
/// notes with accidentals (`^ ^^ _ __ =`), octaves (`'` `,`) and lengths (`2`, `/2`, `3/2`, `/`,
/// `//`); rests `z` `x`, whole-bar rests `Z`; chords `[CEG]`; bar lines, repeats and endings
/// (`|`, `||`, `|]`, `[|`, `|:`, `:|`, `::`, `|1`, `:|2`, `[2`); ties `-`, broken rhythm `>` `<`,
/// tuplets `(3`, `(3:2:3`; chord symbols in quotes. Skipped as they change no note: decorations
/// (`.~HLMOPSTuv`, `!trill!`, `+fermata+`), annotations (`"^text"`), grace notes `{...}`, slurs
/// (inside chords too), spacers, beam breaks, comments `%` (continued by a final `\`), line
/// continuations `\`, older ABC's line break `!` (a `!` that no decoration name and `!` follow on
/// its line, or a `+` without its pair), rests inside chords, and the other fields (`T:`, `N:`,
/// `w:`...). An ending after notes rather than a bar line (`[1` at the start of a line whose
/// previous line ended without one) gets a plain bar; a bar line continued over a line break
/// (`||\` then `:` or `1` on the next line) reads as one; a colon alone after notes ends a repeat.
/// Several voices (`V:` in the header or the music, inline `[V:...]`): the first voice named is
/// read, the others are left out (as a melody model wants the tune, not its accompaniment).
/// Refused with file, line and column: a tune without `K:` before its music, an unreadable
/// character in the music, a zero or unreadable length, an unclosed chord or quote, a voice
/// overlay (`&`).
public enum ABCReader {
    /// Every tune of an ABC file. The file may be UTF-8 or Latin-1 (older collections are).
    /// With `skippingUnreadable`, tunes that do not read are left out and their errors returned
    /// (one line each); otherwise the first error is thrown.
    public static func read(path: String, skippingUnreadable: Bool = false) throws -> (tunes: [ABCTune], skipped: [String]) {
        let data = try FileContents.read(path)
        let text = String(data: data, encoding: .utf8) ?? String(data: data, encoding: .isoLatin1) ?? ""
        return try parse(text, path: path, skippingUnreadable: skippingUnreadable)
    }

    /// The tunes of ABC text (see `read`). `path` names the source in errors.
    public static func parse(_ text: String, path: String, skippingUnreadable: Bool = false) throws -> (tunes: [ABCTune], skipped: [String]) {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).map(String.init)
        var tunes: [ABCTune] = [], skipped: [String] = []
        for block in tuneBlocks(lines) {
            do {
                var parser = ABCTuneParser(path: path, firstLine: block.first)
                for (offset, line) in block.lines.enumerated() { try parser.read(line: line, number: block.first + offset) }
                tunes.append(try parser.finish())
            } catch let error as RecurrentError where skippingUnreadable {
                skipped.append(error.description)
            }
        }
        if tunes.isEmpty && skipped.isEmpty {
            throw RecurrentError.invalidFile(path: path, reason: "no tune in the file (a tune starts with an X: line and has a K: line)")
        }
        return (tunes, skipped)
    }

    /// Tunes are separated by blank lines, each starting at an `X:` line; text before the first
    /// `X:` (the file's own header, notes) is not a tune. A file with no `X:` at all is one tune.
    static func tuneBlocks(_ lines: [String]) -> [(first: Int, lines: [String])] {
        let hasReferenceNumbers = lines.contains { $0.hasPrefix("X:") }
        var blocks: [(first: Int, lines: [String])] = []
        var current: (first: Int, lines: [String])? = nil
        for (index, line) in lines.enumerated() {
            let blank = line.trimmingCharacters(in: .whitespaces).isEmpty
            if line.hasPrefix("X:") || (!hasReferenceNumbers && current == nil && !blank && !line.hasPrefix("%")) {
                if let done = current { blocks.append(done) }
                current = (index + 1, [line])
            } else if blank {
                if let done = current { blocks.append(done) }
                current = nil
            } else if current != nil {
                current?.lines.append(line)
            }
        }
        if let done = current { blocks.append(done) }
        return blocks
    }
}

/// Reads one tune, line by line.
struct ABCTuneParser {
    let path: String
    let firstLine: Int
    var number = 0
    var title = ""
    var meter: ABCMeter? = nil
    var unitLength: Fraction? = nil
    var key: ABCKey? = nil
    var inBody = false
    var elements: [ABCElement] = []
    var positions: [SourcePosition] = []
    /// The meter and unit length in force inside the music.
    var currentMeter = ABCMeter(numerator: 4, denominator: 4)
    var currentUnit = Fraction(1, 8)
    /// The first voice named (`V:`), whose music is read; the voice the music is in now (nil
    /// before any `V:` in the music, which is the first voice's).
    var firstVoice: String? = nil
    var currentVoice: String? = nil
    /// The line before was a comment ending in `\`.
    var commentGoesOn = false
    /// Whether the music now read is kept: the first voice's (elements, and M: L: K: changes,
    /// of the others are left out).
    var inFirstVoice: Bool { currentVoice == nil || currentVoice == firstVoice }

    init(path: String, firstLine: Int) {
        self.path = path
        self.firstLine = firstLine
    }

    func fail(_ line: Int, _ column: Int, _ reason: String) -> RecurrentError {
        .invalidFile(path: path, reason: "line \(line), column \(column): \(reason)")
    }

    mutating func read(line text: String, number lineNumber: Int) throws {
        let scalars = Array(text.unicodeScalars)
        // A comment or directive (`%%...`) ending in `\` goes on over the next line.
        defer { commentGoesOn = scalars.first == "%" || commentGoesOn ? text.hasSuffix("\\") : false }
        if scalars.first == "%" || commentGoesOn { return }
        if scalars.count >= 2, scalars[1] == ":", let first = scalars.first, first.isASCII, first.properties.isAlphabetic {
            try field(first, value: String(String.UnicodeScalarView(scalars.dropFirst(2))), line: lineNumber, column: 3)
            return
        }
        guard inBody else {
            if text.trimmingCharacters(in: .whitespaces).isEmpty { return }
            throw fail(lineNumber, 1, "the music starts before a K: field (the key, the last field of a tune's header)")
        }
        try readMusic(scalars, line: lineNumber)
    }

    mutating func field(_ name: Unicode.Scalar, value rawValue: String, line: Int, column: Int) throws {
        let value = rawValue.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?
            .trimmingCharacters(in: .whitespaces) ?? ""
        if inBody && !inFirstVoice && "MLK".unicodeScalars.contains(name) {
            return  // another voice's change of meter, length or key
        }
        switch name {
        case "X":
            number = Int(value) ?? 0
        case "T":
            if title.isEmpty { title = value }
        case "M":
            let parsed = try parseMeter(value, line: line, column: column)
            if inBody { append(.meter(parsed), line, column) } else { meter = parsed }
            currentMeter = parsed
        case "L":
            guard let parsed = parseFraction(value), parsed > .zero else {
                throw fail(line, column, "unreadable unit length L:\(value) (expected a fraction such as 1/8)")
            }
            if inBody { append(.unitLength(parsed), line, column) } else { unitLength = parsed }
            currentUnit = parsed
        case "K":
            let parsed = try parseKey(value, line: line, column: column)
            if inBody {
                append(.key(parsed), line, column)
            } else {
                key = parsed
                inBody = true
                // ABC 2.1: without L:, the unit is 1/16 under a meter below 3/4, else 1/8.
                if unitLength == nil {
                    let small = (meter?.barLength).map { $0 < Fraction(3, 4) } ?? false
                    unitLength = small ? Fraction(1, 16) : Fraction(1, 8)
                }
                currentUnit = unitLength ?? Fraction(1, 8)
                currentMeter = meter ?? ABCMeter.free
            }
        case "V":
            guard let id = value.split(separator: " ").first.map(String.init) else {
                throw fail(line, column, "a voice field V: without a name")
            }
            if firstVoice == nil { firstVoice = id }
            if inBody { currentVoice = id }
        default:
            break  // titles, notes, lyrics, sources, tempo...: they change no note
        }
    }

    func parseMeter(_ value: String, line: Int, column: Int) throws -> ABCMeter {
        switch value {
        case "", "none": return .free
        case _ where value.uppercased().hasPrefix("FREI"): return .free  // the Essen collection's free meter
        case "C": return ABCMeter(numerator: 4, denominator: 4)
        case "C|": return ABCMeter(numerator: 2, denominator: 2)
        default:
            let parts = value.split(separator: "/")
            // Sums of beats ("2+3/8") add up.
            let beats = parts.first.map { $0.split(separator: "+").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } } ?? []
            guard parts.count == 2, !beats.isEmpty, let unit = Int(parts[1].trimmingCharacters(in: .whitespaces)),
                  unit > 0, beats.allSatisfy({ $0 > 0 }) else {
                throw fail(line, column, "unreadable meter M:\(value) (expected a fraction such as 6/8, C, C| or none)")
            }
            return ABCMeter(numerator: beats.reduce(0, +), denominator: unit)
        }
    }

    func parseFraction(_ value: String) -> Fraction? {
        let parts = value.split(separator: "/").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let n = parts[0], let d = parts[1], d > 0, n >= 0 else { return nil }
        return Fraction(n, d)
    }

    func parseKey(_ value: String, line: Int, column: Int) throws -> ABCKey {
        try ABCKeyParser.parse(value) ?? { throw fail(line, column, "unreadable key K:\(value)") }()
    }

    mutating func append(_ element: ABCElement, _ line: Int, _ column: Int) {
        guard inFirstVoice else { return }
        elements.append(element)
        positions.append(SourcePosition(line: line, column: column))
    }

    func finish() throws -> ABCTune {
        guard let key else {
            throw RecurrentError.invalidFile(path: path, reason: "line \(firstLine): tune \(number) has no K: field (the key ends a tune's header)")
        }
        return ABCTune(number: number, title: title, path: path, line: firstLine, meter: meter ?? .free,
                       unitLength: unitLength ?? Fraction(1, 8), key: key, elements: elements, positions: positions)
    }
}
