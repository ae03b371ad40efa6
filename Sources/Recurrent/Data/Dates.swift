import Foundation

/// How the cells of a date column are written. Each form reads to an ordinal in its own unit
/// (months, days, seconds or years), so steps between rows are plain differences and the dates
/// after the end of the data are the last ordinal plus whole steps, written back the same way.
public enum DateFormat: String, Codable, Sendable, CaseIterable {
    /// 1949-01 or 1949/01: ordinal in months.
    case yearMonth
    /// 2012-01-01 or 2012/01/01 (or, by `DateAxis.order`, 1/31/2012 or 31.01.2012): ordinal in
    /// days (in months when every day is the 1st).
    case yearMonthDay
    /// 19580329: ordinal in days.
    case compactYearMonthDay
    /// 2010/01/01 00:00:00 (or a "T" between, seconds optional, fractions of a second and a zone
    /// "Z", "+02:00" or "-0500" allowed; the date in any `DateOrder`): ordinal in seconds since
    /// 1970 (UTC where a zone is written, so a change of daylight saving time is no gap).
    case dateTime
    /// 1700, 1958.5: ordinal in years.
    case decimalYear
}

/// The order of a date's year, month and day: 2012-01-31; 1/31/2012 (as in the United States);
/// 31.01.2012 or 31/01/2012 (as in most of Europe). Only the day-level forms take the latter two,
/// with a four-digit year or a two-digit one (1/31/49, as spreadsheets write it: see
/// `DateAxis.century(ofTwoDigitYear:)`).
public enum DateOrder: String, Codable, Sendable, CaseIterable {
    case yearMonthDay, monthDayYear, dayMonthYear
}

/// A parsed date column: one ordinal per row, in the unit of `format` (`monthly` switches a
/// day format whose days are all the 1st to months).
public struct DateAxis: Codable, Sendable, Equatable {
    public var format: DateFormat
    /// "-", "/" or "." for the separated forms.
    public var separator: String
    /// Year, month and day's order in the separated day-level forms; nil (as in files written
    /// before there was a choice) is year first.
    public var order: DateOrder?
    /// Month and day written with two digits (01/05/2012) rather than as few as needed (1/5/2012),
    /// for the orders with the year last: two where a cell writes a leading zero; nil is two.
    public var padded: Bool?
    /// The year written with two digits (1/31/49), for the orders with the year last; nil is four.
    public var twoDigitYear: Bool?
    /// For dates with a time: the last row's zone as written ("Z", "+02:00"), in which the dates
    /// after the end are written; nil when the cells write none.
    public var zone: String?
    /// For dates with a time: "T" between date and time, as the first row writes it (nil: a space).
    public var timeSeparator: String?
    public var monthly: Bool
    /// One per row, in months, days, seconds or years.
    public var ordinals: [Double]

    /// Reads `cells` in the first format that fits them all; nil when none does. Year first is
    /// tried first; with the year last, month first (as pandas reads "1/2/2012") unless the
    /// separator is a dot or a month would pass 12.
    public init?(cells: [String]) {
        let trimmed = cells.map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = trimmed.first else { return nil }
        let separator = first.contains("/") ? "/" : first.split(separator: " ").first.map { $0.filter { $0 == "." }.count == 2 } == true ? "." : "-"
        let orders: [DateOrder] = separator == "." ? [.dayMonthYear, .monthDayYear] : [.yearMonthDay, .monthDayYear, .dayMonthYear]
        for order in orders {
            for format in DateFormat.allCases {
                var dates: [Parsed] = []
                dates.reserveCapacity(trimmed.count)
                for cell in trimmed {
                    guard let date = Self.parse(cell, format: format, separator: separator, order: order) else { break }
                    dates.append(date)
                }
                guard dates.count == trimmed.count else { continue }
                let monthly = (format == .yearMonthDay || format == .compactYearMonthDay) && dates.allSatisfy { $0.day == 1 }
                self.format = format
                self.separator = separator
                if order != .yearMonthDay {
                    self.order = order
                    // Two digits where some month or day is written with a leading zero.
                    padded = trimmed.contains { cell in
                        cell.split(separator: Character(separator)).prefix(2).contains { $0.count == 2 && $0.first == "0" }
                    }
                    if dates.allSatisfy(\.twoDigitYear) { twoDigitYear = true }
                }
                if format == .dateTime {
                    zone = dates.last?.zone
                    if first.contains("T") { timeSeparator = "T" }
                }
                self.monthly = monthly
                ordinals = dates.map { $0.ordinal(format: format, monthly: monthly) }
                return
            }
        }
        return nil
    }

    /// The most common step between consecutive rows (gaps and irregular rows do not change it).
    public var step: Double {
        var counts: [Double: Int] = [:]
        for (a, b) in zip(ordinals, ordinals.dropFirst()) { counts[b - a, default: 0] += 1 }
        return counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key ?? 1
    }

    /// Seasons that calendars suggest for this spacing: 12 for months, 52 for weeks, 7 and 365
    /// for days, 24 for hours, 4 for quarters. Empty for yearly data.
    public var calendarSeasons: [Int] {
        let step = self.step
        guard step > 0 else { return [] }
        switch (format, monthly) {
        case (.yearMonth, _), (_, true):
            return step == 1 ? [12] : step == 3 ? [4] : []
        case (.yearMonthDay, false), (.compactYearMonthDay, false):
            return step == 1 ? [7, 365] : step == 7 ? [52] : []
        case (.dateTime, _):
            return step == 3600 ? [24, 168] : step == 86400 ? [7, 365] : step == 7 * 86400 ? [52] : []
        case (.decimalYear, _):
            let perYear = (1 / step).rounded()
            return step < 1 && perYear >= 2 ? [Int(perYear)] : []
        }
    }

    /// The `count` dates after the last row, `step` apart, written as the column writes them.
    public func datesAfterEnd(count: Int) -> [String] {
        guard let last = ordinals.last else { return [] }
        return (1...max(count, 1)).prefix(count).map { format(ordinal: last + Double($0) * step) }
    }

    /// A date as a decimal year, for chart axes.
    public func decimalYear(_ ordinal: Double) -> Double {
        switch (format, monthly) {
        case (.decimalYear, _): return ordinal
        case (.yearMonth, _), (_, true): return ordinal / 12
        case (.dateTime, _): return 1970 + ordinal / (365.2425 * 86400)
        default: return 1970 + ordinal / 365.2425
        }
    }

    /// Year, month and day in this column's order, separator and padding.
    func written(_ y: Int, _ m: Int, _ d: Int) -> String {
        let s = separator
        switch order ?? .yearMonthDay {
        case .yearMonthDay: return String(format: "%04d\(s)%02d\(s)%02d", y, m, d)
        case .monthDayYear, .dayMonthYear:
            let (first, second) = order == .monthDayYear ? (m, d) : (d, m)
            let year = twoDigitYear == true ? String(format: "%02d", Self.floorModulo(y, 100)) : String(format: "%04d", y)
            return String(format: padded == false ? "%d\(s)%d\(s)" : "%02d\(s)%02d\(s)", first, second) + year
        }
    }

    /// Writes an ordinal back in this column's form.
    public func format(ordinal: Double) -> String {
        let s = separator
        switch (format, monthly) {
        case (.decimalYear, _):
            return ordinal == ordinal.rounded() ? String(Int(ordinal)) : String(format: "%.4g", ordinal)
        case (.yearMonth, _):
            let months = Int(ordinal.rounded())
            return String(format: "%04d\(s)%02d", Self.floorDivide(months, 12), Self.floorModulo(months, 12) + 1)
        case (_, true):
            let months = Int(ordinal.rounded())
            let (year, month) = (Self.floorDivide(months, 12), Self.floorModulo(months, 12) + 1)
            return format == .compactYearMonthDay ? String(format: "%04d%02d01", year, month) : written(year, month, 1)
        case (.compactYearMonthDay, _):
            let (y, m, d) = Self.civil(fromDays: Int(ordinal.rounded()))
            return String(format: "%04d%02d%02d", y, m, d)
        case (.yearMonthDay, _):
            let (y, m, d) = Self.civil(fromDays: Int(ordinal.rounded()))
            return written(y, m, d)
        case (.dateTime, _):
            let seconds = Int(ordinal.rounded()) + (zone.flatMap(Self.zoneOffset) ?? 0)
            let (y, m, d) = Self.civil(fromDays: Self.floorDivide(seconds, 86400))
            let time = Self.floorModulo(seconds, 86400)
            return written(y, m, d) + (timeSeparator ?? " ")
                + String(format: "%02d:%02d:%02d", time / 3600, time / 60 % 60, time % 60) + (zone ?? "")
        }
    }

    /// Seconds east of UTC of a zone as written: "Z"; "+HH:MM", "+HHMM" or "+HH" (or "-").
    static func zoneOffset(_ zone: String) -> Int? {
        if zone == "Z" { return 0 }
        guard let sign = zone.first, sign == "+" || sign == "-" else { return nil }
        var body = Array(zone.dropFirst())
        if body.count == 5, body[2] == ":" { body.remove(at: 2) }
        guard body.count == 2 || body.count == 4, body.allSatisfy({ $0.isASCII && $0.isNumber }),
              let hours = Int(String(body.prefix(2))), let minutes = Int(body.count == 4 ? String(body.suffix(2)) : "0"),
              hours <= 18, minutes < 60 else { return nil }
        return (sign == "-" ? -1 : 1) * (hours * 3600 + minutes * 60)
    }

    /// The year a two-digit year stands for. Dated rows record the past, and known covariates
    /// run a few years ahead at most: a year up to ten years after this one is this century's,
    /// any other the last century's (in 2026: 00-36 are 2000-2036, 37-99 are 1937-1999).
    public static func century(ofTwoDigitYear year: Int, now: Date = Date()) -> Int {
        let current = Calendar(identifier: .gregorian).component(.year, from: now)
        let thisCentury = current - current % 100
        return thisCentury + year <= current + 10 ? thisCentury + year : thisCentury - 100 + year
    }

    struct Parsed {
        var year: Int, month: Int, day: Int, seconds: Double
        var twoDigitYear = false
        /// A time's zone as written, and its offset in seconds east of UTC.
        var zone: String? = nil, offset: Int = 0
        func ordinal(format: DateFormat, monthly: Bool) -> Double {
            switch format {
            case .decimalYear: return seconds
            case .yearMonth: return Double(year * 12 + month - 1)
            case .yearMonthDay, .compactYearMonthDay:
                return monthly ? Double(year * 12 + month - 1) : Double(DateAxis.days(year: year, month: month, day: day))
            case .dateTime: return Double(DateAxis.days(year: year, month: month, day: day)) * 86400 + seconds - Double(offset)
            }
        }
    }

    static func parse(_ cell: String, format: DateFormat, separator: String, order: DateOrder? = nil) -> Parsed? {
        let order = order ?? .yearMonthDay
        func number(_ text: Substring, digits: ClosedRange<Int>) -> Int? {
            guard digits.contains(text.count), text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber) else { return nil }
            return Int(text)
        }
        func date(_ text: Substring) -> Parsed? {
            let parts = text.split(separator: Character(separator), omittingEmptySubsequences: false)
            guard parts.count == 3 else { return nil }
            let (yi, mi, di) = order == .yearMonthDay ? (0, 1, 2) : order == .monthDayYear ? (2, 0, 1) : (2, 1, 0)
            // Only a year written last may have two digits (31.01.49); 49-01-31 stays unread.
            let short = order != .yearMonthDay && parts[yi].count == 2
            guard let written = number(parts[yi], digits: short ? 2...2 : 4...4), let m = number(parts[mi], digits: 1...2),
                  let d = number(parts[di], digits: 1...2) else { return nil }
            let y = short ? Self.century(ofTwoDigitYear: written) : written
            guard valid(y, m, d) else { return nil }
            return Parsed(year: y, month: m, day: d, seconds: 0, twoDigitYear: short)
        }
        switch format {
        case .yearMonth:
            guard order == .yearMonthDay, separator != "." else { return nil }
            let parts = cell.split(separator: Character(separator), omittingEmptySubsequences: false)
            guard parts.count == 2, let y = number(parts[0], digits: 4...4), let m = number(parts[1], digits: 1...2),
                  (1...12).contains(m) else { return nil }
            return Parsed(year: y, month: m, day: 1, seconds: 0)
        case .yearMonthDay:
            return date(Substring(cell))
        case .compactYearMonthDay:
            guard order == .yearMonthDay else { return nil }
            let text = Substring(cell)
            guard number(text, digits: 8...8) != nil, let y = Int(text.prefix(4)), let m = Int(text.dropFirst(4).prefix(2)),
                  let d = Int(text.suffix(2)), valid(y, m, d) else { return nil }
            return Parsed(year: y, month: m, day: d, seconds: 0)
        case .dateTime:
            let halves = cell.split(whereSeparator: { $0 == " " || $0 == "T" })
            guard halves.count == 2, var parsed = date(halves[0]) else { return nil }
            var time = halves[1]
            if let start = time.lastIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) {
                guard let offset = zoneOffset(String(time[start...])) else { return nil }
                parsed.zone = String(time[start...])
                parsed.offset = offset
                time = time[..<start]
            }
            let clock = time.split(separator: ":", omittingEmptySubsequences: false)
            guard (2...3).contains(clock.count), let h = number(clock[0], digits: 1...2), let minute = number(clock[1], digits: 2...2),
                  h < 24, minute < 60 else { return nil }
            let second = clock.count == 3 ? Double(clock[2]) : 0
            guard let second, (0..<61).contains(second) else { return nil }
            parsed.seconds = Double(h * 3600 + minute * 60) + second
            return parsed
        case .decimalYear:
            guard order == .yearMonthDay, let value = Double(cell), value.isFinite, (1000..<3000).contains(value),
                  cell.allSatisfy({ $0.isNumber || $0 == "." }) else { return nil }
            return Parsed(year: Int(value), month: 1, day: 1, seconds: value)
        }
    }

    static func valid(_ year: Int, _ month: Int, _ day: Int) -> Bool {
        guard (1...12).contains(month), day >= 1 else { return false }
        let lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        return day <= lengths[month - 1] + (month == 2 && leap ? 1 : 0)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = floorDivide(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146097 + dayOfEra - 719468
    }

    /// The inverse of `days(year:month:day:)`.
    static func civil(fromDays days: Int) -> (Int, Int, Int) {
        let z = days + 719468
        let era = floorDivide(z, 146097)
        let dayOfEra = z - era * 146097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func floorDivide(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : (a - b + 1) / b }
    static func floorModulo(_ a: Int, _ b: Int) -> Int { a - floorDivide(a, b) * b }
}
