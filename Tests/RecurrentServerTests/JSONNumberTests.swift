import Foundation
import XCTest
@testable import RecurrentServer

/// The reader's numbers: the fast path (exact digits and power of ten) must give strtod's bits
/// for every number, and the grammar's errors must stay where they were.
final class JSONNumberTests: XCTestCase {
    func strtodValue(_ text: String) -> Double {
        text.withCString { strtod($0, nil) }
    }

    func testNumbersReadAsStrtodReadsThem() throws {
        var generator = SystemRandomNumberGenerator()
        var texts = ["0", "-0", "0.0", "-0.0", "1", "-1", "0.1", "0.2", "0.3", "1e22", "1e23", "-1e-22", "1e-23", "9007199254740991",
                     "9007199254740992", "9007199254740993", "123456789012345678901234567890", "0.000000000000000000000000001",
                     "1.7976931348623157e308", "2.2250738585072014e-308", "4.9e-324", "1e400", "-1e400", "1E5", "1e+5", "2.5E-3",
                     "0.30000000000000004", "3.4028234663852886e38", "0.1234567890123456789", "100000000000000000000000"]
        for _ in 0..<20_000 {
            let float = Float.random(in: -1...1, using: &generator)
            texts.append(String(format: "%.6f", Double(float)))           // as Python's round(x, 6) writes
            texts.append("\(Double(float))")                              // as this server writes float32 outputs
            texts.append("\(Double.random(in: -1e6...1e6, using: &generator))")
            texts.append(String(format: "%.3e", Double.random(in: -1e30...1e30, using: &generator)))
        }
        for text in texts {
            let value = try XCTUnwrap(JSONReader.parse(Array(text.utf8)).numberValue, text)
            let expected = strtodValue(text)
            XCTAssertEqual(value.bitPattern, expected.bitPattern, "\(text): read \(value), strtod \(expected)")
            let inArray = try XCTUnwrap(JSONReader.parse(Array("[\(text),1]".utf8)).arrayValue?.first?.numberValue, text)
            XCTAssertEqual(inArray.bitPattern, expected.bitPattern, "\(text) inside an array")
        }
    }

    func testMalformedNumbersNameTheByte() {
        for (text, offset, reason) in [("-", 1, "expected a digit"), ("[1.]", 3, "expected a digit after the decimal point"),
                                       ("1e", 2, "expected a digit in the exponent"), ("[2e+]", 4, "expected a digit in the exponent"),
                                       ("-x", 1, "expected a digit")] {
            XCTAssertThrowsError(try JSONReader.parse(Array(text.utf8)), text) { error in
                let failure = error as? JSONReader.Failure
                XCTAssertEqual(failure?.offset, offset, text)
                XCTAssertEqual(failure?.reason, reason, text)
            }
        }
    }
}
