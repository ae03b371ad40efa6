import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A drawing as ordered strokes, each a polyline, with the character it draws.
///
/// Read from SVG files such as KanjiVG's (one `<path>` per stroke, in stroke order; the file
/// `04e00.svg` draws U+4E00, `04e00-Kaisho.svg` a variant of it), or as drawing programs write
/// strokes (`<polyline>`, `<line>`, `<polygon>`, under `transform`s of their own and of their
/// groups): every outline is sampled to points (Bézier curves at 8 points each), mapped through
/// its transforms and simplified (Ramer-Douglas-Peucker, within `epsilon` units), as sketch-rnn
/// prepared its strokes.
public struct StrokeDrawing: Sendable {
    /// The character (from a KanjiVG file name), or the file name without its extension.
    public var label: String
    /// A variant's name ("Kaisho"), nil for the base form.
    public var variant: String?
    public var strokes: [[DrawingPoint]]
    public var path: String

    public init(label: String, variant: String? = nil, strokes: [[DrawingPoint]], path: String = "") {
        self.label = label
        self.variant = variant
        self.strokes = strokes
        self.path = path
    }

    /// Reads an SVG file. A file without stroke paths, or with path data that does not read,
    /// is refused naming the file.
    public init(contentsOf path: String, epsilon: Double = 1) throws {
        let data = Self.blankingDocumentType(try FileContents.read(path))
        let collector = PathCollector()
        try WellFormedXML.parse(data, path: path, kind: "SVG", delegate: collector)
        guard collector.root == "svg" else {
            throw RecurrentError.invalidFile(path: path, reason: "not an SVG file: its root element is <\(collector.root ?? "none")>")
        }
        if let (line, problem) = collector.failure { throw RecurrentError.invalidFile(path: path, reason: "line \(line): \(problem)") }
        var strokes: [[DrawingPoint]] = []
        for shape in collector.shapes {
            do {
                let outlines: [[DrawingPoint]]
                switch shape.outline {
                case .path(let d): outlines = try SVGPath.polylines(d)
                case .points(let text, let closed): outlines = [try SVGPath.points(text, closed: closed)]
                }
                strokes += outlines.map { SVGPath.simplified($0.map(shape.transform.apply), epsilon: epsilon) }.filter { $0.count >= 2 }
            } catch let error as RecurrentError {
                throw RecurrentError.invalidFile(path: path, reason: "line \(shape.line): \(error.description)")
            }
        }
        guard !strokes.isEmpty else {
            throw RecurrentError.invalidFile(path: path, reason: "the SVG has no stroke paths (<path d=...>, <polyline>, <line>)")
        }
        let stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let parts = stem.split(separator: "-", maxSplits: 1).map(String.init)
        let label = parts.first.flatMap { UInt32($0, radix: 16) }.flatMap(Unicode.Scalar.init).map { String(Character($0)) } ?? stem
        self.init(label: label, variant: parts.count > 1 && label != stem ? parts[1] : nil, strokes: strokes, path: path)
    }

    /// The bytes with the document type declaration (`<!DOCTYPE svg ... [ <!ATTLIST ...> ]>`, as
    /// KanjiVG's files have) blanked to spaces, newlines kept so that line numbers stay right:
    /// FoundationXML's parser crashes on attribute-list declarations, and nothing of an SVG's
    /// strokes depends on them.
    static func blankingDocumentType(_ data: Data) -> Data {
        var bytes = [UInt8](data)
        guard let start = bytes.firstRange(of: Array("<!DOCTYPE".utf8))?.lowerBound else { return data }
        let close = bytes[start...].firstIndex(of: UInt8(ascii: ">")) ?? bytes.count
        var end = close
        if let open = bytes[start..<close].firstIndex(of: UInt8(ascii: "[")) {
            end = bytes[open...].firstRange(of: Array("]>".utf8)).map { $0.upperBound - 1 } ?? bytes.count - 1
        }
        for index in start...min(end, bytes.count - 1) where bytes[index] != UInt8(ascii: "\n") { bytes[index] = UInt8(ascii: " ") }
        return Data(bytes)
    }

    /// Every `.svg` file of `paths` (files, or folders read in name order). With
    /// `skippingUnreadable`, files that do not read are left out and their errors returned.
    public static func read(paths: [String], epsilon: Double = 1, skippingUnreadable: Bool = false) throws -> (drawings: [StrokeDrawing], skipped: [String]) {
        var drawings: [StrokeDrawing] = [], skipped: [String] = []
        for path in paths {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                throw RecurrentError.io(path: path, reason: "no such file or folder")
            }
            var files = [path]
            if isFolder.boolValue {
                files = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.lowercased().hasSuffix(".svg") }
                    .sorted().map { (path as NSString).appendingPathComponent($0) }
                guard !files.isEmpty else { throw RecurrentError.invalidFile(path: path, reason: "the folder holds no .svg file") }
            }
            for file in files {
                do {
                    drawings.append(try StrokeDrawing(contentsOf: file, epsilon: epsilon))
                } catch let error as RecurrentError where skippingUnreadable {
                    skipped.append(error.description)
                }
            }
        }
        return (drawings, skipped)
    }

    /// Steps of sketch-rnn's stroke-5 format: (dx, dy, p1, p2, p3) per point, the offset from
    /// the point before (the first from `origin`) divided by `scale`; p1 = 1 while the pen
    /// stays down to the next point, p2 = 1 at a stroke's last point (the pen lifts), then one
    /// end step (0, 0, 0, 0, 1).
    public func stroke5(origin: DrawingPoint, scale: Double) -> [[Float]] {
        var steps: [[Float]] = []
        var previous = origin
        for stroke in strokes {
            for (k, point) in stroke.enumerated() {
                let last = k == stroke.count - 1
                steps.append([Float((point.x - previous.x) / scale), Float((point.y - previous.y) / scale), last ? 0 : 1, last ? 1 : 0, 0])
                previous = point
            }
        }
        steps.append([0, 0, 0, 0, 1])
        return steps
    }

    /// The strokes that stroke-5 steps draw (the inverse of `stroke5`): points until the end step.
    public static func strokes(fromStroke5 steps: [[Float]], origin: DrawingPoint, scale: Double) -> [[DrawingPoint]] {
        var strokes: [[DrawingPoint]] = [], current: [DrawingPoint] = []
        var point = origin
        for step in steps where step.count >= 5 {
            if step[4] >= 0.5 { break }
            point = DrawingPoint(x: point.x + Double(step[0]) * scale, y: point.y + Double(step[1]) * scale)
            current.append(point)
            if step[3] >= 0.5 { strokes.append(current); current = [] }
        }
        if !current.isEmpty { strokes.append(current) }
        return strokes
    }
}

/// Collects every stroke outline (`<path d>`, `<polyline points>`, `<polygon points>`, `<line>`)
/// with its line and the transform of it and its groups, in document order; definitions
/// (`<defs>`, `<clipPath>`, ...) are left out.
final class PathCollector: NSObject, XMLParserDelegate {
    enum Outline { case path(String), points(String, closed: Bool) }
    var root: String?
    var shapes: [(line: Int, outline: Outline, transform: SVGTransform)] = []
    /// The first unreadable transform or line, with its line.
    var failure: (Int, String)?
    /// The transform in force at each open element, and how many of them are definitions.
    var transforms: [SVGTransform] = []
    var definitions = 0
    static let definitionElements: Set<String> = ["defs", "clipPath", "mask", "marker", "pattern", "symbol"]

    func parser(_ parser: XMLParser, didStartElement qualified: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        // "svg:path" in files that name the SVG namespace with a prefix.
        let name = qualified.split(separator: ":").last.map(String.init) ?? qualified
        if root == nil { root = name }
        var transform = transforms.last ?? .identity
        if let text = attributes["transform"] {
            do { transform = transform.after(try SVGTransform(parsing: text)) } catch {
                if failure == nil { failure = (parser.lineNumber, "\(error)") }
            }
        }
        transforms.append(transform)
        if Self.definitionElements.contains(name) { definitions += 1 }
        guard definitions == 0 else { return }
        func number(_ key: String) -> String { attributes[key] ?? "0" }
        switch name {
        case "path":
            if let d = attributes["d"], !d.trimmingCharacters(in: .whitespaces).isEmpty {
                shapes.append((parser.lineNumber, .path(d), transform))
            }
        case "polyline", "polygon":
            if let points = attributes["points"] { shapes.append((parser.lineNumber, .points(points, closed: name == "polygon"), transform)) }
        case "line":
            shapes.append((parser.lineNumber, .points("\(number("x1")) \(number("y1")) \(number("x2")) \(number("y2"))", closed: false), transform))
        default:
            break
        }
    }

    func parser(_ parser: XMLParser, didEndElement qualified: String, namespaceURI: String?, qualifiedName: String?) {
        let name = qualified.split(separator: ":").last.map(String.init) ?? qualified
        if !transforms.isEmpty { transforms.removeLast() }
        if Self.definitionElements.contains(name) { definitions -= 1 }
    }
}
