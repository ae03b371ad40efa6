import Foundation
import XCTest
@testable import Recurrent
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A write either replaces the target completely or leaves everything as it was.
final class AtomicFileIOTests: XCTestCase {
    func contents(of directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    func assertIOError(
        _ body: @autoclosure () throws -> Void, path: String, reasonContains expected: String = "", line: UInt = #line
    ) {
        XCTAssertThrowsError(try body(), line: line) { error in
            guard case .io(let errorPath, let reason)? = error as? RecurrentError else {
                return XCTFail("expected an io error, got \(error)", line: line)
            }
            XCTAssertEqual(errorPath, path, line: line)
            XCTAssertFalse(reason.isEmpty || reason.contains("\n"), reason, line: line)
            XCTAssertTrue(expected.isEmpty || reason.contains(expected), "\(reason) should contain \(expected)", line: line)
        }
    }

    func testWriteCreatesTheFileAndNothingElse() throws {
        let directory = try ioTemporaryDirectory()
        let path = directory.appendingPathComponent("out.bin").path
        try AtomicFile.write(Data([1, 2, 3]), to: path)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), Data([1, 2, 3]))
        XCTAssertEqual(try contents(of: directory), ["out.bin"])
        try AtomicFile.write(Data(), to: path)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), Data())
    }

    func testReplacingKeepsPermissions() throws {
        let directory = try ioTemporaryDirectory()
        let path = directory.appendingPathComponent("out.bin").path
        try AtomicFile.write(Data([1]), to: path)
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: path)
        try AtomicFile.write(Data(repeating: 7, count: 100_000), to: path)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), Data(repeating: 7, count: 100_000))
        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        XCTAssertEqual(permissions, 0o640)
        XCTAssertEqual(try contents(of: directory), ["out.bin"])
    }

    func testMissingDirectoryIsAnIOErrorAndCreatesNothing() throws {
        let directory = try ioTemporaryDirectory()
        let path = directory.appendingPathComponent("missing/out.bin").path
        assertIOError(try AtomicFile.write(Data([1]), to: path), path: path, reasonContains: "No such file or directory")
        XCTAssertEqual(try contents(of: directory), [])
    }

    func testParentThatIsAFileIsAnIOError() throws {
        let directory = try ioTemporaryDirectory()
        let parent = directory.appendingPathComponent("plain")
        try Data([9]).write(to: parent)
        let path = parent.appendingPathComponent("out.bin").path
        assertIOError(try AtomicFile.write(Data([1]), to: path), path: path)
        XCTAssertEqual(try contents(of: directory), ["plain"])
        XCTAssertEqual(try Data(contentsOf: parent), Data([9]))
    }

    func testUnwritableDirectoryIsAnIOErrorAndCreatesNothing() throws {
        try XCTSkipIf(geteuid() == 0, "permissions do not stop root")
        let directory = try ioTemporaryDirectory()
        let locked = directory.appendingPathComponent("locked")
        try FileManager.default.createDirectory(at: locked, withIntermediateDirectories: false)
        let path = locked.appendingPathComponent("out.bin").path
        try AtomicFile.write(Data([1]), to: path)
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: locked.path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: locked.path) }
        assertIOError(try AtomicFile.write(Data([2, 2]), to: path), path: path)
        XCTAssertEqual(try contents(of: locked), ["out.bin"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), Data([1]))
    }

    /// The rename fails when the target is a directory: the directory and its contents stay.
    func testFailedRenameLeavesTargetAndNoTemporary() throws {
        let directory = try ioTemporaryDirectory()
        let target = directory.appendingPathComponent("model.safetensors")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
        try Data([5]).write(to: target.appendingPathComponent("inside"))
        assertIOError(try AtomicFile.write(Data([1, 2, 3]), to: target.path), path: target.path, reasonContains: "cannot replace")
        XCTAssertEqual(try contents(of: directory), ["model.safetensors"])
        XCTAssertEqual(try contents(of: target), ["inside"])
    }

    /// A write that fails half way (here: the process may not write files past 4 KiB) leaves the
    /// previous file intact and no partial file behind.
    func testWriteFailingMidwayLeavesExistingFileUntouched() throws {
        let directory = try ioTemporaryDirectory()
        let path = directory.appendingPathComponent("model.safetensors").path
        let original = try SafeTensors(tensors: ["w": Tensor(shape: [3], scalars: [1, 2, 3])]).encoded()
        try AtomicFile.write(original, to: path)

        // Past the limit write() fails with EFBIG; the signal it would also raise is ignored.
        let previousHandler = signal(SIGXFSZ, SIG_IGN)
        var previousLimit = rlimit()
        #if os(Linux)
        let resource = __rlimit_resource_t(RLIMIT_FSIZE.rawValue)
        #else
        let resource = RLIMIT_FSIZE
        #endif
        // Nothing may print while the limit holds (output redirected to a file could fail too),
        // so the outcome is kept and checked after restoring the limit.
        let large = SafeTensors(tensors: ["w": Tensor(repeating: 1, shape: [10_000])])
        var outcome: Result<Void, Error> = .success(())
        let limited = getrlimit(resource, &previousLimit) == 0
        if limited {
            var limit = previousLimit
            limit.rlim_cur = 4096
            if setrlimit(resource, &limit) == 0 {
                outcome = Result { try large.write(to: path) }
                setrlimit(resource, &previousLimit)
            }
        }
        signal(SIGXFSZ, previousHandler)

        XCTAssertTrue(limited, "getrlimit failed")
        assertIOError(try outcome.get(), path: path, reasonContains: "cannot write: File too large")
        XCTAssertEqual(try contents(of: directory), ["model.safetensors"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), original)
    }
}
