import Foundation

/// Charts as standalone SVG: line charts with several series and labelled axes, and heat maps,
/// stacked as panels in one file. Written atomically.
///
///     var chart = LineChart(title: "Loss", xLabel: "epoch", yLabel: "MSE")
///     chart.add(LineChart.Series(name: "train", x: [1, 2, 3], y: [0.9, 0.5, 0.4]))
///     try SVGDocument(panels: [.line(chart)]).write(to: "loss.svg")
public struct SVGDocument {
    public enum Panel {
        case line(LineChart)
        case heatMap(HeatMap)
    }

    public var panels: [Panel]
    public var width: Double = 900
    public var panelHeight: Double = 380
    /// Panels side by side in each row (a grid of small charts); the width is shared among them.
    public var columns: Int = 1

    public init(panels: [Panel], columns: Int = 1) {
        self.panels = panels
        self.columns = max(1, columns)
    }

    public func render() -> String {
        let rows = (panels.count + columns - 1) / columns, panelWidth = width / Double(columns)
        let height = panelHeight * Double(rows)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
            + "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        for (index, panel) in panels.enumerated() {
            let frame = SVGFrame(x: Double(index % columns) * panelWidth, y: Double(index / columns) * panelHeight,
                                 width: panelWidth, height: panelHeight)
            switch panel {
            case .line(let chart): svg += chart.render(in: frame)
            case .heatMap(let map): svg += map.render(in: frame)
            }
        }
        return svg + "</svg>\n"
    }

    public func write(to path: String) throws { try AtomicFile.write(Data(render().utf8), to: path) }
}

struct SVGFrame {
    var x: Double, y: Double, width: Double, height: Double
    // The plotting area inside the margins for title, ticks and labels.
    var plotLeft: Double { x + 70 }
    var plotRight: Double { x + width - 20 }
    var plotTop: Double { y + 36 }
    var plotBottom: Double { y + height - 48 }
}

/// Several series over shared axes; a series may be dashed and x may be dates as decimal years.
public struct LineChart {
    public struct Series {
        public var name: String
        public var x: [Double]
        public var y: [Double]
        public var color: String?
        public var dashed: Bool
        /// A dot on every point, so that a series of few points (or one) shows.
        public var markers: Bool
        public init(name: String, x: [Double], y: [Double], color: String? = nil, dashed: Bool = false, markers: Bool = false) {
            self.name = name; self.x = x; self.y = y; self.color = color; self.dashed = dashed; self.markers = markers
        }
    }

    /// A filled band between two curves over the same x: a prediction interval.
    public struct Band {
        public var name: String
        public var x: [Double]
        public var low: [Double]
        public var high: [Double]
        public var color: String
        public var opacity: Double
        public init(name: String, x: [Double], low: [Double], high: [Double], color: String = "#1f77b4", opacity: Double = 0.2) {
            self.name = name; self.x = x; self.low = low; self.high = high; self.color = color; self.opacity = opacity
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series] = []
    /// Drawn beneath the series.
    public var bands: [Band] = []
    /// A logarithmic y axis (values <= 0 are left out).
    public var logarithmicY = false
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]

    public init(title: String, xLabel: String, yLabel: String, series: [Series] = [], logarithmicY: Bool = false) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series; self.logarithmicY = logarithmicY
    }

    public mutating func add(_ line: Series) { series.append(line) }

    func render(in frame: SVGFrame) -> String {
        let mapY: (Double) -> Double = logarithmicY ? { log10($0) } : { $0 }
        let points = series.map { line in zip(line.x, line.y).filter { $0.0.isFinite && $0.1.isFinite && (!logarithmicY || $0.1 > 0) } }
        let bandPoints = bands.map { band in zip(band.x, zip(band.low, band.high)).filter { $0.0.isFinite && $0.1.0.isFinite && $0.1.1.isFinite } }
        let xs = points.flatMap { $0.map(\.0) } + bandPoints.flatMap { $0.map(\.0) }
        let ys = points.flatMap { $0.map { mapY($0.1) } } + (logarithmicY ? [] : bandPoints.flatMap { $0.flatMap { [$0.1.0, $0.1.1] } })
        var svg = "<text x=\"\(frame.x + frame.width / 2)\" y=\"\(frame.y + 22)\" text-anchor=\"middle\" font-size=\"15\">\(escapeXML(title))</text>\n"
        guard let xMin = xs.min(), let xMax = xs.max(), let yMin = ys.min(), let yMax = ys.max() else { return svg }
        var xScale = AxisScale(low: xMin, high: xMax, from: frame.plotLeft, to: frame.plotRight)
        // Epochs, steps and counts: no tick between two whole numbers.
        xScale.wholeNumbers = xs.allSatisfy { $0 == $0.rounded() }
        let yScale = AxisScale(low: yMin, high: yMax, from: frame.plotBottom, to: frame.plotTop)
        svg += axes(frame, xScale, yScale)
        for (band, points) in zip(bands, bandPoints) where !logarithmicY {
            let outline = points.map { ($0.0, $0.1.1) } + points.reversed().map { ($0.0, $0.1.0) }
            let path = outline.map { String(format: "%.1f,%.1f", xScale.position($0.0), yScale.position($0.1)) }.joined(separator: " ")
            svg += "<polygon class=\"band\" fill=\"\(band.color)\" fill-opacity=\"\(band.opacity)\" stroke=\"none\" points=\"\(path)\"/>\n"
        }
        for (index, line) in series.enumerated() {
            let color = line.color ?? Self.palette[index % Self.palette.count]
            let path = points[index].map { String(format: "%.1f,%.1f", xScale.position($0.0), yScale.position(mapY($0.1))) }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\"\(line.dashed ? " stroke-dasharray=\"5,3\"" : "") points=\"\(path)\"/>\n"
            if line.markers {
                svg += points[index].map { String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%@\"/>", xScale.position($0.0), yScale.position(mapY($0.1)), color) }
                    .joined() + "\n"
            }
        }
        // The legend goes in the corner of the plot that the lines cross least, on a white box.
        let pixels = points.flatMap { line in
            tracing(line.map { (xScale.position($0.0), yScale.position(mapY($0.1))) })
        }
        let box = legendBox(in: frame, avoiding: pixels)
        svg += String(format: "<rect class=\"legend\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#ddd\"/>\n",
                      box.x, box.y, box.width, box.height)
        for (index, line) in series.enumerated() {
            let color = line.color ?? Self.palette[index % Self.palette.count]
            let legendY = box.y + 12 + Double(index) * 16
            svg += "<line x1=\"\(box.x + 6)\" y1=\"\(legendY)\" x2=\"\(box.x + 30)\" y2=\"\(legendY)\" stroke=\"\(color)\" "
                + "stroke-width=\"2\"\(line.dashed ? " stroke-dasharray=\"5,3\"" : "")/>"
                + "<text x=\"\(box.x + 36)\" y=\"\(legendY + 4)\">\(escapeXML(line.name))</text>\n"
        }
        for (index, band) in bands.enumerated() where !logarithmicY {
            let legendY = box.y + 12 + Double(series.count + index) * 16
            svg += "<rect x=\"\(box.x + 6)\" y=\"\(legendY - 5)\" width=\"24\" height=\"10\" fill=\"\(band.color)\" fill-opacity=\"\(band.opacity)\"/>"
                + "<text x=\"\(box.x + 36)\" y=\"\(legendY + 4)\">\(escapeXML(band.name))</text>\n"
        }
        return svg
    }

    /// The points of a polyline every few pixels along it, not only its corners.
    func tracing(_ corners: [(Double, Double)]) -> [(Double, Double)] {
        guard var previous = corners.first else { return [] }
        var traced = [previous]
        for point in corners.dropFirst() {
            let pieces = min(200, max(1, Int(hypot(point.0 - previous.0, point.1 - previous.1) / 4)))
            for k in 1...pieces {
                let f = Double(k) / Double(pieces)
                traced.append((previous.0 + f * (point.0 - previous.0), previous.1 + f * (point.1 - previous.1)))
            }
            previous = point
        }
        return traced
    }

    /// The legend's box: in whichever corner of the plot holds the fewest of the drawn points.
    func legendBox(in frame: SVGFrame, avoiding pixels: [(Double, Double)]) -> SVGFrame {
        let longestName = (series.map(\.name.count) + bands.map(\.name.count)).max() ?? 0
        let width = 44 + 7 * Double(longestName), height = 8 + 16 * Double(series.count + bands.count)
        let corners = [(frame.plotLeft + 6, frame.plotTop + 6), (frame.plotRight - 6 - width, frame.plotTop + 6),
                       (frame.plotLeft + 6, frame.plotBottom - 6 - height), (frame.plotRight - 6 - width, frame.plotBottom - 6 - height)]
        let covered = corners.map { corner in
            pixels.filter { $0.0 >= corner.0 - 4 && $0.0 <= corner.0 + width + 4 && $0.1 >= corner.1 - 4 && $0.1 <= corner.1 + height + 4 }.count
        }
        let best = covered.indices.min { covered[$0] < covered[$1] } ?? 0
        return SVGFrame(x: corners[best].0, y: corners[best].1, width: width, height: height)
    }

    func axes(_ frame: SVGFrame, _ xScale: AxisScale, _ yScale: AxisScale) -> String {
        var svg = "<rect x=\"\(frame.plotLeft)\" y=\"\(frame.plotTop)\" width=\"\(frame.plotRight - frame.plotLeft)\" "
            + "height=\"\(frame.plotBottom - frame.plotTop)\" fill=\"none\" stroke=\"#888\"/>\n"
        let xTicks = xScale.ticks()
        for tick in xTicks.values {
            let x = xScale.position(tick)
            svg += "<line x1=\"\(x)\" y1=\"\(frame.plotBottom)\" x2=\"\(x)\" y2=\"\(frame.plotBottom + 5)\" stroke=\"#888\"/>"
                + "<text x=\"\(x)\" y=\"\(frame.plotBottom + 18)\" text-anchor=\"middle\">\(tickLabel(tick, decimals: xTicks.decimals))</text>\n"
        }
        let yTicks = yScale.ticks()
        let yLabels = logarithmicY ? yScale.logarithmicTicks().map { ($0, tickLabel(pow(10, $0))) }
                                   : yTicks.values.map { ($0, tickLabel($0, decimals: yTicks.decimals)) }
        for (tick, label) in yLabels {
            let y = yScale.position(tick)
            svg += "<line x1=\"\(frame.plotLeft)\" y1=\"\(y)\" x2=\"\(frame.plotRight)\" y2=\"\(y)\" stroke=\"#eee\"/>"
                + "<text x=\"\(frame.plotLeft - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(label)</text>\n"
        }
        svg += "<text x=\"\((frame.plotLeft + frame.plotRight) / 2)\" y=\"\(frame.plotBottom + 38)\" text-anchor=\"middle\">\(escapeXML(xLabel))</text>\n"
        let middle = (frame.plotTop + frame.plotBottom) / 2
        svg += "<text x=\"\(frame.x + 16)\" y=\"\(middle)\" text-anchor=\"middle\" transform=\"rotate(-90 \(frame.x + 16) \(middle))\">\(escapeXML(yLabel))</text>\n"
        return svg
    }
}

/// A grid of values drawn as coloured cells (white to dark blue), with a scale.
public struct HeatMap {
    public var title: String
    /// [row][column]
    public var values: [[Double]]
    public var rowLabels: [String]
    public var columnLabels: [String]

    public init(title: String, values: [[Double]], rowLabels: [String] = [], columnLabels: [String] = []) {
        self.title = title; self.values = values; self.rowLabels = rowLabels; self.columnLabels = columnLabels
    }

    func render(in frame: SVGFrame) -> String {
        var svg = "<text x=\"\(frame.x + frame.width / 2)\" y=\"\(frame.y + 22)\" text-anchor=\"middle\" font-size=\"15\">\(escapeXML(title))</text>\n"
        let finite = values.flatMap { $0 }.filter(\.isFinite)
        guard let low = finite.min(), let high = finite.max(), let columns = values.map(\.count).max(), columns > 0 else { return svg }
        let cellWidth = (frame.plotRight - 100 - frame.plotLeft) / Double(columns)
        let cellHeight = (frame.plotBottom - frame.plotTop) / Double(values.count)
        func color(_ value: Double) -> String {
            let t = high > low ? (value - low) / (high - low) : 0.5
            let (r, g, b) = (255 - t * 247, 255 - t * 207, 255 - t * 148)
            return value.isFinite ? String(format: "rgb(%d,%d,%d)", Int(r), Int(g), Int(b)) : "#ccc"
        }
        for (row, rowValues) in values.enumerated() {
            for (column, value) in rowValues.enumerated() {
                svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.2f\" ",
                              frame.plotLeft + Double(column) * cellWidth, frame.plotTop + Double(row) * cellHeight,
                              cellWidth + 0.3, cellHeight + 0.3) + "fill=\"\(color(value))\"/>"
            }
            if row < rowLabels.count {
                svg += "<text x=\"\(frame.plotLeft - 6)\" y=\"\(frame.plotTop + (Double(row) + 0.5) * cellHeight + 4)\" text-anchor=\"end\">\(escapeXML(rowLabels[row]))</text>"
            }
            svg += "\n"
        }
        let labelEvery = max(1, columnLabels.count / 20)
        for (column, label) in columnLabels.enumerated() where column % labelEvery == 0 {
            svg += "<text x=\"\(frame.plotLeft + (Double(column) + 0.5) * cellWidth)\" y=\"\(frame.plotBottom + 16)\" text-anchor=\"middle\">\(escapeXML(label))</text>"
        }
        let barLeft = frame.plotRight - 80
        for k in 0..<20 {
            let t = Double(k) / 19
            let y = frame.plotBottom - Double(k + 1) * (frame.plotBottom - frame.plotTop) / 20
            svg += "<rect x=\"\(barLeft)\" y=\"\(y)\" width=\"14\" height=\"\((frame.plotBottom - frame.plotTop) / 20 + 0.5)\" fill=\"\(color(low + t * (high - low)))\"/>"
        }
        svg += "<text x=\"\(barLeft + 18)\" y=\"\(frame.plotTop + 10)\">\(tickLabel(high))</text>"
            + "<text x=\"\(barLeft + 18)\" y=\"\(frame.plotBottom)\">\(tickLabel(low))</text>\n"
        return svg
    }
}

/// A linear map from data to pixels, with round tick values.
struct AxisScale {
    var low: Double, high: Double, from: Double, to: Double
    /// Ticks only at whole numbers (the data are whole numbers).
    var wholeNumbers = false

    init(low: Double, high: Double, from: Double, to: Double) {
        let pad = high > low ? (high - low) * 0.03 : max(abs(low) * 0.1, 1)
        self.low = low - pad; self.high = high + pad; self.from = from; self.to = to
    }

    func position(_ value: Double) -> Double { from + (value - low) / (high - low) * (to - from) }

    /// Round values across the axis, and the decimals their labels need.
    func ticks(target: Int = 6) -> (values: [Double], decimals: Int) {
        let raw = (high - low) / Double(target)
        guard raw > 0, raw.isFinite else { return ([low], 2) }
        let magnitude = pow(10, floor(log10(raw)))
        let multiple = [1.0, 2, 2.5, 5, 10].first { $0 * magnitude >= raw } ?? 10
        if wholeNumbers && multiple * magnitude < 1 || wholeNumbers && multiple == 2.5 && magnitude < 10 {
            // 1, 2 or 5 (times 10^k) whole numbers apart instead of fractions or 2.5.
            let step = max(1, multiple == 2.5 ? 2 * magnitude : (multiple * magnitude).rounded())
            let first = ceil(low / step) * step
            return (stride(from: first, through: high, by: step).map { $0 }, 0)
        }
        let step = multiple * magnitude
        let decimals = max(0, -Int(floor(log10(step))) + (multiple == 2.5 ? 1 : 0))
        let first = ceil(low / step) * step
        return (stride(from: first, through: high, by: step).map { $0 }, decimals)
    }

    /// Ticks of a logarithmic axis whose values are log10 of the data: 1, 2 and 5 times powers of ten.
    func logarithmicTicks() -> [Double] {
        let decades = Int(floor(low))...Int(ceil(high))
        for multiples in [[1.0], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]] {
            let ticks = decades.flatMap { d in multiples.map { log10($0) + Double(d) } }.filter { $0 >= low && $0 <= high }
            if ticks.count >= 3 || multiples.count == 9 { return ticks }
        }
        return []
    }
}

func tickLabel(_ signedValue: Double, decimals: Int? = nil) -> String {
    let value = abs(signedValue) < 1e-12 ? 0 : signedValue  // no "-0"
    if let decimals, abs(value) < 1e7 { return String(format: "%.\(min(decimals, 8))f", value) }
    if value == value.rounded(), abs(value) < 1e7 { return String(Int(value)) }
    return abs(value) >= 0.001 && abs(value) < 1e5 ? String(format: "%.3g", value) : String(format: "%.2e", value)
}

func escapeXML(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        .replacingOccurrences(of: "\"", with: "&quot;")
}
