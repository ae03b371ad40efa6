import Foundation
import XCTest

/// The C kernels' own check (Tests/KernelsC through scripts/arm64-check.sh): every kernel against
/// a reference in double, built for this CPU and run on each instruction set it offers, then
/// built with clang for ARM64 and run under qemu-aarch64, where the kernels take their NEON path.
/// Skipped with a message where clang, the aarch64 cross C library or qemu-aarch64 is missing
/// (.ci/run installs them).
final class KernelARM64Tests: XCTestCase {
    func testKernelsMatchDoubleReferencesNativelyAndOnARM64UnderQEMU() throws {
        let missing = ["clang", "qemu-aarch64"].filter { !commandExists($0) }
            + (FileManager.default.fileExists(atPath: "/usr/aarch64-linux-gnu/lib/libc.a") ? [] : ["libc6-dev-arm64-cross"])
            + (FileManager.default.fileExists(atPath: "/usr/lib/gcc-cross/aarch64-linux-gnu") ? [] : ["libgcc-12-dev-arm64-cross"])
        if !missing.isEmpty {
            throw XCTSkip("the ARM64 kernel check needs \(missing.joined(separator: ", ")) (scripts/arm64-check.sh --install)")
        }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-kernel-check-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        let result = try runProgram("/usr/bin/env", ["bash", repositoryFile("scripts/arm64-check.sh")],
                                    environment: ProcessInfo.processInfo.environment.merging(["RECURRENT_KERNEL_CHECK_DIR": output.path]) { $1 })
        let text = result.stdout + result.stderr
        let report = text.split(separator: "\n").suffix(30).joined(separator: "\n")
        XCTAssertEqual(result.status, 0, report)
        XCTAssertTrue(text.contains("arm64 under qemu: passed (neon)"), report)
        XCTAssertTrue(text.contains("native \(machineName()): passed"), report)
        // One line per group for NEON, none of them failed.
        for group in ["gemm", "elementwise", "recurrent"] {
            XCTAssertTrue(text.split(separator: "\n").contains { $0.hasPrefix("neon") && $0.contains(group) && $0.contains(" ok ") },
                          "no passing NEON \(group) line:\n\(report)")
        }
    }

    private func commandExists(_ name: String) -> Bool {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        return paths.contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
    }

    private func machineName() -> String {
        var system = utsname()
        uname(&system)
        return withUnsafeBytes(of: &system.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
