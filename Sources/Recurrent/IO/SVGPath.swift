import Foundation

/// A point of a drawing, in the SVG's own units (x to the right, y downwards).
public struct DrawingPoint: Equatable, Sendable {
    public var x: Double
    public var y: Double
    public init(x: Double, y: Double) { self.x = x; self.y = y }
}

/// The outline of an SVG path's `d` attribute as polylines, one per subpath: lines kept as
/// their end points, cubic and quadratic Bézier curves sampled at `samplesPerCurve` points,
/// arcs drawn as a line to their end point. Commands: M L H V C S Q T A Z, absolute and
/// relative, with implicit repetition (`M 1,2 3,4` draws a line).
public enum SVGPath {
    public static func polylines(_ d: String, samplesPerCurve: Int = 8) throws -> [[DrawingPoint]] {
        let tokens = try tokenize(d)
        var lines: [[DrawingPoint]] = [], current: [DrawingPoint] = []
        var point = DrawingPoint(x: 0, y: 0), start = point
        var lastControl: DrawingPoint? = nil, lastCommand: Character = " "
        var index = 0
        var command: Character = " "
        func number() throws -> Double {
            guard index < tokens.count, case .number(let value) = tokens[index] else {
                throw RecurrentError.invalidArgument("path data \"\(d.prefix(40))\": command \(command) is missing a number")
            }
            index += 1
            return value
        }
        func pair(relative: Bool) throws -> DrawingPoint {
            let x = try number(), y = try number()
            return relative ? DrawingPoint(x: point.x + x, y: point.y + y) : DrawingPoint(x: x, y: y)
        }
        func curve(_ controls: [DrawingPoint], to end: DrawingPoint) {
            let p = [point] + controls + [end]
            for k in 1...max(1, samplesPerCurve) {
                let t = Double(k) / Double(max(1, samplesPerCurve)), u = 1 - t
                let q = p.count == 4
                    ? DrawingPoint(x: u * u * u * p[0].x + 3 * u * u * t * p[1].x + 3 * u * t * t * p[2].x + t * t * t * p[3].x,
                                   y: u * u * u * p[0].y + 3 * u * u * t * p[1].y + 3 * u * t * t * p[2].y + t * t * t * p[3].y)
                    : DrawingPoint(x: u * u * p[0].x + 2 * u * t * p[1].x + t * t * p[2].x, y: u * u * p[0].y + 2 * u * t * p[1].y + t * t * p[2].y)
                current.append(q)
            }
        }
        while index < tokens.count {
            if case .command(let letter) = tokens[index] {
                command = letter
                index += 1
            } else if command == " " {
                throw RecurrentError.invalidArgument("path data \"\(d.prefix(40))\" does not start with a command")
            }
            let relative = command.isLowercase
            var control: DrawingPoint? = nil
            switch Character(command.uppercased()) {
            case "M":
                if current.count > 1 { lines.append(current) }
                point = try pair(relative: relative)
                start = point
                current = [point]
                command = relative ? "l" : "L"  // further pairs draw lines
            case "L":
                point = try pair(relative: relative); current.append(point)
            case "H":
                let x = try number(); point = DrawingPoint(x: relative ? point.x + x : x, y: point.y); current.append(point)
            case "V":
                let y = try number(); point = DrawingPoint(x: point.x, y: relative ? point.y + y : y); current.append(point)
            case "C":
                let c1 = try pair(relative: relative), c2 = try pair(relative: relative), end = try pair(relative: relative)
                curve([c1, c2], to: end); point = end; control = c2
            case "S":
                let reflected = "CcSs".contains(lastCommand) ? DrawingPoint(x: 2 * point.x - (lastControl?.x ?? point.x), y: 2 * point.y - (lastControl?.y ?? point.y)) : point
                let c2 = try pair(relative: relative), end = try pair(relative: relative)
                curve([reflected, c2], to: end); point = end; control = c2
            case "Q":
                let c = try pair(relative: relative), end = try pair(relative: relative)
                curve([c], to: end); point = end; control = c
            case "T":
                let reflected = "QqTt".contains(lastCommand) ? DrawingPoint(x: 2 * point.x - (lastControl?.x ?? point.x), y: 2 * point.y - (lastControl?.y ?? point.y)) : point
                let end = try pair(relative: relative)
                curve([reflected], to: end); point = end; control = reflected
            case "A":
                for _ in 0..<5 { _ = try number() }
                point = try pair(relative: relative); current.append(point)
            case "Z":
                point = start; current.append(point)
            default:
                throw RecurrentError.invalidArgument("path data \"\(d.prefix(40))\": unknown command \(command)")
            }
            lastControl = control
            lastCommand = command
        }
        if current.count > 1 { lines.append(current) }
        return lines
    }

    enum Token { case command(Character), number(Double) }

    /// Commands and numbers; numbers may run together ("-1.5-2", "0.5.5", "1e-3").
    static func tokenize(_ d: String) throws -> [Token] {
        var tokens: [Token] = []
        let chars = Array(d.utf8)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == 32 || c == 44 || c == 9 || c == 10 || c == 13 { i += 1; continue }
            if let scalar = Unicode.Scalar(UInt32(c)), "MmLlHhVvCcSsQqTtAaZz".unicodeScalars.contains(scalar) {
                tokens.append(.command(Character(scalar)))
                i += 1
                continue
            }
            let start = i
            if c == 43 || c == 45 { i += 1 }  // + -
            var sawDot = false, sawDigit = false
            while i < chars.count, (chars[i] >= 48 && chars[i] <= 57) || (chars[i] == 46 && !sawDot) {
                if chars[i] == 46 { sawDot = true } else { sawDigit = true }
                i += 1
            }
            if sawDigit, i < chars.count, chars[i] == 101 || chars[i] == 69 {  // e E
                var j = i + 1
                if j < chars.count, chars[j] == 43 || chars[j] == 45 { j += 1 }
                if j < chars.count, chars[j] >= 48 && chars[j] <= 57 {
                    i = j
                    while i < chars.count, chars[i] >= 48 && chars[i] <= 57 { i += 1 }
                }
            }
            guard sawDigit, let value = Double(String(decoding: chars[start..<i], as: UTF8.self)) else {
                throw RecurrentError.invalidArgument("path data \"\(d.prefix(40))\": unreadable at character \(start + 1)")
            }
            tokens.append(.number(value))
        }
        return tokens
    }

    /// Ramer-Douglas-Peucker: the fewest points of `line` that stay within `epsilon` of it
    /// (sketch-rnn simplified its strokes this way). The ends are always kept.
    public static func simplified(_ line: [DrawingPoint], epsilon: Double) -> [DrawingPoint] {
        guard line.count > 2 else { return line }
        var keep = [Bool](repeating: false, count: line.count)
        keep[0] = true
        keep[line.count - 1] = true
        var stack = [(0, line.count - 1)]
        while let (first, last) = stack.popLast() {
            guard last > first + 1 else { continue }
            let a = line[first], b = line[last]
            let dx = b.x - a.x, dy = b.y - a.y, length = (dx * dx + dy * dy).squareRoot()
            var farthest = first, distance = -1.0
            for k in (first + 1)..<last {
                let p = line[k]
                let d = length > 0 ? abs(dy * p.x - dx * p.y + b.x * a.y - b.y * a.x) / length
                    : ((p.x - a.x) * (p.x - a.x) + (p.y - a.y) * (p.y - a.y)).squareRoot()
                if d > distance { distance = d; farthest = k }
            }
            if distance > epsilon {
                keep[farthest] = true
                stack.append((first, farthest))
                stack.append((farthest, last))
            }
        }
        return line.indices.filter { keep[$0] }.map { line[$0] }
    }
}

/// An SVG `transform` (SVG 1.1, 7.6): `matrix(a b c d e f)`, `translate(x [y])`, `scale(x [y])`,
/// `rotate(deg [cx cy])`, `skewX(deg)`, `skewY(deg)`, several in a list applied right to left;
/// as an affine map x' = a x + c y + e, y' = b x + d y + f.
public struct SVGTransform: Equatable, Sendable {
    public var a = 1.0, b = 0.0, c = 0.0, d = 1.0, e = 0.0, f = 0.0
    public static let identity = SVGTransform()

    public init(a: Double = 1, b: Double = 0, c: Double = 0, d: Double = 1, e: Double = 0, f: Double = 0) {
        (self.a, self.b, self.c, self.d, self.e, self.f) = (a, b, c, d, e, f)
    }

    /// This map after `inner`: a point goes through `inner` first.
    public func after(_ inner: SVGTransform) -> SVGTransform {
        SVGTransform(a: a * inner.a + c * inner.b, b: b * inner.a + d * inner.b,
                     c: a * inner.c + c * inner.d, d: b * inner.c + d * inner.d,
                     e: a * inner.e + c * inner.f + e, f: b * inner.e + d * inner.f + f)
    }

    public func apply(_ p: DrawingPoint) -> DrawingPoint {
        DrawingPoint(x: a * p.x + c * p.y + e, y: b * p.x + d * p.y + f)
    }

    /// Reads a `transform` attribute; an unknown function or a wrong count of numbers is an error
    /// naming it.
    public init(parsing text: String) throws {
        var result = SVGTransform.identity
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "(") {
            let name = rest[..<open].trimmingCharacters(in: CharacterSet(charactersIn: " \t\n\r,"))
            guard let close = rest[open...].firstIndex(of: ")") else {
                throw RecurrentError.invalidArgument("transform \"\(text.prefix(60))\": \(name)( is not closed")
            }
            let numbers = try SVGPath.tokenize(String(rest[rest.index(after: open)..<close])).map { token -> Double in
                guard case .number(let value) = token else {
                    throw RecurrentError.invalidArgument("transform \"\(text.prefix(60))\": \(name)(...) holds something other than numbers")
                }
                return value
            }
            func need(_ counts: Set<Int>) throws {
                guard counts.contains(numbers.count) else {
                    throw RecurrentError.invalidArgument("transform \"\(text.prefix(60))\": \(name) takes \(counts.sorted().map(String.init).joined(separator: " or ")) numbers, not \(numbers.count)")
                }
            }
            let step: SVGTransform
            switch name {
            case "matrix":
                try need([6])
                step = SVGTransform(a: numbers[0], b: numbers[1], c: numbers[2], d: numbers[3], e: numbers[4], f: numbers[5])
            case "translate":
                try need([1, 2])
                step = SVGTransform(e: numbers[0], f: numbers.count > 1 ? numbers[1] : 0)
            case "scale":
                try need([1, 2])
                step = SVGTransform(a: numbers[0], d: numbers.count > 1 ? numbers[1] : numbers[0])
            case "rotate":
                try need([1, 3])
                let angle = numbers[0] * .pi / 180, (cosine, sine) = (cos(angle), sin(angle))
                let turn = SVGTransform(a: cosine, b: sine, c: -sine, d: cosine)
                step = numbers.count == 3
                    ? SVGTransform(e: numbers[1], f: numbers[2]).after(turn).after(SVGTransform(e: -numbers[1], f: -numbers[2])) : turn
            case "skewX":
                try need([1])
                step = SVGTransform(c: tan(numbers[0] * .pi / 180))
            case "skewY":
                try need([1])
                step = SVGTransform(b: tan(numbers[0] * .pi / 180))
            default:
                throw RecurrentError.invalidArgument("transform \"\(text.prefix(60))\": unknown function \"\(name)\"")
            }
            result = result.after(step)
            rest = rest[rest.index(after: close)...]
        }
        guard rest.allSatisfy({ $0 == " " || $0 == "," || $0.isNewline || $0 == "\t" }) else {
            throw RecurrentError.invalidArgument("transform \"\(text.prefix(60))\": unreadable \"\(rest.prefix(20))\"")
        }
        self = result
    }
}

extension SVGPath {
    /// The points of a `<polyline>` or `<polygon>`'s `points` (pairs of numbers), the first
    /// repeated at the end for a polygon.
    public static func points(_ text: String, closed: Bool) throws -> [DrawingPoint] {
        let numbers = try tokenize(text).map { token -> Double in
            guard case .number(let value) = token else { throw RecurrentError.invalidArgument("points \"\(text.prefix(40))\": not a list of numbers") }
            return value
        }
        guard numbers.count % 2 == 0 else { throw RecurrentError.invalidArgument("points \"\(text.prefix(40))\": an odd count of numbers (\(numbers.count))") }
        var points = stride(from: 0, to: numbers.count, by: 2).map { DrawingPoint(x: numbers[$0], y: numbers[$0 + 1]) }
        if closed, let first = points.first, points.count > 1 { points.append(first) }
        return points
    }
}
