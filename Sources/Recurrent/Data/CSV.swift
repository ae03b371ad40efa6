import Foundation

/// A table read from a CSV file (RFC 4180: quoted fields, doubled quotes inside them, CRLF or LF
/// line ends). Every cell remembers where it came from, so errors can name file, line and column.
/// Fields are separated by commas, or by the tab, semicolon or bar that the file's first records
/// agree on (as spreadsheets in many locales write them; see `detectDelimiter`).
public struct CSVTable: Sendable {
    public let path: String
    /// The character between fields: `,`, tab, `;` or `|`.
    public let delimiter: Unicode.Scalar
    public let header: [String]
    /// Data rows, without the header; each has `header.count` fields.
    public let rows: [[String]]
    /// The 1-based file line where each data row starts.
    public let lineNumbers: [Int]

    /// Reads (`TextFile`: UTF-8, or UTF-16 with a byte-order mark) and parses `path`. The first
    /// record is the header. A PhysioNet record's header (`.hea`) reads as the table of its
    /// signals in physical units (`WFDBRecord`): a column each, a row per sample.
    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw RecurrentError.io(path: path, reason: "no such file")
        }
        if path.lowercased().hasSuffix(".hea") {
            self = try WFDBRecord(contentsOf: path).table(path: path)
            return
        }
        let text = try TextFile.read(path)
        try self.init(text: text, path: path)
    }

    /// Parses CSV text; `path` is only used in error messages. `delimiter` nil: the one the
    /// first records agree on (`detectDelimiter`).
    public init(text: String, path: String = "<text>", delimiter: Unicode.Scalar? = nil) throws {
        self.path = path
        let delimiter = delimiter ?? Self.detectDelimiter(text)
        self.delimiter = delimiter
        var records = try Self.parse(text, path: path, delimiter: delimiter)
        // A trailing empty line is not a record.
        records.removeAll { $0.fields == [""] }
        guard let first = records.first else {
            throw RecurrentError.invalidFile(path: path, reason: "is empty: no header and no rows")
        }
        header = first.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        var rows: [[String]] = [], lines: [Int] = []
        for record in records.dropFirst() {
            guard record.fields.count == header.count else {
                throw RecurrentError.invalidFile(path: path,
                    reason: "line \(record.line): \(record.fields.count) fields, but the header has \(header.count)"
                        + (delimiter == "," ? "" : " (fields separated by \(Self.describe(delimiter)))"))
            }
            rows.append(record.fields)
            lines.append(record.line)
        }
        self.rows = rows
        lineNumbers = lines
    }

    /// A table of cells made in memory (a request's rows, say): `lineNumbers` default to those
    /// of a file with the header on line 1. Every row must have `header.count` cells.
    public init(header: [String], rows: [[String]], lineNumbers: [Int]? = nil, path: String) throws {
        if let bad = rows.firstIndex(where: { $0.count != header.count }) {
            throw RecurrentError.invalidFile(path: path, reason: "row \(bad + 1): \(rows[bad].count) cells, but the header has \(header.count)")
        }
        self.path = path
        self.delimiter = ","
        self.header = header
        self.rows = rows
        self.lineNumbers = lineNumbers ?? rows.indices.map { $0 + 2 }
    }

    /// The index of column `name`, or an error listing the columns there are.
    public func columnIndex(_ name: String) throws -> Int {
        guard let index = header.firstIndex(of: name) else {
            throw RecurrentError.invalidFile(path: path,
                reason: "no column \"\(name)\"; the columns are \(header.map { "\"\($0)\"" }.joined(separator: ", "))")
        }
        return index
    }

    /// Where a cell is, as "file:line: column NAME (number K)" for error messages.
    public func location(row: Int, column: Int) -> String {
        "\(rowName) \(lineNumbers[row]), \(columnName) \(column + 1) (\"\(header[column])\")"
    }

    /// What a row and a column are called in messages: a line and a column of a CSV file; a
    /// sample (numbered from 0) and a signal of a WFDB record.
    public internal(set) var rowName = "line", columnName = "column"

    struct Record { var fields: [String]; var line: Int }

    /// The separators a file may use, in the order they are preferred when several fit.
    public static let delimiters: [Unicode.Scalar] = [",", "\t", ";", "|"]

    /// The separator of `text`: the first of `delimiters` that splits the header into two or
    /// more fields and every one of the next records (up to 50, quotes respected) into as many.
    /// When none does (a ragged line early on), the one giving the header the most fields, so
    /// that the error names that line; a file of one column is read with commas.
    public static func detectDelimiter(_ text: String) -> Unicode.Scalar {
        var best: (delimiter: Unicode.Scalar, fields: Int) = (",", 1)
        for candidate in delimiters {
            // A record cut by the limit or an unclosed quote in the prefix still counts as read.
            guard let records = try? parse(text, path: "", delimiter: candidate, limit: 51, lenient: true)
                .filter({ $0.fields != [""] }), let header = records.first else { continue }
            let width = header.fields.count
            guard width > 1 else { continue }
            if records.allSatisfy({ $0.fields.count == width }) { return candidate }
            if width > best.fields { best = (candidate, width) }
        }
        return best.delimiter
    }

    /// A separator as error messages name it.
    public static func describe(_ delimiter: Unicode.Scalar) -> String {
        delimiter == "\t" ? "tabs" : "\"\(delimiter)\""
    }

    /// The records of `text`; `limit` stops after that many, `lenient` ends a quoted field left
    /// open at the end instead of failing (for reading a file's first lines only).
    static func parse(_ text: String, path: String, delimiter: Unicode.Scalar = ",", limit: Int = .max,
                      lenient: Bool = false) throws -> [Record] {
        var records: [Record] = []
        var fields: [String] = [], field = ""
        var line = 1, recordLine = 1
        var inQuotes = false, wasQuoted = false
        var scalars = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? {
            if let p = pending { pending = nil; return p }
            return scalars.next()
        }
        while let c = next() {
            if inQuotes {
                if c == "\"" {
                    if let following = next() {
                        if following == "\"" { field.unicodeScalars.append("\"") } else { inQuotes = false; pending = following }
                    } else { inQuotes = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"" where field.isEmpty && !wasQuoted:
                inQuotes = true; wasQuoted = true
            case "\"":
                throw RecurrentError.invalidFile(path: path, reason: "line \(line): a quote inside an unquoted field")
            case delimiter:
                fields.append(field); field = ""; wasQuoted = false
            case "\r":
                continue
            case "\n":
                fields.append(field); field = ""; wasQuoted = false
                records.append(Record(fields: fields, line: recordLine))
                fields = []
                line += 1
                recordLine = line
                if records.count >= limit { return records }
            default:
                field.unicodeScalars.append(c)
            }
        }
        if inQuotes && !lenient { throw RecurrentError.invalidFile(path: path, reason: "line \(recordLine): a quoted field is never closed") }
        if !field.isEmpty || !fields.isEmpty || wasQuoted {
            fields.append(field)
            records.append(Record(fields: fields, line: recordLine))
        }
        return records
    }
}
