import Foundation
import XCTest

/// The MPI implementations the tests start jobs with: Open MPI (Debian's default `mpirun`) and
/// MPICH (Debian's `mpirun.mpich`, its hydra launcher).
enum MPIImplementation {
    case openMPI, mpich
}

extension ScratchDirectoryTestCase {
    /// The launcher's path and the options this machine needs (Open MPI refuses root without
    /// --allow-run-as-root, and 2 ranks may exceed the cores it counts). Skips the test, with a
    /// message, when the launcher is not installed.
    func mpirun(_ implementation: MPIImplementation = .openMPI) throws -> (path: String, options: [String]) {
        let search = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        let name = implementation == .openMPI ? "mpirun" : "mpirun.mpich"
        guard let path = search.map({ "\($0)/\(name)" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip(implementation == .openMPI
                ? "mpirun is not installed (Debian: openmpi-bin and libopenmpi-dev): the MPI tests are skipped"
                : "mpirun.mpich is not installed (Debian: mpich and libmpich-dev): the MPICH test is skipped")
        }
        let version = try runProgram(path, ["--version"])
        guard version.stdout.contains("Open MPI") else { return (path, []) }
        return (path, (getuid() == 0 ? ["--allow-run-as-root"] : []) + ["--oversubscribe", "--bind-to", "none"])
    }

    /// `recurrent arguments` on 2 ranks, standard input from `input` (mpirun gives it to rank 0).
    func twoRanks(_ arguments: [String], on implementation: MPIImplementation = .openMPI, input: String? = nil) throws -> CommandResult {
        let (mpirun, options) = try mpirun(implementation)
        return try runProgram(mpirun, options + ["-np", "2", productsDirectory.appendingPathComponent("recurrent").path] + arguments,
                              input: input)
    }
}
