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
