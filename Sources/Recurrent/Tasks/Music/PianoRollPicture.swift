import Foundation

/// Piano rolls drawn as SVG, one panel each: time runs to the right, pitch upwards, a bar
/// drawn per note; the C of every octave is labelled and a line marks every `stepsPerBar` steps.
public struct PianoRollPicture {
    public var rolls: [PianoRoll]
    public var titles: [String]
    public var stepsPerBar: Int

    public init(rolls: [PianoRoll], titles: [String], stepsPerBar: Int = 8) {
        self.rolls = rolls
        self.titles = titles
        self.stepsPerBar = max(1, stepsPerBar)
    }

    public func render() -> String {
        let width = 900.0, left = 44.0, right = 12.0, panelHeight = 260.0, top = 26.0, bottom = 16.0
        var body = ""
        for (index, roll) in rolls.enumerated() {
            let notes = roll.notes()
            let low = max(PianoRoll.lowestPitch, (notes.map(\.pitch).min() ?? 60) - 2)
            let high = min(PianoRoll.lowestPitch + PianoRoll.pitchCount - 1, (notes.map(\.pitch).max() ?? 72) + 2)
            let y0 = Double(index) * panelHeight
            let plotHeight = panelHeight - top - bottom, rowHeight = plotHeight / Double(high - low + 1)
            let stepWidth = (width - left - right) / Double(max(roll.steps.count, 1))
            let stepInWholes = roll.stepLength / Fraction(4)
            func y(_ pitch: Int) -> Double { y0 + top + Double(high - pitch) * rowHeight }
            let title = index < titles.count ? titles[index] : ""
            body += "<text x=\"\(left)\" y=\"\(y0 + 17)\" font-size=\"13\" font-family=\"sans-serif\">\(Self.escaped(title))</text>\n"
            body += "<rect x=\"\(left)\" y=\"\(y0 + top)\" width=\"\(width - left - right)\" height=\"\(plotHeight)\" fill=\"#fbfbf8\" stroke=\"#999\"/>\n"
            for pitch in low...high where pitch % 12 == 0 {
                body += "<line x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(f(y(pitch) + rowHeight))\" y2=\"\(f(y(pitch) + rowHeight))\" stroke=\"#ddd\"/>\n"
                body += "<text x=\"\(left - 4)\" y=\"\(f(y(pitch) + rowHeight))\" font-size=\"10\" text-anchor=\"end\" font-family=\"sans-serif\">C\(pitch / 12 - 1)</text>\n"
            }
            for step in stride(from: 0, through: roll.steps.count, by: stepsPerBar) {
                let x = left + Double(step) * stepWidth
                body += "<line x1=\"\(f(x))\" x2=\"\(f(x))\" y1=\"\(y0 + top)\" y2=\"\(y0 + top + plotHeight)\" stroke=\"#ccc\"/>\n"
            }
            for note in notes {
                let x = left + (note.start / stepInWholes).doubleValue * stepWidth
                let w = (note.length / stepInWholes).doubleValue * stepWidth
                body += "<rect x=\"\(f(x + 0.5))\" y=\"\(f(y(note.pitch) + 0.5))\" width=\"\(f(max(w - 1, 1)))\" height=\"\(f(max(rowHeight - 1, 1)))\" fill=\"#3465a4\"/>\n"
            }
        }
        let height = Double(rolls.count) * panelHeight
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\">\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n" + body + "</svg>\n"
    }

    public func write(to path: String) throws { try AtomicFile.write(Data(render().utf8), to: path) }

    private func f(_ value: Double) -> String { String(format: "%.1f", value) }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
