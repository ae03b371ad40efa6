import Foundation
import XCTest
@testable import Recurrent

/// Every way a safetensors file can be wrong gives a one-line `RecurrentError` that names the
/// file and, where there is one, the tensor.
final class SafeTensorsMalformedIOTests: XCTestCase {
    /// A file with `header` as its JSON header (no padding) followed by `data`.
    static func file(header: String, data: [UInt8] = []) -> Data {
        SafeTensorsTests.handMade(header: header, data: data)
    }

    /// Writes `bytes` to a file, reads it, and returns the error message after checking that it
    /// is an `invalidFile` error for that file, on one line, mentioning every string in `mentions`.
    @discardableResult
    func assertRejected(
        _ bytes: Data, mentioning mentions: [String], file: StaticString = #filePath, line: UInt = #line
    ) throws -> String {
        let path = try ioTemporaryDirectory().appendingPathComponent("bad.safetensors").path
        try bytes.write(to: URL(fileURLWithPath: path))
        do {
            let read = try SafeTensors.read(from: path)
            XCTFail("read a malformed file: \(read)", file: file, line: line)
            return ""
        } catch let error as RecurrentError {
            guard case .invalidFile(let errorPath, _) = error else {
                XCTFail("expected invalidFile, got \(error)", file: file, line: line)
                return ""
            }
            let message = error.description
            XCTAssertEqual(errorPath, path, file: file, line: line)
            XCTAssertTrue(message.hasPrefix(path + ": "), message, file: file, line: line)
            XCTAssertFalse(message.contains("\n"), "one line: \(message)", file: file, line: line)
            for mention in mentions {
                XCTAssertTrue(message.contains(mention), "\"\(message)\" should mention \(mention)", file: file, line: line)
            }
            return message
        }
    }

    func testMissingFile() throws {
        let path = try ioTemporaryDirectory().appendingPathComponent("absent.safetensors").path
        XCTAssertThrowsError(try SafeTensors.read(from: path)) { error in
            XCTAssertEqual(error as? RecurrentError, .io(path: path, reason: "cannot read: No such file or directory"))
        }
    }

    func testDirectoryInsteadOfFile() throws {
        let path = try ioTemporaryDirectory().path
        XCTAssertThrowsError(try SafeTensors.read(from: path)) { error in
            XCTAssertEqual(error as? RecurrentError, .io(path: path, reason: "cannot read: Is a directory"))
        }
    }

    func testFileShorterThanEightBytes() throws {
        try assertRejected(Data(), mentioning: ["0 bytes", "too short"])
        try assertRejected(Data([1, 2, 3, 4, 5, 6, 7]), mentioning: ["7 bytes", "too short"])
    }

    func testHeaderLengthLargerThanFile() throws {
        var bytes = Self.file(header: "{}")
        bytes[0] = 100
        try assertRejected(bytes, mentioning: ["header length 100", "larger than the rest of the file (2 bytes)"])
        // The largest possible length must not overflow anything.
        try assertRejected(Data(repeating: 0xFF, count: 16), mentioning: ["header length 18446744073709551615"])
    }

    func testHeaderNotJSON() throws {
        try assertRejected(Self.file(header: "{\"w\": {"), mentioning: ["header is not valid JSON"])
        try assertRejected(Self.file(header: "not json at all"), mentioning: ["header is not valid JSON"])
        var invalidUTF8 = Self.file(header: "{\"\u{7F}\":1}")
        invalidUTF8[10] = 0xFF
        try assertRejected(invalidUTF8, mentioning: ["header is not valid JSON"])
    }

    func testHeaderNotAnObject() throws {
        try assertRejected(Self.file(header: "[1, 2]"), mentioning: ["header is an array, expected a JSON object"])
        try assertRejected(Self.file(header: "\"text\""), mentioning: ["header is a string, expected a JSON object"])
    }

    func testEntryNotAnObject() throws {
        try assertRejected(Self.file(header: #"{"w": [1, 2]}"#), mentioning: [#"tensor "w""#, "entry is an array"])
    }

    func testEntryWithoutDtype() throws {
        let header = #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#
        try assertRejected(Self.file(header: header, data: [0, 0, 0, 0]), mentioning: [#"tensor "w""#, #"no "dtype""#])
    }

    func testEntryWithoutShape() throws {
        let header = #"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#
        try assertRejected(Self.file(header: header, data: [0, 0, 0, 0]), mentioning: [#"tensor "w""#, #"no "shape""#])
    }

    func testEntryWithoutDataOffsets() throws {
        let header = #"{"w":{"dtype":"F32","shape":[1]}}"#
        try assertRejected(Self.file(header: header, data: [0, 0, 0, 0]), mentioning: [#"tensor "w""#, #"no "data_offsets""#])
    }

    func testUnknownDtype() throws {
        let header = #"{"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}"#
        try assertRejected(Self.file(header: header, data: [0]), mentioning: [#"tensor "w""#, #"dtype "Q7" is not supported"#, "F32"])
        let number = #"{"w":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}"#
        try assertRejected(Self.file(header: number, data: [0, 0, 0, 0]), mentioning: [#"tensor "w""#, #""dtype" is an integer"#])
    }

    func testNegativeShape() throws {
        let header = #"{"w":{"dtype":"F32","shape":[2,-3],"data_offsets":[0,0]}}"#
        try assertRejected(Self.file(header: header), mentioning: [#"tensor "w""#, "negative dimension -3"])
    }

    func testShapeThatIsNotIntegers() throws {
        for shape in ["[1.5]", "[true]", "[\"2\"]", "3", "[1e400]"] {
            let header = #"{"w":{"dtype":"F32","shape":"# + shape + #","data_offsets":[0,4]}}"#
            let message = try assertRejected(Self.file(header: header, data: [0, 0, 0, 0]), mentioning: [])
            XCTAssertTrue(message.contains(#"tensor "w""#) || message.contains("not valid JSON"), message)
        }
    }

    func testShapeTooLarge() throws {
        let header = #"{"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#
        try assertRejected(Self.file(header: header, data: [UInt8](repeating: 0, count: 8)), mentioning: [#"tensor "w""#, "too large"])
    }

    func testByteRangeNotMatchingShape() throws {
        let header = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#
        try assertRejected(
            Self.file(header: header, data: [UInt8](repeating: 0, count: 8)),
            mentioning: [#"tensor "w""#, "span 4 bytes", "shape [2] of F32 needs 8"])
    }

    func testOffsetsOutsideDataSection() throws {
        let header = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        try assertRejected(
            Self.file(header: header, data: [0, 0, 0, 0]),
            mentioning: [#"tensor "w""#, "[0, 8] lie outside the data section (4 bytes)"])
    }

    func testOffsetsNotAnOrderedPair() throws {
        let reversed = #"{"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}"#
        try assertRejected(Self.file(header: reversed, data: [0, 0, 0, 0]), mentioning: [#"tensor "w""#, "[4, 0]"])
        let negative = #"{"w":{"dtype":"F32","shape":[0],"data_offsets":[-4,-4]}}"#
        try assertRejected(Self.file(header: negative), mentioning: [#"tensor "w""#, "non-negative"])
        let three = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#
        try assertRejected(Self.file(header: three, data: [0, 0, 0, 0]), mentioning: [#"tensor "w""#, "has 3 numbers"])
    }

    func testOverlappingRanges() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
            + #""b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        try assertRejected(
            Self.file(header: header, data: [UInt8](repeating: 0, count: 12)),
            mentioning: [#"tensor "b" (bytes 4..<12) overlaps tensor "a" (bytes 0..<8)"#])
        // A short range nested inside a long one, after another range in between.
        let nested = #"{"long":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"#
            + #""mid":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"#
            + #""empty":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}}"#
        try assertRejected(Self.file(header: nested, data: [UInt8](repeating: 0, count: 16)), mentioning: [#""mid""#, #""long""#, "overlaps"])
    }

    func testMetadataValueNotString() throws {
        try assertRejected(
            Self.file(header: #"{"__metadata__":{"ok":"yes","epochs":3}}"#),
            mentioning: [#"__metadata__ value of "epochs" is an integer, expected a string"#])
        try assertRejected(
            Self.file(header: #"{"__metadata__":["a"]}"#), mentioning: ["__metadata__ is an array, expected an object of strings"])
    }

    /// Truncating a valid file anywhere, or corrupting any byte, gives an error or a file, never
    /// a crash.
    func testDamagedFilesNeverCrash() throws {
        let valid = try SafeTensorsTests.sample().encoded()
        for length in 0..<valid.count {
            _ = try? SafeTensors(decoding: valid.prefix(length), path: "cut.safetensors")
        }
        var rng = SplitMix64(seed: 7)
        for _ in 0..<3000 {
            var damaged = valid
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let index = Int(rng.next() % UInt64(damaged.count))
                damaged[index] = UInt8(truncatingIfNeeded: rng.next())
            }
            _ = try? SafeTensors(decoding: damaged, path: "damaged.safetensors")
        }
        // Gaps between tensors are allowed and skipped.
        let gap = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        let file = try SafeTensors(decoding: Self.file(header: gap, data: [9, 9, 9, 9, 0, 0, 0x80, 0x3F]), path: "gap")
        XCTAssertEqual(file.tensors["w"], Tensor(shape: [1], scalars: [1]))
    }
}
