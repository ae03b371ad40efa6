/// The fields of a JSON request object, read with messages that name the field at fault. Fields
/// nobody asked for are refused by `finish()`, so a misspelled option never passes silently.
struct Fields {
    let values: [String: JSON]
    let context: String
    private(set) var read: Set<String> = []

    init(_ document: JSON, context: String) throws {
        guard let values = document.objectValue else {
            throw ServerError.badRequest("\(context) is \(document.kindName), expected a JSON object")
        }
        self.values = values
        self.context = context
    }

    init(object: [String: JSON], context: String) {
        values = object
        self.context = context
    }

    mutating func value(_ name: String) -> JSON? {
        read.insert(name)
        return values[name]
    }

    func fail(_ name: String, _ problem: String) -> ServerError {
        .badRequest("\(context): field \"\(name)\" \(problem)")
    }

    mutating func string(_ name: String) throws -> String? {
        guard let value = value(name) else { return nil }
        guard let text = value.stringValue else { throw fail(name, "is \(value.kindName), expected a string") }
        return text
    }

    mutating func requiredString(_ name: String) throws -> String {
        guard let text = try string(name) else { throw fail(name, "is missing") }
        return text
    }

    mutating func number(_ name: String) throws -> Double? {
        guard let value = value(name) else { return nil }
        guard let number = value.numberValue, number.isFinite else { throw fail(name, "is \(value.kindName), expected a number") }
        return number
    }

    mutating func integer(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let number = try number(name) else { return nil }
        // Int(exactly:), not a comparison with Double(upperBound): Int.max as a double is 2^63,
        // one past it, which Int() would trap on.
        guard let whole = Int(exactly: number), range.contains(whole) else {
            let shown = number.rounded() == number && abs(number) < 1e15 ? String(Int(number)) : "\(number)"
            throw fail(name, "is \(shown), expected a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return whole
    }

    mutating func bool(_ name: String) throws -> Bool? {
        guard let value = value(name) else { return nil }
        guard let flag = value.boolValue else { throw fail(name, "is \(value.kindName), expected true or false") }
        return flag
    }

    mutating func strings(_ name: String) throws -> [String]? {
        guard let value = value(name) else { return nil }
        guard let items = value.arrayValue else { throw fail(name, "is \(value.kindName), expected an array of strings") }
        return try items.enumerated().map { index, item in
            guard let text = item.stringValue else { throw fail(name, "[\(index)] is \(item.kindName), expected a string") }
            return text
        }
    }

    mutating func numbers(_ name: String) throws -> [Double]? {
        guard let value = value(name) else { return nil }
        guard let items = value.arrayValue else { throw fail(name, "is \(value.kindName), expected an array of numbers") }
        return try items.enumerated().map { index, item in
            guard let number = item.numberValue else { throw fail(name, "[\(index)] is \(item.kindName), expected a number") }
            return number
        }
    }

    mutating func object(_ name: String) throws -> Fields? {
        guard let value = value(name) else { return nil }
        guard let object = value.objectValue else { throw fail(name, "is \(value.kindName), expected an object") }
        return Fields(object: object, context: "\(context), \"\(name)\"")
    }

    /// Refuses any field that was never read.
    func finish() throws {
        if let unknown = Set(values.keys).subtracting(read).sorted().first {
            throw ServerError.badRequest("\(context): unknown field \"\(unknown)\" (known: \(read.sorted().joined(separator: ", ")))")
        }
    }
}
