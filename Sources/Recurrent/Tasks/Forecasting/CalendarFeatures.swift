import Foundation

/// Inputs that tell a model where in its cycles a step falls: for each cycle (the year, the
/// week, the day, or the season of step-numbered data) the sine and cosine of the phase, so
/// that December sits next to January.
public struct CalendarFeatures: Codable, Sendable, Equatable {
    /// How steps are written (nil: step numbers) and how far apart they are.
    public var calendar: DateAxis?
    public var step: Double
    public var season: Int

    public init(calendar: DateAxis?, step: Double, season: Int) {
        self.calendar = calendar.map { var axis = $0; axis.ordinals = []; return axis }
        self.step = step
        self.season = season
    }

    /// Inputs per step: two per cycle.
    public var count: Int { 2 * cycles.count }

    enum Cycle: Equatable { case year, week, day, season }

    /// The cycles the steps' spacing can show (each at least two steps long).
    var cycles: [Cycle] {
        guard let calendar else { return season > 1 ? [.season] : [] }
        switch (calendar.format, calendar.monthly) {
        case (.yearMonth, _), (_, true): return step < 12 ? [.year] : []
        case (.yearMonthDay, false), (.compactYearMonthDay, false): return step == 1 ? [.week, .year] : step < 183 ? [.year] : []
        case (.dateTime, _): return step < 86400 ? [.day, .week] : step < 7 * 86400 ? [.week, .year] : [.year]
        case (.decimalYear, _): return step < 1 ? [.year] : []
        }
    }

    /// The phase in [0, 1) of `ordinal` in `cycle`.
    func phase(_ ordinal: Double, _ cycle: Cycle) -> Double {
        func fraction(_ x: Double, _ period: Double) -> Double { let r = x.truncatingRemainder(dividingBy: period) / period; return r < 0 ? r + 1 : r }
        guard let calendar else { return fraction(ordinal, Double(season)) }
        // Times with a zone count in UTC; the day and week run on the clock of the last row's zone.
        let ordinal = ordinal + Double(calendar.zone.flatMap(DateAxis.zoneOffset) ?? 0)
        switch (calendar.format, calendar.monthly, cycle) {
        case (.yearMonth, _, _), (_, true, _): return fraction(ordinal, 12)
        case (.decimalYear, _, _): return fraction(ordinal, 1)
        case (.dateTime, _, .day): return fraction(ordinal, 86400)
        // 1970-01-01, day 0, was a Thursday: +3 makes Monday 0.
        case (.dateTime, _, .week): return fraction(ordinal / 86400 + 3, 7)
        case (.dateTime, _, _): return fraction(ordinal / 86400, 365.2425)
        case (_, _, .week): return fraction(ordinal + 3, 7)
        default: return fraction(ordinal, 365.2425)
        }
    }

    /// The inputs of one step.
    public func values(at ordinal: Double) -> [Double] {
        cycles.flatMap { cycle -> [Double] in
            let angle = 2 * Double.pi * phase(ordinal, cycle)
            return [sin(angle), cos(angle)]
        }
    }
}
