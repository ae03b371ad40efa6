import Foundation

/// A series to forecast: a target column, optional covariate columns measured at the same
/// steps, and the dates of the steps when the data have them.
///
///     let data = try TimeSeriesData(csv: "Data/airline-passengers.csv", target: "Passengers")
///     data.dates?.datesAfterEnd(count: 3)   // ["1961-01", "1961-02", "1961-03"]
public struct TimeSeriesData: Sendable {
    /// Where the values came from, for messages.
    public var source: String
    /// The target's name first, then the covariates'.
    public var names: [String]
    /// [F][T]: feature f (0 the target) at step t.
    public var columns: [[Double]]
    public var dates: DateAxis?
    public var dateColumn: String?

    public var target: [Double] { columns[0] }
    public var count: Int { columns[0].count }
    public var featureCount: Int { columns.count }

    /// A series from values in memory: the target, then covariates of the same length.
    public init(values: [Double], name: String = "value", covariates: [(name: String, values: [Double])] = [],
                dates: DateAxis? = nil) throws {
        for covariate in covariates where covariate.values.count != values.count {
            throw RecurrentError.invalidArgument(
                "covariate \"\(covariate.name)\" has \(covariate.values.count) values, the target \(values.count)")
        }
        if let dates, dates.ordinals.count != values.count {
            throw RecurrentError.invalidArgument("\(dates.ordinals.count) dates for \(values.count) values")
        }
        source = "<values>"
        names = [name] + covariates.map(\.name)
        columns = [values] + covariates.map(\.values)
        self.dates = dates
    }

    /// Reads `target` and `covariates` from a CSV file. Gaps follow `missing` (refused by
    /// default, with the cell named). The dates come from `dateColumn`, or else from the first
    /// other column whose first cell reads as a date (1949-01, 2012/01/01, 19580329,
    /// 2010/01/01 00:00:00, or a year such as 1700 or 1958.5); they must increase.
    public init(csv path: String, target: String, covariates: [String] = [], dateColumn: String? = nil,
                missing: MissingValuePolicy = .refuse) throws {
        try self.init(table: try CSVTable(path: path), target: target, covariates: covariates, dateColumn: dateColumn, missing: missing)
    }

    public init(table: CSVTable, target: String, covariates: [String] = [], dateColumn: String? = nil,
                missing: MissingValuePolicy = .refuse) throws {
        guard !table.rows.isEmpty else {
            throw RecurrentError.invalidFile(path: table.path, reason: "has a header but no data rows")
        }
        if let repeated = covariates.first(where: { $0 == target }) {
            throw RecurrentError.invalidArgument("\"\(repeated)\" is the target; it cannot also be a covariate")
        }
        let (columns, rows) = try table.numericColumnsWithRows([target] + covariates, missing: missing)
        guard !rows.isEmpty else {
            throw RecurrentError.invalidFile(path: table.path, reason: "no row is left once rows with missing values are dropped")
        }
        source = table.path
        names = [target] + covariates
        self.columns = columns
        let used = Set(names)
        let candidates = dateColumn.map { [$0] } ?? table.header.filter { !used.contains($0) }
        for name in candidates {
            if let axis = try Self.dates(in: table, column: name, rows: rows, required: dateColumn != nil) {
                dates = axis
                self.dateColumn = name
                break
            }
        }
    }

    /// The columns that can hold the series: every cell a number or a missing marker, at least
    /// one number, none of `excluding`. When several do, those that read as increasing dates
    /// (a year column such as 1700, 1701, ...; 19580329) are left out. A one-series forecast
    /// without a column named takes the column when one is left.
    public static func valueColumns(in table: CSVTable, excluding: Set<String> = []) -> [String] {
        let numeric = table.header.enumerated().filter { index, name in
            guard !excluding.contains(name), let cells = try? table.rows.indices.map({ try table.numericCell(row: $0, column: index) })
            else { return false }
            return cells.contains { $0 != nil }
        }.map(\.element)
        guard numeric.count > 1 else { return numeric }
        let rows = Array(table.rows.indices)
        // A column that starts as dates but does not go on as increasing dates (an error) is values.
        return numeric.filter { (try? dates(in: table, column: $0, rows: rows, required: false)) == nil }
    }

    /// The column's dates over `rows`, or nil when its first cell is no date (and it was not
    /// asked for by name). A column that starts as dates must continue as dates, increasing.
    static func dates(in table: CSVTable, column name: String, rows: [Int], required: Bool) throws -> DateAxis? {
        let column = try table.columnIndex(name)
        let cells = rows.map { table.rows[$0][column] }
        func fail(_ row: Int, _ reason: String) -> RecurrentError {
            .invalidFile(path: table.path, reason: "\(table.location(row: row, column: column)): \(reason)")
        }
        guard let firstRow = rows.first, let firstFormat = DateAxis(cells: [cells[0]]) else {
            if required, let firstRow = rows.first { throw fail(firstRow, "\"\(cells[0])\" is not a date") }
            return nil
        }
        guard let axis = DateAxis(cells: cells), axis.format == firstFormat.format else {
            let bad = zip(rows, cells).first { DateAxis.parse($0.1.trimmingCharacters(in: .whitespaces), format: firstFormat.format,
                                                                separator: firstFormat.separator, order: firstFormat.order) == nil }
            throw fail(bad?.0 ?? firstRow, "\"\(bad?.1 ?? cells[0])\" is not a date written like the first row's \"\(cells[0])\"")
        }
        for k in 1..<max(rows.count, 1) where axis.ordinals[k] <= axis.ordinals[k - 1] {
            throw fail(rows[k], "the date \"\(cells[k])\" does not come after \"\(cells[k - 1])\" (rows must be in time order)")
        }
        return axis
    }
}
