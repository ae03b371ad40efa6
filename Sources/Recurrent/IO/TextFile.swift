import Foundation

/// Text files as every reader of the library takes them: UTF-8 (a byte-order mark dropped), or
/// UTF-16 when a byte-order mark says so (as spreadsheets write "Unicode text"). Anything else is
/// an error naming the line, column and byte where the text stops being UTF-8.
enum TextFile {
    static func read(_ path: String) throws -> String {
        try decode(Array(try FileContents.read(path)), path: path)
    }

    static func decode(_ bytes: [UInt8], path: String) throws -> String {
        if bytes.count >= 2, (bytes[0], bytes[1]) == (0xFF, 0xFE) || (bytes[0], bytes[1]) == (0xFE, 0xFF) {
            let littleEndian = bytes[0] == 0xFF
            guard bytes.count % 2 == 0 else {
                throw RecurrentError.invalidFile(path: path, reason: "UTF-16 text (by its byte-order mark) of an odd number of bytes")
            }
            let units = stride(from: 2, to: bytes.count, by: 2).map { i in
                littleEndian ? UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8 : UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])
            }
            var text = "", line = 1
            var decoder = UTF16()
            var iterator = units.makeIterator()
            decoding: while true {
                switch decoder.decode(&iterator) {
                case .scalarValue(let scalar):
                    text.unicodeScalars.append(scalar)
                    if scalar == "\n" { line += 1 }
                case .emptyInput: break decoding
                case .error:
                    throw RecurrentError.invalidFile(path: path, reason: "line \(line): an unpaired UTF-16 surrogate")
                }
            }
            return text
        }
        guard var text = String(validating: bytes, as: UTF8.self) else {
            throw RecurrentError.invalidFile(path: path, reason: describeFirstInvalidUTF8(bytes))
        }
        if text.unicodeScalars.first == "\u{FEFF}" { text.unicodeScalars.removeFirst() }
        return text
    }

    /// "line L, column C (byte offset B): byte 0xXY is not UTF-8", columns counted in characters.
    static func describeFirstInvalidUTF8(_ bytes: [UInt8]) -> String {
        var line = 1, column = 1, index = 0
        while index < bytes.count {
            // The shortest prefix (1 to 4 bytes) that decodes is the next scalar.
            let length = (1...4).first { index + $0 <= bytes.count && String(validating: bytes[index..<index + $0], as: UTF8.self) != nil }
            guard let length else {
                return String(format: "line %d, column %d (byte offset %d): byte 0x%02X is not UTF-8; save the file as UTF-8",
                              line, column, index, bytes[index])
            }
            if bytes[index] == 0x0A { line += 1; column = 1 } else { column += 1 }
            index += length
        }
        return "the file is not UTF-8"
    }
}
