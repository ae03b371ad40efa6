import Foundation

/// A JSON value as requests carry it. Numbers are Doubles: they hold every float32 exactly and
/// every integer up to 2^53, beyond any length, id or shape a request may name.
enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    subscript(key: String) -> JSON? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }

    var objectValue: [String: JSON]? {
        if case .object(let fields) = self { return fields }
        return nil
    }

    var arrayValue: [JSON]? {
        if case .array(let items) = self { return items }
        return nil
    }

    var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    var numberValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// What a message calls the value's kind.
    var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

// MARK: - Reading

/// A recursive-descent reader over UTF-8 bytes. Nesting is capped, so a hostile body cannot
/// exhaust the stack; numbers are checked against JSON's grammar before strtod reads them.
struct JSONReader {
    static let maximumDepth = 64

    struct Failure: Error, CustomStringConvertible {
        let offset: Int
        let reason: String
        var description: String { "malformed JSON at byte \(offset): \(reason)" }
    }

    /// Parses a whole document; trailing bytes other than whitespace are an error.
    static func parse<Bytes: Collection<UInt8>>(_ bytes: Bytes) throws -> JSON {
        var buffer = Array(bytes)
        buffer.append(0)  // a terminator for strtod
        return try buffer.withUnsafeBufferPointer { pointer in
            var reader = JSONReader(bytes: pointer, end: pointer.count - 1)
            reader.skipWhitespace()
            let value = try reader.value(depth: 0)
            reader.skipWhitespace()
            guard reader.position == reader.end else { throw reader.fail("unexpected text after the document") }
            return value
        }
    }

    let bytes: UnsafeBufferPointer<UInt8>
    let end: Int
    var position = 0

    init(bytes: UnsafeBufferPointer<UInt8>, end: Int) {
        self.bytes = bytes
        self.end = end
    }

    func fail(_ reason: String) -> Failure { Failure(offset: position, reason: reason) }

    var current: UInt8? { position < end ? bytes[position] : nil }

    mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
    }

    mutating func value(depth: Int) throws -> JSON {
        guard depth < Self.maximumDepth else { throw fail("nested deeper than \(Self.maximumDepth) levels") }
        guard let byte = current else { throw fail("unexpected end of the document") }
        switch byte {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw fail("unexpected character \(Self.show(byte))")
        }
    }

    static func show(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : String(format: "0x%02X", byte)
    }

    mutating func literal(_ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        guard end - position >= count, memcmp(bytes.baseAddress! + position, word.utf8Start, count) == 0 else {
            throw fail("expected \(word)")
        }
        position += count
    }

    mutating func object(depth: Int) throws -> JSON {
        position += 1
        var fields: [String: JSON] = [:]
        skipWhitespace()
        if current == UInt8(ascii: "}") { position += 1; return .object(fields) }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw fail("expected a field name in quotes") }
            let key = try string()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw fail("expected ':' after the field name \"\(key)\"") }
            position += 1
            skipWhitespace()
            fields[key] = try value(depth: depth + 1)
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"): position += 1; return .object(fields)
            default: throw fail("expected ',' or '}' in an object")
            }
        }
    }

    mutating func array(depth: Int) throws -> JSON {
        position += 1
        var items: [JSON] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { position += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try value(depth: depth + 1))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"): position += 1; return .array(items)
            default: throw fail("expected ',' or ']' in an array")
            }
        }
    }

    /// Reads a number by JSON's grammar. Most numbers a tensor carries ("-0.123456") have at
    /// most 15 significant digits and a small exponent: then the digits and the power of ten
    /// are both exact doubles and one correctly rounded division or product gives the same
    /// bits as strtod (Clinger's fast path), several times faster; any other goes to strtod.
    mutating func number() throws -> Double {
        let start = position
        var mantissa: UInt64 = 0, exact = true, scale = 0
        func digits(scaling: Int) -> Int {
            let first = position
            while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                if mantissa < Self.exactMantissaLimit / 10 {
                    mantissa = mantissa * 10 + UInt64(byte - UInt8(ascii: "0"))
                } else {
                    exact = false
                }
                position += 1
            }
            scale += scaling * (position - first)
            return position - first
        }
        let negative = current == UInt8(ascii: "-")
        if negative { position += 1 }
        guard digits(scaling: 0) > 0 else { throw fail("expected a digit") }
        if current == UInt8(ascii: ".") {
            position += 1
            guard digits(scaling: -1) > 0 else { throw fail("expected a digit after the decimal point") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            position += 1
            var exponentSign = 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") {
                if current == UInt8(ascii: "-") { exponentSign = -1 }
                position += 1
            }
            let first = position
            var exponent = 0
            while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                if exponent < 100_000 { exponent = exponent * 10 + Int(byte - UInt8(ascii: "0")) }
                position += 1
            }
            guard position > first else { throw fail("expected a digit in the exponent") }
            scale += exponentSign * exponent
        }
        if exact, abs(scale) < Self.exactPowersOfTen.count {
            let magnitude = Double(mantissa)
            let value = scale < 0 ? magnitude / Self.exactPowersOfTen[-scale] : magnitude * Self.exactPowersOfTen[scale]
            return negative ? -value : value
        }
        // The grammar was checked above; strtod stops where the number does.
        let pointer = UnsafeRawPointer(bytes.baseAddress! + start).assumingMemoryBound(to: CChar.self)
        return strtod(pointer, nil)
    }

    /// Mantissas below 2^53 are exact doubles; so are 10^0 ... 10^22.
    static let exactMantissaLimit: UInt64 = 1 << 53
    static let exactPowersOfTen: [Double] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                             1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22]

    mutating func string() throws -> String {
        position += 1
        let start = position
        // The common case: no escapes, decoded straight from the bytes.
        while let byte = current, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\"), byte >= 0x20 { position += 1 }
        if current == UInt8(ascii: "\"") {
            defer { position += 1 }
            return try decode(UnsafeBufferPointer(rebasing: bytes[start..<position]), at: start)
        }
        var scalars: [UInt8] = Array(bytes[start..<position])
        while true {
            guard let byte = current else { throw fail("unterminated string") }
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                return try scalars.withUnsafeBufferPointer { try decode($0, at: start) }
            case UInt8(ascii: "\\"):
                try escape(into: &scalars)
            case 0..<0x20:
                position -= 1
                throw fail("a control character inside a string must be escaped")
            default:
                scalars.append(byte)
            }
        }
    }

    func decode(_ utf8: UnsafeBufferPointer<UInt8>, at start: Int) throws -> String {
        guard let text = String(validating: utf8, as: UTF8.self) else {
            throw Failure(offset: start, reason: "a string is not valid UTF-8")
        }
        return text
    }

    mutating func escape(into output: inout [UInt8]) throws {
        guard let byte = current else { throw fail("unterminated escape") }
        position += 1
        let simple: [UInt8: UInt8] = [UInt8(ascii: "\""): 0x22, UInt8(ascii: "\\"): 0x5C, UInt8(ascii: "/"): 0x2F,
                                      UInt8(ascii: "b"): 0x08, UInt8(ascii: "f"): 0x0C, UInt8(ascii: "n"): 0x0A,
                                      UInt8(ascii: "r"): 0x0D, UInt8(ascii: "t"): 0x09]
        if let plain = simple[byte] { output.append(plain); return }
        guard byte == UInt8(ascii: "u") else { position -= 1; throw fail("unknown escape \\\(Self.show(byte))") }
        var code = try hex4()
        if (0xD800..<0xDC00).contains(code) {
            guard current == UInt8(ascii: "\\"), position + 1 < end, bytes[position + 1] == UInt8(ascii: "u") else {
                throw fail("a high surrogate must be followed by a low one")
            }
            position += 2
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low) else { throw fail("a high surrogate must be followed by a low one") }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let scalar = Unicode.Scalar(code) else { throw fail("\\u escape of a lone surrogate") }
        output.append(contentsOf: Array(String(Character(scalar)).utf8))
    }

    mutating func hex4() throws -> UInt32 {
        var code: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = current, let digit = Self.hexValue(byte) else { throw fail("expected 4 hex digits after \\u") }
            code = code << 4 | digit
            position += 1
        }
        return code
    }

    static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}

// MARK: - Writing

/// Builds a JSON document as UTF-8 text. Numbers print so that they read back to the same bits.
struct JSONWriter {
    private(set) var text = ""

    init() { text.reserveCapacity(256) }

    mutating func raw(_ fragment: String) { text += fragment }

    mutating func string(_ value: String) { JSONWriter.escape(value, into: &text) }

    static func escape(_ value: String, into text: inout String) {
        text += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20: text += String(format: "\\u%04x", scalar.value)
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }

    /// A float32 as the shortest decimal of its exact double value: a reader that parses JSON
    /// numbers as doubles (Python, JavaScript) and narrows them gets the same bits back.
    mutating func number(_ value: Float) { text += value.isFinite ? "\(Double(value))" : "null" }
    mutating func number(_ value: Double) { text += value.isFinite ? "\(value)" : "null" }
    mutating func number(_ value: Int) { text += String(value) }

    mutating func value(_ value: JSON) {
        switch value {
        case .null: text += "null"
        case .bool(let flag): text += flag ? "true" : "false"
        case .number(let number):
            if number.rounded() == number, abs(number) < 1e15 { text += String(Int64(number)) } else { self.number(number) }
        case .string(let string): self.string(string)
        case .array(let items):
            text += "["
            for (index, item) in items.enumerated() {
                if index > 0 { text += "," }
                self.value(item)
            }
            text += "]"
        case .object(let fields):
            text += "{"
            for (index, key) in fields.keys.sorted().enumerated() {
                if index > 0 { text += "," }
                string(key)
                text += ":"
                self.value(fields[key] ?? .null)
            }
            text += "}"
        }
    }

    static func encode(_ value: JSON) -> String {
        var writer = JSONWriter()
        writer.value(value)
        return writer.text
    }
}
