import Foundation

// Pieces of the safetensors format shared by reading and writing: element types, the JSON
// header as a plain value, string escaping for the header we write, and half-precision decoding.

extension SafeTensors {
    /// The element types this library reads. Floating types become `Tensor` (Float32);
    /// integer types become `IntegerTensor`.
    enum DType: String, CaseIterable {
        case f32 = "F32", f64 = "F64", f16 = "F16", bf16 = "BF16", i64 = "I64", i32 = "I32", i8 = "I8"

        /// Bytes per element.
        var size: Int {
            switch self {
            case .f64, .i64: return 8
            case .f32, .i32: return 4
            case .f16, .bf16: return 2
            case .i8: return 1
            }
        }

        var isFloatingPoint: Bool {
            switch self {
            case .f32, .f64, .f16, .bf16: return true
            case .i64, .i32, .i8: return false
            }
        }

        static let supportedList = "F32, F64, F16, BF16, I64, I32 or I8"
    }

    /// A parsed JSON value. The header is decoded into this first so that every check on its
    /// structure is ours and can name the tensor at fault, rather than a generic decoding error.
    enum HeaderValue: Decodable {
        case null
        case bool(Bool)
        case int(Int)
        case number(Double)
        case string(String)
        case array([HeaderValue])
        case object([String: HeaderValue])

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? container.decode(Int.self) {
                self = .int(value)
            } else if let value = try? container.decode(Double.self) {
                self = .number(value)
            } else if let value = try? container.decode(String.self) {
                self = .string(value)
            } else if let value = try? container.decode([HeaderValue].self) {
                self = .array(value)
            } else if let value = try? container.decode([String: HeaderValue].self) {
                self = .object(value)
            } else {
                // Valid JSON always matches one of the above, except numbers beyond Double.
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "number out of range")
            }
        }

        /// What kind of value this is, for error messages ("a string", "an array", ...).
        var kind: String {
            switch self {
            case .null: return "null"
            case .bool: return "a boolean"
            case .int: return "an integer"
            case .number: return "a non-integer number"
            case .string: return "a string"
            case .array: return "an array"
            case .object: return "an object"
            }
        }
    }

    /// `string` as a JSON string literal, escaped the way serde_json (used by the reference
    /// implementation) escapes it, so that our headers match the reference byte for byte.
    static func jsonLiteral(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// IEEE 754 binary16 to Float, written out by hand because `Float16` is not available on
    /// every platform Swift supports.
    static func float(fromHalf bits: UInt16) -> Float {
        let sign: Float = bits & 0x8000 != 0 ? -1 : 1
        let exponent = Int(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0:
            // Zero or subnormal: mantissa * 2^-24, exact in Float.
            return sign * Float(mantissa) * 0x1p-24
        case 0x1F:
            // Infinity or NaN: keep the payload.
            return Float(bitPattern: UInt32(bits & 0x8000) << 16 | 0x7F80_0000 | mantissa << 13)
        default:
            // Rebias the exponent from 15 to 127.
            return Float(bitPattern: UInt32(bits & 0x8000) << 16 | UInt32(exponent + 112) << 23 | mantissa << 13)
        }
    }

    /// Where and how `data` breaks JSON syntax, if it does. JSONDecoder does not say on every
    /// platform; JSONSerialization does.
    static func describe(jsonSyntaxOf data: Data) -> String? {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return nil
        } catch {
            return (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
        }
    }

    /// A one-line account of a decoding error: where in the JSON, and what went wrong.
    static func describe(decodingError error: Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        let context: DecodingError.Context
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c):
            context = c
        @unknown default:
            return "\(error)"
        }
        var message = context.debugDescription
        if let underlying = context.underlyingError as NSError?,
           let detail = underlying.userInfo[NSDebugDescriptionErrorKey] as? String {
            message += " " + detail
        }
        let path = context.codingPath.map { key in key.intValue.map { "[\($0)]" } ?? key.stringValue }
        let location = path.isEmpty ? "" : "at \(path.joined(separator: ".")): "
        return (location + message).replacingOccurrences(of: "\n", with: " ")
    }

    /// `Int` product of `values`, or nil on overflow.
    static func checkedProduct(_ values: [Int]) -> Int? {
        var product = 1
        for value in values {
            let (next, overflow) = product.multipliedReportingOverflow(by: value)
            if overflow { return nil }
            product = next
        }
        return product
    }

    static let hostIsLittleEndian = UInt16(1).littleEndian == 1
}
