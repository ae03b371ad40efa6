import Foundation

/// A file of the UEA/UCR time-series classification archives in sktime's and aeon's `.ts`
/// format: `#` comments, a header of `@tag value` lines (`@problemName`, `@timeStamps`,
/// `@missing`, `@univariate`, `@dimensions`, `@equalLength`, `@seriesLength`, `@classLabel true
/// A B C`, `@targetLabel`), then after `@data` one case per line: the channels separated by `:`,
/// the values of a channel by `,`, and the class label last.
///
/// Missing values (`?` or `NaN`) are filled: steps missing in every channel at the end of a case
/// are the padding of a shorter case and are cut off (its length is kept, not padded); any other
/// gap is filled linearly from its neighbours in the same channel (at an end, the nearest value).
public struct TSFile: Sendable {
    public let path: String
    public var problemName: String?
    /// Channels per step (`@dimensions`, or the first case's count).
    public var dimensions: Int
    public var equalLength: Bool
    /// The class labels the header declares, in its order; nil without class labels.
    public var classLabels: [String]?
    /// The cases: channels named "1", "2", ...; labels empty when the file has none; each
    /// case's line.
    public var sequences: MultichannelSequences

    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw RecurrentError.io(path: path, reason: "no such file") }
        let text = try TextFile.read(path)
        try self.init(text: text, path: path)
    }

    /// Parses `.ts` text; `path` is only used in error messages.
    public init(text: String, path: String = "<text>") throws {
        self.path = path
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var header = Header()
        var dataStart: Int? = nil
        for (index, raw) in lines.enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if try header.read(line, lineNumber: index + 1, path: path) { dataStart = index + 1; break }
        }
        guard let dataStart else {
            throw RecurrentError.invalidFile(path: path, reason: "no @data line: the header must end with @data before the cases")
        }
        problemName = header.problemName
        equalLength = header.equalLength
        classLabels = header.classLabel ? header.classValues : nil
        dimensions = header.dimensions ?? 0
        sequences = MultichannelSequences(path: path, channels: [])
        for index in dataStart..<lines.count {
            let line = lines[index].trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            try readCase(line, lineNumber: index + 1, header: header)
        }
        guard sequences.count > 0 else { throw RecurrentError.invalidFile(path: path, reason: "has a header but no cases after @data") }
        sequences.channels = (0..<dimensions).map { String($0 + 1) }
    }

    /// One data line: its channels, missing values filled, and its label.
    private mutating func readCase(_ line: String, lineNumber: Int, header: Header) throws {
        func fail(_ reason: String) -> RecurrentError { .invalidFile(path: path, reason: "line \(lineNumber): \(reason)") }
        var fields = line.split(separator: ":", omittingEmptySubsequences: false)
        if header.classLabel {
            guard fields.count >= 2, let last = fields.popLast() else { throw fail("no class label after the channels") }
            let label = last.trimmingCharacters(in: .whitespaces)
            guard !label.isEmpty else { throw fail("empty class label") }
            if !header.classValues.contains(label) {
                throw fail("class label \"\(label)\" is not one of those @classLabel declares (\(header.classValues.joined(separator: " ")))")
            }
            sequences.labels.append(label)
        }
        if dimensions == 0 { dimensions = fields.count }
        if header.univariate, fields.count > 1 { throw fail("\(fields.count) channels, but @univariate true declares one") }
        guard fields.count == dimensions else {
            throw fail("\(fields.count) channels, but \(header.dimensions == nil ? "the first case has" : "@dimensions declares") \(dimensions)")
        }
        var channels: [[Double?]] = []
        for (c, field) in fields.enumerated() {
            let cells = field.split(separator: ",", omittingEmptySubsequences: false)
            channels.append(try cells.enumerated().map { k, cell in
                let text = cell.trimmingCharacters(in: .whitespaces)
                if text == "?" || text.lowercased() == "nan" { return nil }
                guard let value = Double(text), value.isFinite else {
                    throw fail("channel \(c + 1), value \(k + 1): \"\(text)\" is not a number (missing values are written ?)")
                }
                return value
            })
            if channels[c].count != channels[0].count {
                throw fail("channel \(c + 1) has \(channels[c].count) values, channel 1 has \(channels[0].count): the channels of a case must be equally long")
            }
        }
        if header.equalLength, let expected = header.seriesLength, channels[0].count != expected {
            throw fail("\(channels[0].count) values per channel, but @seriesLength declares \(expected)")
        }
        // Steps missing in every channel at the end pad a shorter case: cut them off.
        var length = channels[0].count
        while length > 0, channels.allSatisfy({ $0[length - 1] == nil }) { length -= 1 }
        let filled = try channels.enumerated().map { c, channel in
            let kept = Array(channel.prefix(length))
            guard kept.contains(where: { $0 != nil }) else { throw fail("channel \(c + 1) has no value at all") }
            return CSVTable.interpolated(kept)
        }
        var values = [Float](repeating: 0, count: length * dimensions)
        for t in 0..<length {
            for c in 0..<dimensions { values[t * dimensions + c] = Float(filled[c][t]) }
        }
        sequences.series.append(values)
        sequences.lineNumbers.append(lineNumber)
    }

    /// The header's tags, read one line at a time until `@data`.
    struct Header {
        var problemName: String?
        var equalLength = true
        var seriesLength: Int?
        var dimensions: Int?
        var classLabel = false
        var classValues: [String] = []
        var univariate = false

        static let booleanTags: Set<String> = ["timestamps", "missing", "univariate", "equallength", "targetlabel"]

        /// Reads one header line; true at `@data`.
        mutating func read(_ line: String, lineNumber: Int, path: String) throws -> Bool {
            func fail(_ reason: String) -> RecurrentError { .invalidFile(path: path, reason: "line \(lineNumber): \(reason)") }
            guard line.hasPrefix("@") else {
                throw fail("\"\(line.prefix(40))\" comes before @data: the header holds only @tags and # comments")
            }
            let tokens = line.split(whereSeparator: \.isWhitespace).map(String.init)
            let tag = tokens[0].dropFirst().lowercased(), values = Array(tokens.dropFirst())
            if tag == "data" {
                guard values.isEmpty else { throw fail("@data takes no value") }
                return true
            }
            if Self.booleanTags.contains(tag) {
                guard values.count == 1, let flag = ["true": true, "false": false][values[0].lowercased()] else {
                    throw fail("\(tokens[0]) takes true or false, got \"\(values.joined(separator: " "))\"")
                }
                if tag == "equallength" { equalLength = flag }
                if tag == "univariate" { univariate = flag }
                if flag, tag == "timestamps" { throw fail("series with time stamps are not read: write the values only (@timeStamps false)") }
                if flag, tag == "targetlabel" { throw fail("@targetLabel true marks a regression problem; classification needs @classLabel true with the classes") }
                return false
            }
            switch tag {
            case "problemname":
                guard values.count == 1 else { throw fail("@problemName takes one name, got \(values.count) words") }
                problemName = values[0]
            case "dimensions", "serieslength":
                guard values.count == 1, let number = Int(values[0]), number > 0 else {
                    throw fail("\(tokens[0]) takes a positive whole number, got \"\(values.joined(separator: " "))\"")
                }
                if tag == "dimensions" { dimensions = number } else { seriesLength = number }
            case "classlabel":
                switch values.first?.lowercased() {
                case "true":
                    guard values.count >= 3 else { throw fail("@classLabel true must list the classes (at least two) after it") }
                    classLabel = true
                    classValues = Array(values.dropFirst())
                case "false" where values.count == 1:
                    classLabel = false
                default:
                    throw fail("@classLabel takes true and the classes, or false; got \"\(values.joined(separator: " "))\"")
                }
            default:
                throw fail("unknown tag \(tokens[0]) (known: @problemName, @timeStamps, @missing, @univariate, @dimensions, "
                    + "@equalLength, @seriesLength, @classLabel, @targetLabel, @data)")
            }
            return false
        }
    }
}
