import Foundation
import XCTest

/// A test case with a fresh, empty directory of its own for every test, removed afterwards.
class ScratchDirectoryTestCase: XCTestCase {
    private(set) var workDirectory: URL!

    override func setUpWithError() throws {
        workDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-\(type(of: self))-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: workDirectory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: workDirectory)
    }

    /// The path of `name` inside the scratch directory.
    func path(_ name: String) -> String { workDirectory.appendingPathComponent(name).path }

    /// Writes `text` as UTF-8 to `name` in the scratch directory and returns its path.
    func write(_ text: String, to name: String) throws -> String {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }
}

/// A file of the repository, found from this source file's location (Tests/RecurrentTests/).
func repositoryFile(_ relativePath: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(relativePath).path
}
