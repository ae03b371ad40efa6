import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import ZIPFoundation

/// The notes of a MusicXML score (partwise, the form notation programs export), part by part.
///
/// Read: parts and their names, divisions, notes with pitch (step, alter, octave) and duration,
/// chords, rests, backup and forward (several voices in a part), ties (a tied note continues the
/// one before), the first key and time signature. Grace notes, which take no time, are left out.
/// Compressed MusicXML (`.mxl`) is a zip archive whose `META-INF/container.xml` names the score.
public struct MusicXMLScore: Sendable {
    public struct Note: Equatable, Sendable {
        /// MIDI note number (middle C is 60).
        public var pitch: Int
        /// In quarter notes from the start of the part.
        public var start: Fraction
        public var length: Fraction
    }

    public struct Part: Sendable {
        public var id: String
        public var name: String
        public var notes: [Note]
    }

    public var parts: [Part]
    /// The first key signature: sharps (positive) or flats, and the mode ("major", "minor").
    public var keyFifths: Int?
    public var keyMode: String?
    /// The first time signature.
    public var beats: Int?
    public var beatType: Int?

    /// Reads `.mxl` (zipped) or `.xml` / `.musicxml` (plain) files.
    public static func read(path: String) throws -> MusicXMLScore {
        let data = try FileContents.read(path)
        let isZip = data.starts(with: [0x50, 0x4B])  // "PK"
        if path.lowercased().hasSuffix(".mxl") || isZip {
            return try MusicXMLScore(xml: try scoreData(zipped: data, path: path), path: path)
        }
        return try MusicXMLScore(xml: data, path: path)
    }

    /// The score inside an `.mxl` archive: the root file that `META-INF/container.xml` names,
    /// else the first `.xml` or `.musicxml` file outside `META-INF`.
    static func scoreData(zipped data: Data, path: String) throws -> Data {
        let archive: Archive
        do {
            archive = try Archive(data: data, accessMode: .read)
        } catch {
            throw RecurrentError.invalidFile(path: path, reason: "not a readable zip archive (a .mxl file is one): \(error)")
        }
        func extract(_ entry: Entry) throws -> Data {
            var contents = Data()
            do {
                _ = try archive.extract(entry) { contents.append($0) }
            } catch {
                throw RecurrentError.invalidFile(path: path, reason: "the zip archive is corrupt: \(entry.path) does not extract (\(error))")
            }
            return contents
        }
        var rootPath: String? = nil
        if let container = archive["META-INF/container.xml"] {
            let text = String(decoding: try extract(container), as: UTF8.self)
            if let range = text.range(of: #"full-path="([^"]+)""#, options: .regularExpression) {
                rootPath = String(text[range].dropFirst("full-path=\"".count).dropLast())
            }
        }
        let candidates = archive.filter { entry in
            let name = entry.path.lowercased()
            return entry.type == .file && !name.hasPrefix("meta-inf/") && (name.hasSuffix(".xml") || name.hasSuffix(".musicxml"))
        }
        guard let entry = rootPath.flatMap({ archive[$0] }) ?? candidates.first else {
            throw RecurrentError.invalidFile(path: path, reason: "the zip archive holds no MusicXML score (.xml or .musicxml)")
        }
        return try extract(entry)
    }

    /// Parses MusicXML text; `path` names the source in errors.
    public init(xml: Data, path: String) throws {
        let reader = MusicXMLReader()
        try WellFormedXML.parse(xml, path: path, kind: "XML", delegate: reader, failure: { reader.failure })
        guard let root = reader.root else { throw RecurrentError.invalidFile(path: path, reason: "not a MusicXML score: the file is empty") }
        guard root == "score-partwise" else {
            let why = root == "score-timewise" ? "timewise MusicXML is not read; export the score partwise"
                : "not a MusicXML score: its root element is <\(root)>, expected <score-partwise>"
            throw RecurrentError.invalidFile(path: path, reason: why)
        }
        let parts = reader.parts.filter { !$0.notes.isEmpty }
        guard !parts.isEmpty else { throw RecurrentError.invalidFile(path: path, reason: "the score has no parts with notes") }
        self.parts = parts
        keyFifths = reader.keyFifths
        keyMode = reader.keyMode
        beats = reader.beats
        beatType = reader.beatType
    }
}

/// The XMLParser delegate: a cursor per part in quarter notes, moved by notes, backup and forward.
final class MusicXMLReader: NSObject, XMLParserDelegate {
    var root: String?
    var failure: String?
    var parts: [MusicXMLScore.Part] = []
    var partNames: [String: String] = [:]
    var keyFifths: Int?, keyMode: String?, beats: Int?, beatType: Int?

    private var path: [String] = []
    private var text = ""
    private var scorePartID = ""
    // The part being read.
    private var divisions = 1
    private var cursor = Fraction.zero
    private var lastStart = Fraction.zero
    // The note being read.
    private var step: String?, alter = 0, octave: Int?, duration: Int?
    private var isRest = false, isChord = false, isGrace = false, tieStop = false

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if root == nil { root = name }
        path.append(name)
        text = ""
        switch name {
        case "score-part": scorePartID = attributes["id"] ?? ""
        case "part":
            let id = attributes["id"] ?? "P\(parts.count + 1)"
            parts.append(MusicXMLScore.Part(id: id, name: partNames[id] ?? id, notes: []))
            divisions = 1
            cursor = .zero
            lastStart = .zero
        case "note":
            step = nil; alter = 0; octave = nil; duration = nil
            isRest = false; isChord = false; isGrace = false; tieStop = false
        case "rest": isRest = true
        case "chord": isChord = true
        case "grace": isGrace = true
        case "tie" where attributes["type"] == "stop": tieStop = true
        default: break
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        text += string
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let parent = path.count >= 2 ? path[path.count - 2] : ""
        defer { path.removeLast(); text = "" }
        switch name {
        case "part-name" where parent == "score-part": partNames[scorePartID] = value
        case "divisions":
            guard let number = Int(value), number > 0 else { return fail(parser, "divisions \"\(value)\" is not a positive whole number") }
            divisions = number
        case "fifths" where keyFifths == nil: keyFifths = Int(value)
        case "mode" where keyMode == nil: keyMode = value
        case "beats" where beats == nil: beats = Int(value)
        case "beat-type" where beatType == nil: beatType = Int(value)
        case "step" where parent == "pitch": step = value
        case "alter" where parent == "pitch": alter = Int(Double(value)?.rounded() ?? 0)
        case "octave" where parent == "pitch": octave = Int(value)
        case "duration":
            guard let number = Int(value), number >= 0 else { return fail(parser, "duration \"\(value)\" is not a whole number") }
            switch parent {
            case "note": duration = number
            case "backup": cursor = cursor - Fraction(number, divisions)
            case "forward": cursor = cursor + Fraction(number, divisions)
            default: break
            }
            if cursor < .zero { return fail(parser, "a backup goes before the start of the part") }
        case "note": endNote(parser)
        default: break
        }
    }

    private func endNote(_ parser: XMLParser) {
        guard !isGrace, !parts.isEmpty else { return }
        guard let duration else { return fail(parser, "a note without a duration") }
        let length = Fraction(duration, divisions)
        let start = isChord ? lastStart : cursor
        if !isChord { cursor = cursor + length }
        lastStart = start
        guard !isRest else { return }
        guard let step, let octave, let letter = "CDEFGAB".firstIndex(of: Character(step.uppercased())) else {
            return fail(parser, "a note without a readable pitch (step, octave)")
        }
        let pitch = 12 * (octave + 1) + ABCPitch.semitones["CDEFGAB".distance(from: "CDEFGAB".startIndex, to: letter)] + alter
        guard (0...127).contains(pitch) else { return fail(parser, "a pitch outside the MIDI range") }
        let index = parts.count - 1
        if tieStop, let previous = parts[index].notes.lastIndex(where: { $0.pitch == pitch && $0.start + $0.length == start }) {
            parts[index].notes[previous].length = parts[index].notes[previous].length + length
        } else if length > .zero {
            parts[index].notes.append(MusicXMLScore.Note(pitch: pitch, start: start, length: length))
        }
    }

    private func fail(_ parser: XMLParser, _ reason: String) {
        if failure == nil { failure = "line \(parser.lineNumber): \(reason)" }
        parser.abortParsing()
    }
}
