import Foundation

/// A record in PhysioNet's WFDB format, as its databases ship (MIT-BIH, MIMIC waveforms, ...):
/// a header, `NAME.hea`, naming the record's signals and the binary files that hold them. Read
/// into physical units, (stored value - baseline) / gain, with the samples the format marks as
/// invalid read as NaN.
///
/// Read: single-segment records; the storage formats 8, 16, 24, 32, 61, 80, 160, 212, 310 and
/// 311; several signals to a file (interleaved); a byte offset before the samples, a skew, a
/// baseline, units and comments. Refused with the line at fault: multi-segment records, signals
/// stored at several samples per frame, FLAC formats (508, 516, 524), and files shorter than the
/// header says.
public struct WFDBRecord: Sendable {
    public struct Signal: Sendable {
        /// The description (`MLII`, `ABP`), or `signal N` when the header gives none.
        public var name: String
        public var units: String
        public var format: Int
        public var gain: Double
        public var baseline: Int
        /// Physical values, NaN where the stored value marks a missing sample.
        public var values: [Double]
    }

    public var name: String
    /// Samples per second (of each signal).
    public var frequency: Double
    public var signals: [Signal]
    public var sampleCount: Int { signals.first?.values.count ?? 0 }

    /// The formats read, with the bits of a sample.
    static let formats: Set<Int> = [8, 16, 24, 32, 61, 80, 160, 212, 310, 311]

    public init(contentsOf path: String) throws {
        let text = try TextFile.read(path)
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        func fail(_ line: Int, _ reason: String) -> RecurrentError { .invalidFile(path: path, reason: "line \(line): \(reason)") }

        var lines: [(number: Int, fields: [Substring], text: Substring)] = []
        // By Character: "\r\n" (headers written on Windows) is one, and a line break.
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            lines.append((index + 1, trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" }), Substring(trimmed)))
        }
        guard let recordLine = lines.first else { throw RecurrentError.invalidFile(path: path, reason: "is empty: no record line") }
        let recordFields = recordLine.fields
        let recordName = String(recordFields[0])
        if recordName.contains("/") {
            throw fail(recordLine.number, "\(recordName) is a multi-segment record; each segment is a record of its own: give one segment's header")
        }
        guard recordFields.count >= 2, let signalCount = Int(recordFields[1]), signalCount >= 1 else {
            throw fail(recordLine.number, "expected the record's name and its number of signals (at least 1), got \"\(recordLine.text)\"")
        }
        var frequency = 250.0
        if recordFields.count >= 3 {
            let spec = recordFields[2].prefix { $0 != "/" && $0 != "(" }
            guard let value = Double(spec), value > 0, value.isFinite else {
                throw fail(recordLine.number, "sampling frequency \"\(recordFields[2])\" is not a positive number")
            }
            frequency = value
        }
        var declaredSamples: Int? = nil
        if recordFields.count >= 4 {
            guard let count = Int(recordFields[3]), count >= 0 else {
                throw fail(recordLine.number, "number of samples \"\(recordFields[3])\" is not a whole number")
            }
            declaredSamples = count
        }
        let signalLines = lines.dropFirst().prefix(signalCount)
        guard signalLines.count == signalCount else {
            throw RecurrentError.invalidFile(path: path, reason: "the record line says \(signalCount) signals, but \(signalLines.count) signal lines follow")
        }

        struct Spec {
            var line: Int
            var file: String
            var format: Int
            var skew: Int
            var offset: Int
            var gain: Double
            var baseline: Int
            var units: String
            var initial: Int
            var name: String
        }
        var specs: [Spec] = []
        for (k, entry) in signalLines.enumerated() {
            let fields = entry.fields
            guard fields.count >= 2 else { throw fail(entry.number, "expected a file name and a format, got \"\(entry.text)\"") }
            let file = String(fields[0])
            if file == "-" { throw fail(entry.number, "the signal is read from standard input (\"-\"); give it a file") }
            // format[xsamples][:skew][+offset]
            var formatText = Substring(fields[1]), offset = 0, skew = 0, perFrame = 1
            if let plus = formatText.firstIndex(of: "+") {
                guard let value = Int(formatText[formatText.index(after: plus)...]), value >= 0 else {
                    throw fail(entry.number, "byte offset in \"\(fields[1])\" is not a whole number")
                }
                offset = value
                formatText = formatText[..<plus]
            }
            if let colon = formatText.firstIndex(of: ":") {
                guard let value = Int(formatText[formatText.index(after: colon)...]), value >= 0 else {
                    throw fail(entry.number, "skew in \"\(fields[1])\" is not a whole number")
                }
                skew = value
                formatText = formatText[..<colon]
            }
            if let x = formatText.firstIndex(of: "x") {
                guard let value = Int(formatText[formatText.index(after: x)...]), value >= 1 else {
                    throw fail(entry.number, "samples per frame in \"\(fields[1])\" is not a whole number")
                }
                perFrame = value
                formatText = formatText[..<x]
            }
            guard let format = Int(formatText) else { throw fail(entry.number, "format \"\(fields[1])\" is not a number") }
            if perFrame != 1 {
                throw fail(entry.number, "signal \(k + 1) is stored at \(perFrame) samples per frame (\(fields[1])); records of signals at several rates are not read")
            }
            guard Self.formats.contains(format) else {
                let known = Self.formats.sorted().map(String.init).joined(separator: ", ")
                throw fail(entry.number, "storage format \(format) is not read (\([508, 516, 524].contains(format) ? "FLAC; " : "")read: \(known))")
            }
            // gain[(baseline)][/units]
            var gain = 200.0, baseline: Int? = nil, units = "mV"
            if fields.count >= 3 {
                var gainText = Substring(fields[2])
                if let slash = gainText.firstIndex(of: "/") {
                    units = String(gainText[gainText.index(after: slash)...])
                    gainText = gainText[..<slash]
                }
                if let open = gainText.firstIndex(of: "("), gainText.hasSuffix(")") {
                    guard let value = Int(gainText[gainText.index(after: open)..<gainText.index(before: gainText.endIndex)]) else {
                        throw fail(entry.number, "baseline in \"\(fields[2])\" is not a whole number")
                    }
                    baseline = value
                    gainText = gainText[..<open]
                }
                guard let value = Double(gainText), value >= 0, value.isFinite else {
                    throw fail(entry.number, "gain \"\(gainText)\" in \"\(fields[2])\" is not a number 0 or more")
                }
                // A gain of 0 means "not calibrated": WFDB reads it as 200 units per millivolt.
                if value > 0 { gain = value }
            }
            func integer(_ index: Int, _ what: String) throws -> Int? {
                guard fields.count > index else { return nil }
                guard let value = Int(fields[index]) else { throw fail(entry.number, "\(what) \"\(fields[index])\" is not a whole number") }
                return value
            }
            _ = try integer(3, "ADC resolution")
            let zero = try integer(4, "ADC zero") ?? 0
            let initial = try integer(5, "initial value") ?? zero
            let description = fields.count > 8 ? fields[8...].joined(separator: " ") : ""
            specs.append(Spec(line: entry.number, file: file, format: format, skew: skew, offset: offset, gain: gain, baseline: baseline ?? zero,
                              units: units, initial: initial, name: description.isEmpty ? "signal \(k + 1)" : description))
        }

        // Signals stored in one file are consecutive lines of one format, interleaved sample by sample.
        var groups: [[Int]] = []
        for index in specs.indices {
            if let last = groups.last, specs[last[0]].file == specs[index].file { groups[groups.count - 1].append(index) } else { groups.append([index]) }
        }
        var raw = [[Int32]](repeating: [], count: specs.count)
        var samples = declaredSamples
        for group in groups {
            let first = specs[group[0]]
            if let other = group.first(where: { specs[$0].format != first.format || specs[$0].offset != first.offset }) {
                throw fail(specs[other].line, "signals of one file (\(first.file)) must share its format and byte offset")
            }
            let filePath = folder.appendingPathComponent(first.file).path
            guard let data = FileManager.default.contents(atPath: filePath) else {
                throw RecurrentError.io(path: filePath, reason: "cannot be read (the signal file \(path) names on line \(first.line))")
            }
            let bytes = [UInt8](data.dropFirst(first.offset))
            let perFrame = group.count
            let available = Self.sampleCount(bytes: bytes.count, format: first.format) / perFrame
            let frames = samples ?? available
            guard available >= frames else {
                throw RecurrentError.invalidFile(path: filePath, reason: "holds \(available) samples of each of its \(perFrame) signals; the header (\(path)) says \(frames)")
            }
            samples = frames
            let values = Self.decode(bytes, format: first.format, count: frames * perFrame, initials: group.map { specs[$0].initial })
            for (position, index) in group.enumerated() {
                raw[index] = stride(from: position, to: frames * perFrame, by: perFrame).map { values[$0] }
            }
        }

        name = recordName
        self.frequency = frequency
        var used: [String: Int] = [:]
        signals = specs.indices.map { index in
            let spec = specs[index]
            let invalid = Self.invalidValue(spec.format)
            var values = raw[index].map { $0 == invalid ? Double.nan : (Double($0) - Double(spec.baseline)) / spec.gain }
            if spec.skew > 0 {
                values = Array(values.dropFirst(spec.skew)) + Array(repeating: .nan, count: min(spec.skew, values.count))
            }
            used[spec.name, default: 0] += 1
            let name = used[spec.name, default: 1] > 1 ? "\(spec.name) (\(used[spec.name, default: 1]))" : spec.name
            return Signal(name: name, units: spec.units, format: spec.format, gain: spec.gain, baseline: spec.baseline, values: values)
        }
    }

    /// The signals as a table, a column each (named as `Signal.name`), a row per sample; a
    /// missing sample is an empty cell. With the record's reference annotations beside its header
    /// (`NAME.atr`), a last column `atr` marks its abnormal beats with 1
    /// (`WFDBAnnotations.abnormalBeatLabels`), for `--labels atr`. Messages name a sample
    /// (numbered from 0, as WFDB's tools number them) and a signal.
    public func table(path: String) throws -> CSVTable {
        var header = signals.map(\.name)
        var labels: [Int]? = nil
        let annotationPath = String(path.dropLast(4)) + ".atr"
        if FileManager.default.fileExists(atPath: annotationPath), !header.contains("atr") {
            labels = try WFDBAnnotations(contentsOf: annotationPath).abnormalBeatLabels(sampleCount: sampleCount)
            header.append("atr")
        }
        let rows = (0..<sampleCount).map { t in
            signals.map { $0.values[t].isNaN ? "" : "\($0.values[t])" } + (labels.map { [String($0[t])] } ?? [])
        }
        var table = try CSVTable(header: header, rows: rows, lineNumbers: Array(0..<sampleCount), path: path)
        table.rowName = "sample"
        table.columnName = "signal"
        return table
    }

    // MARK: - Storage formats

    /// How many samples `bytes` bytes hold in `format`.
    static func sampleCount(bytes: Int, format: Int) -> Int {
        switch format {
        case 8, 80: return bytes
        case 16, 61, 160: return bytes / 2
        case 24: return bytes / 3
        case 32: return bytes / 4
        case 212: return bytes * 2 / 3
        // A last, partial group of four bytes: 310's first sample needs two of them; 311's first
        // two, and its second three.
        case 310, 311: return bytes / 4 * 3 + (bytes % 4 >= 2 ? 1 : 0) + (bytes % 4 >= 3 && format == 311 ? 1 : 0)
        default: return 0
        }
    }

    /// The stored value that marks a missing sample (the format's smallest).
    static func invalidValue(_ format: Int) -> Int32 {
        switch format {
        case 16, 61, 160: return -32768
        case 80: return -128
        case 212: return -2048
        case 310, 311: return -512
        case 24: return -(1 << 23)
        case 32: return Int32.min
        default: return Int32.min  // 8: differences, no marker
        }
    }

    static func signExtend(_ value: Int32, bits: Int32) -> Int32 {
        let shift = 32 - bits
        return (value << shift) >> shift
    }

    /// The first `count` stored values of an interleaved stream (`initials`: each interleaved
    /// signal's first value, for the first differences of format 8).
    static func decode(_ b: [UInt8], format: Int, count: Int, initials: [Int]) -> [Int32] {
        var out = [Int32](repeating: 0, count: count)
        func word16(_ i: Int) -> Int32 { Int32(b[i]) | Int32(b[i + 1]) << 8 }
        switch format {
        case 8:
            var last = initials.map { Int32(truncatingIfNeeded: $0) }
            for i in 0..<count {
                let k = i % max(1, initials.count)
                last[k] &+= Int32(Int8(bitPattern: b[i]))
                out[i] = last[k]
            }
        case 16:
            for i in 0..<count { out[i] = Int32(Int16(bitPattern: UInt16(b[2 * i]) | UInt16(b[2 * i + 1]) << 8)) }
        case 61:
            for i in 0..<count { out[i] = Int32(Int16(bitPattern: UInt16(b[2 * i]) << 8 | UInt16(b[2 * i + 1]))) }
        case 80:
            for i in 0..<count { out[i] = Int32(b[i]) - 128 }
        case 160:
            for i in 0..<count { out[i] = (Int32(b[2 * i]) | Int32(b[2 * i + 1]) << 8) - 32768 }
        case 24:
            for i in 0..<count { out[i] = signExtend(Int32(b[3 * i]) | Int32(b[3 * i + 1]) << 8 | Int32(b[3 * i + 2]) << 16, bits: 24) }
        case 32:
            for i in 0..<count {
                out[i] = Int32(bitPattern: UInt32(b[4 * i]) | UInt32(b[4 * i + 1]) << 8 | UInt32(b[4 * i + 2]) << 16 | UInt32(b[4 * i + 3]) << 24)
            }
        case 212:
            // Two 12-bit samples in three bytes: the second byte's low half tops the first, its high half the second.
            for i in 0..<count {
                let base = (i / 2) * 3
                let value = i % 2 == 0 ? Int32(b[base]) | (Int32(b[base + 1]) & 0x0F) << 8 : Int32(b[base + 2]) | (Int32(b[base + 1]) & 0xF0) << 4
                out[i] = signExtend(value, bits: 12)
            }
        case 310:
            // Three 10-bit samples in two little-endian 16-bit words: bits 1-10 of each, then the
            // third from bits 11-15 of the first (low half) and of the second (high half).
            for i in 0..<count {
                let base = (i / 3) * 4
                let value: Int32
                switch i % 3 {
                case 0: value = (word16(base) >> 1) & 0x3FF
                case 1: value = (word16(base + 2) >> 1) & 0x3FF
                default: value = (word16(base) >> 11) & 0x1F | ((word16(base + 2) >> 11) & 0x1F) << 5
                }
                out[i] = signExtend(value, bits: 10)
            }
        case 311:
            // Three 10-bit samples in one little-endian 32-bit word, from the low bits up.
            for i in 0..<count {
                let base = (i / 3) * 4
                var word: UInt32 = 0
                for j in 0..<4 where base + j < b.count { word |= UInt32(b[base + j]) << (8 * UInt32(j)) }
                out[i] = signExtend(Int32(bitPattern: (word >> (10 * UInt32(i % 3))) & 0x3FF), bits: 10)
            }
        default:
            break
        }
        return out
    }
}
