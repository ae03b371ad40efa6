import Foundation

/// How a panel's file is laid out; kept with a model so that new data are read the same way.
public enum PanelLayout: Codable, Sendable, Equatable {
    /// One row per series and step: the series id, the date (or step number) and the target.
    case long(id: String, date: String, target: String)
    /// One column per series; the dates in `date` (nil: the first column holding dates, if any).
    case wide(columns: [String], date: String?)
}

/// One series of a panel: its target values, the steps they stand at, and its covariates.
public struct PanelSeries: Sendable {
    public var id: String
    /// [T] the target, oldest first.
    public var values: [Double]
    /// [T + future] the step ordinal of every row (in the panel's date unit, or the step number),
    /// the rows past the target's end included (rows that carry known-future covariates only).
    public var ordinals: [Double]
    /// [K][T + future] covariates known ahead (calendar events, promotions, prices).
    public var knownCovariates: [[Double]]
    /// [P][T] covariates observed with the target only.
    public var pastCovariates: [[Double]]
    /// The file line of each row, for messages (empty for series made in memory).
    public var lines: [Int] = []

    public init(id: String, values: [Double], ordinals: [Double]? = nil, knownCovariates: [[Double]] = [], pastCovariates: [[Double]] = []) {
        self.id = id
        self.values = values
        self.ordinals = ordinals ?? (0..<(knownCovariates.first?.count ?? values.count)).map(Double.init)
        self.knownCovariates = knownCovariates
        self.pastCovariates = pastCovariates
    }

    public var count: Int { values.count }
    /// Rows past the target's end that give known covariates.
    public var futureCount: Int { ordinals.count - values.count }
}

/// Many series to forecast with one model: the long format (`unique_id, ds, y`, as statsforecast
/// and NeuralForecast name the columns) or the wide one (a date column and one column per series).
///
///     let panel = try SeriesPanel(csv: "Data/m3-monthly-sample-train.csv", season: 12)
///     panel.series.count   // 24
public struct SeriesPanel: Sendable {
    public var source: String
    public var series: [PanelSeries]
    /// How the steps are written: a date axis (its ordinals unused: each series has its own), or
    /// nil for step numbers.
    public var calendar: DateAxis?
    /// The distance between consecutive steps, in the calendar's unit (1 for step numbers).
    public var step: Double
    /// The seasonal period in steps (1: none).
    public var season: Int
    public var knownCovariateNames: [String]
    public var pastCovariateNames: [String]

    /// Which columns hold what in a long-format file.
    public struct LongColumns: Sendable {
        public var id = "unique_id", date = "ds", target = "y"
        public var known: [String] = [], past: [String] = []
        public init(id: String = "unique_id", date: String = "ds", target: String = "y", known: [String] = [], past: [String] = []) {
            self.id = id; self.date = date; self.target = target; self.known = known; self.past = past
        }
    }

    public init(source: String, series: [PanelSeries], calendar: DateAxis?, step: Double, season: Int,
                knownCovariateNames: [String] = [], pastCovariateNames: [String] = []) {
        self.source = source; self.series = series; self.calendar = calendar; self.step = step; self.season = season
        self.knownCovariateNames = knownCovariateNames; self.pastCovariateNames = pastCovariateNames
    }

    /// Reads a long-format file. Rows of a series may come in any order (they are sorted by date)
    /// and series may interleave; a row whose target is empty but whose known covariates are
    /// given lies in the future (only after the series' last target). `season`: nil to infer it
    /// from the dates (an error for step numbers, which say nothing of the calendar).
    public init(csv path: String, columns: LongColumns = LongColumns(), season: Int? = nil) throws {
        try self.init(table: try CSVTable(path: path), columns: columns, season: season)
    }

    public init(table: CSVTable, columns: LongColumns = LongColumns(), season: Int? = nil) throws {
        guard !table.rows.isEmpty else { throw RecurrentError.invalidFile(path: table.path, reason: "has a header but no data rows") }
        let idColumn = try table.columnIndex(columns.id), dateColumn = try table.columnIndex(columns.date)
        let targetColumn = try table.columnIndex(columns.target)
        let knownColumns = try columns.known.map(table.columnIndex), pastColumns = try columns.past.map(table.columnIndex)
        let steps = try Self.readSteps(table, column: dateColumn)
        var order: [String] = [], rowsOf: [String: [Int]] = [:]
        for (row, fields) in table.rows.enumerated() {
            let id = fields[idColumn].trimmingCharacters(in: .whitespaces)
            guard !id.isEmpty else { throw RecurrentError.invalidFile(path: table.path, reason: "\(table.location(row: row, column: idColumn)): empty series id") }
            if rowsOf[id] == nil { order.append(id) }
            rowsOf[id, default: []].append(row)
        }
        var built: [PanelSeries] = []
        for id in order {
            // Stable: rows of one date keep the file's order, so a duplicate is named at its second line.
            let rows = (rowsOf[id] ?? []).sorted { steps.ordinals[$0] < steps.ordinals[$1] }
            for (a, b) in zip(rows, rows.dropFirst()) where steps.ordinals[a] == steps.ordinals[b] {
                let later = max(a, b)
                throw RecurrentError.invalidFile(path: table.path, reason: "\(table.location(row: later, column: dateColumn)): "
                    + "series \"\(id)\" has a second row for \"\(table.rows[later][dateColumn])\" (line \(table.lineNumbers[min(a, b)]))")
            }
            var values: [Double] = [], known: [[Double]] = Array(repeating: [], count: knownColumns.count)
            var past: [[Double]] = Array(repeating: [], count: pastColumns.count)
            for row in rows {
                let value = try table.numericCell(row: row, column: targetColumn)
                if let value {
                    guard values.count == known.first?.count ?? values.count else {
                        throw RecurrentError.invalidFile(path: table.path, reason: "\(table.location(row: row, column: targetColumn)): "
                            + "series \"\(id)\" has a value after a row without one (only rows after the last value may leave it empty)")
                    }
                    values.append(value)
                    for (k, column) in pastColumns.enumerated() {
                        guard let p = try table.numericCell(row: row, column: column) else {
                            throw RecurrentError.invalidFile(path: table.path, reason: "\(table.location(row: row, column: column)): missing value")
                        }
                        past[k].append(p)
                    }
                } else if knownColumns.isEmpty || values.isEmpty {
                    throw RecurrentError.invalidFile(path: table.path, reason: "\(table.location(row: row, column: targetColumn)): missing value")
                }
                for (k, column) in knownColumns.enumerated() {
                    guard let v = try table.numericCell(row: row, column: column) else {
                        throw RecurrentError.invalidFile(path: table.path, reason: "\(table.location(row: row, column: column)): missing value")
                    }
                    known[k].append(v)
                }
            }
            var entry = PanelSeries(id: id, values: values, ordinals: rows.map { steps.ordinals[$0] }, knownCovariates: known, pastCovariates: past)
            entry.lines = rows.map { table.lineNumbers[$0] }
            built.append(entry)
        }
        try self.init(source: table.path, series: built, calendar: steps.calendar, dateColumn: columns.date, season: season)
        knownCovariateNames = columns.known
        pastCovariateNames = columns.past
    }

    /// Reads `table` laid out as `layout`, with the named covariates (long files only).
    public init(table: CSVTable, layout: PanelLayout, known: [String] = [], past: [String] = [], season: Int? = nil) throws {
        switch layout {
        case .long(let id, let date, let target):
            try self.init(table: table, columns: LongColumns(id: id, date: date, target: target, known: known, past: past), season: season)
        case .wide(let columns, let date):
            guard known.isEmpty, past.isEmpty else {
                throw RecurrentError.invalidArgument("covariates need the long format (a row per series and step)")
            }
            try self.init(wide: table, columns: columns, dateColumn: date, season: season)
        }
    }

    /// Reads a wide file: `columns` are series (named by their column), sharing the rows' dates.
    /// Empty cells before a column's first value or after its last shorten that series; gaps
    /// inside it are refused.
    public init(wide table: CSVTable, columns: [String], dateColumn: String? = nil, season: Int? = nil) throws {
        guard !table.rows.isEmpty else { throw RecurrentError.invalidFile(path: table.path, reason: "has a header but no data rows") }
        let indices = try columns.map(table.columnIndex)
        let dateIndex = try dateColumn.map(table.columnIndex) ?? table.header.indices.first { column in
            !indices.contains(column) && DateAxis(cells: [table.rows[0][column]]) != nil
        }
        let steps = try dateIndex.map { try Self.readSteps(table, column: $0) }
            ?? (ordinals: table.rows.indices.map(Double.init), calendar: nil)
        var built: [PanelSeries] = []
        for (name, column) in zip(columns, indices) {
            var rows: [Int] = [], values: [Double] = []
            for row in table.rows.indices {
                guard let value = try table.numericCell(row: row, column: column) else { continue }
                if let last = rows.last, last != row - 1 {
                    throw RecurrentError.invalidFile(path: table.path, reason: "\(table.location(row: last + 1, column: column)): missing value inside the series")
                }
                rows.append(row); values.append(value)
            }
            var entry = PanelSeries(id: name, values: values, ordinals: rows.map { steps.ordinals[$0] })
            entry.lines = rows.map { table.lineNumbers[$0] }
            built.append(entry)
        }
        try self.init(source: table.path, series: built, calendar: steps.calendar,
                      dateColumn: dateIndex.map { table.header[$0] } ?? "row", season: season)
    }

    /// Checks the steps of every series against one frequency and settles the season.
    init(source: String, series: [PanelSeries], calendar: DateAxis?, dateColumn: String, season: Int?) throws {
        if let empty = series.first(where: { $0.values.isEmpty }) {
            throw RecurrentError.invalidFile(path: source, reason: "series \"\(empty.id)\" has no values")
        }
        var counts: [Double: Int] = [:]
        for s in series { for (a, b) in zip(s.ordinals, s.ordinals.dropFirst()) { counts[b - a, default: 0] += 1 } }
        let step = counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key ?? 1
        for s in series {
            if let k = s.ordinals.indices.dropLast().first(where: { s.ordinals[$0 + 1] - s.ordinals[$0] != step }) {
                let where_ = s.lines.isEmpty ? "" : "line \(s.lines[k + 1]): "
                throw RecurrentError.invalidFile(path: source, reason: "\(where_)series \"\(s.id)\": column \"\(dateColumn)\" "
                    + "jumps \(Self.describe(s.ordinals[k + 1] - s.ordinals[k])) where the other rows are \(Self.describe(step)) apart "
                    + "(a gap or an irregular step: the frequency must be one)")
            }
        }
        var axis = calendar
        axis?.ordinals = calendar.map { _ in [0, step] } ?? []
        let resolved: Int
        if let season {
            guard season >= 1 else { throw RecurrentError.invalidArgument("the season must be positive, got \(season)") }
            resolved = season
        } else if let axis {
            // The calendar's own season (12 for months, 4 for quarters, 7 for days, 24 for hours).
            resolved = axis.calendarSeasons.first ?? 1
        } else {
            throw RecurrentError.invalidFile(path: source, reason: "column \"\(dateColumn)\" holds step numbers, not dates, so the "
                + "frequency cannot be inferred: give the season (--season 12 for monthly data, 1 for none)")
        }
        axis?.ordinals = []
        self.init(source: source, series: series, calendar: axis, step: step, season: resolved)
    }

    /// Checks what a panel built in memory must hold: values, one ordinal per row, and every
    /// named covariate over the rows it covers (known ones at least as far as the values).
    public func checkShapes() throws {
        for s in series {
            let problem: String?
            if s.values.isEmpty { problem = "has no values" }
            else if s.ordinals.count < s.values.count { problem = "has \(s.ordinals.count) steps for \(s.values.count) values" }
            else if s.knownCovariates.count != knownCovariateNames.count || s.pastCovariates.count != pastCovariateNames.count {
                problem = "has \(s.knownCovariates.count) known and \(s.pastCovariates.count) past covariates, the panel names "
                    + "\(knownCovariateNames.count) and \(pastCovariateNames.count)"
            } else if s.knownCovariates.contains(where: { $0.count != s.ordinals.count }) || s.pastCovariates.contains(where: { $0.count < s.values.count }) {
                problem = "has covariates shorter than its rows"
            } else { problem = nil }
            if let problem { throw RecurrentError.invalidArgument("\(source): series \"\(s.id)\" \(problem)") }
        }
    }

    static func describe(_ distance: Double) -> String { distance == distance.rounded() ? String(Int(distance)) : String(distance) }

    /// The ordinal of every row: dates in one format, or whole step numbers.
    static func readSteps(_ table: CSVTable, column: Int) throws -> (ordinals: [Double], calendar: DateAxis?) {
        let cells = table.rows.map { $0[column].trimmingCharacters(in: .whitespaces) }
        if let axis = DateAxis(cells: cells) { return (axis.ordinals, axis) }
        if let numbers = Optional(cells.compactMap { Int($0) }), numbers.count == cells.count { return (numbers.map(Double.init), nil) }
        // Name the first cell that breaks the form of the first one.
        let first = DateAxis(cells: [cells[0]])
        let bad = cells.indices.first { row in
            first.map { DateAxis.parse(cells[row], format: $0.format, separator: $0.separator, order: $0.order) == nil } ?? (Int(cells[row]) == nil)
        } ?? 0
        throw RecurrentError.invalidFile(path: table.path, reason: "\(table.location(row: bad, column: column)): \"\(cells[bad])\" "
            + (first == nil ? "is neither a date nor a step number" : "is not a date written like the first row's \"\(cells[0])\""))
    }

    /// The ordinals of the `count` steps after `series`' last value.
    public func futureOrdinals(of series: PanelSeries, count: Int) -> [Double] {
        let last = series.ordinals[series.count - 1]
        return (1...max(1, count)).prefix(count).map { last + Double($0) * step }
    }

    /// An ordinal written as the file writes its dates (or as a step number).
    public func format(ordinal: Double) -> String {
        calendar?.format(ordinal: ordinal) ?? Self.describe(ordinal)
    }
}
