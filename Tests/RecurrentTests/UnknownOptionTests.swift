import Foundation
import XCTest

/// An option no verb knows is refused in one line naming it and the verb, with exit status 1,
/// like every other bad input (not ArgumentParser's usage text and status 64).
final class UnknownOptionTests: XCTestCase {
    func testAnUnknownOptionIsOneLineNamingItWithExitStatusOneForEveryVerb() throws {
        let verbs: [(verb: String, arguments: [String])] = [
            ("recurrent quantize", ["quantize", "m.model", "--int8", "-o", "q.model", "--int4"]),
            ("recurrent text train", ["text", "train", "a.txt", "--level", "char", "-o", "t.model", "--int4"]),
            ("recurrent forecast predict", ["forecast", "predict", "m.model", "d.csv", "--int4"]),
            ("recurrent music evaluate", ["music", "evaluate", "m.model", "x.abc", "--int4"]),
            ("recurrent serve", ["serve", "m.model", "--int4"]),
            ("recurrent", ["--int4"]),
        ]
        for (verb, arguments) in verbs {
            let result = try runCLI(arguments)
            XCTAssertEqual(result.status, 1, "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.hasPrefix("\(verb): error: Unknown option '--int4'"), "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("(\(verb) --help lists the options)"), result.stderr)
            XCTAssertEqual(result.stdout, "", "\(arguments)")
        }
        // Other usage errors keep ArgumentParser's answer.
        let missing = try runCLI(["quantize"])
        XCTAssertEqual(missing.status, 64, missing.stderr)
    }
}
