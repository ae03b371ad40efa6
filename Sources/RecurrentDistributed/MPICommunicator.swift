import CMPIShim
import Foundation
import Recurrent

/// The processes of an `mpirun` job (MPI_COMM_WORLD) as a `Communicator`: gradients summed with
/// `MPI_Allreduce`, parameters and checkpoints broadcast from rank 0. MPI itself is opened at
/// run time (see `CMPIShim`), so a build without MPI installed still has this type; `join()`
/// then says what is missing.
public final class MPICommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// "Open MPI" or "MPICH".
    public let implementation: String
    /// Whether processes other than 0 exit when training ends (the command line's choice:
    /// what follows training, test figures and files, is rank 0's).
    public var otherRanksExitAfterTraining: Bool
    private var finalized = false

    /// Whether this process was started by `mpirun` or `mpiexec` (Open MPI, MPICH or a PMI
    /// launcher such as Slurm's srun), with more than one process.
    public static var isLaunchedWithSeveralProcesses: Bool { (launchedSize ?? 1) > 1 }

    /// The number of processes the launcher says it started (Open MPI's, MPICH's hydra or
    /// another PMI launcher's variable), nil outside a launcher.
    static var launchedSize: Int? {
        let environment = ProcessInfo.processInfo.environment
        let size = environment["OMPI_COMM_WORLD_SIZE"] ?? environment["PMI_SIZE"] ?? environment["PMIX_SIZE"]
        return size.flatMap { Int($0) }
    }

    /// Initializes MPI and joins the job. Throws a one-line error when MPI is absent.
    public static func join(otherRanksExitAfterTraining: Bool = false) throws -> MPICommunicator {
        var error = [CChar](repeating: 0, count: 512)
        guard rmpi_load(&error, error.count) == 0 else {
            throw RecurrentError.invalidArgument("started under mpirun, but " + String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        var rank: Int32 = 0, size: Int32 = 1
        let status = rmpi_init(&rank, &size)
        guard status == 0 else { throw RecurrentError.invalidArgument("MPI_Init failed with MPI error \(status)") }
        // A library of another implementation than the launcher's starts each process alone.
        if let launched = launchedSize, launched != Int(size) {
            let implementation = String(cString: rmpi_implementation())
            throw RecurrentError.invalidArgument("the launcher started \(launched) processes, but \(implementation)'s library sees \(size): "
                + "it is not the launcher's MPI; name the launcher's library with RECURRENT_MPI_LIBRARY")
        }
        return MPICommunicator(rank: Int(rank), size: Int(size), implementation: String(cString: rmpi_implementation()),
                               otherRanksExitAfterTraining: otherRanksExitAfterTraining)
    }

    private init(rank: Int, size: Int, implementation: String, otherRanksExitAfterTraining: Bool) {
        self.rank = rank
        self.size = size
        self.implementation = implementation
        self.otherRanksExitAfterTraining = otherRanksExitAfterTraining
    }

    public func allReduceSum(_ values: inout [Float]) throws {
        let count = Int64(values.count)
        try check(values.withUnsafeMutableBufferPointer { rmpi_allreduce_sum_float($0.baseAddress, count) }, "MPI_Allreduce")
    }

    public func broadcast(_ bytes: inout [UInt8], from root: Int) throws {
        // The receivers learn the length first.
        var length = [UInt8](repeating: 0, count: 8)
        if rank == root { length = withUnsafeBytes(of: Int64(bytes.count).littleEndian) { Array($0) } }
        try check(length.withUnsafeMutableBytes { rmpi_broadcast_bytes($0.baseAddress, 8, Int32(root)) }, "MPI_Bcast")
        let count = Int(Int64(littleEndian: length.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }))
        if rank != root { bytes = [UInt8](repeating: 0, count: count) }
        guard count > 0 else { return }
        try check(bytes.withUnsafeMutableBytes { rmpi_broadcast_bytes($0.baseAddress, Int64(count), Int32(root)) }, "MPI_Bcast")
    }

    public func allGather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        var counts64 = [Int64](repeating: 0, count: size)
        try check(counts64.withUnsafeMutableBufferPointer { rmpi_allgather_int64(Int64(bytes.count), $0.baseAddress) }, "MPI_Allgather")
        guard counts64.reduce(0, +) < Int64(Int32.max) else {
            throw RecurrentError.invalidArgument("the ranks' messages exceed 2 GiB together")
        }
        let counts = counts64.map { Int32($0) }
        var offsets: [Int32] = [], total: Int32 = 0
        for count in counts {
            offsets.append(total)
            total += count
        }
        var all = [UInt8](repeating: 0, count: Int(total))
        let status = bytes.withUnsafeBytes { mine in
            all.withUnsafeMutableBytes { rmpi_allgather_bytes(mine.baseAddress, Int32(bytes.count), $0.baseAddress, counts, offsets) }
        }
        try check(status, "MPI_Allgatherv")
        return (0..<size).map { rank -> [UInt8] in
            let start = Int(offsets[rank])
            return Array(all[start..<(start + Int(counts[rank]))])
        }
    }

    public func trainingEnded() {
        guard otherRanksExitAfterTraining else { return }
        finalize()
        if rank != 0 { exit(0) }
    }

    /// Leaves the job (MPI_Finalize); once only.
    public func finalize() {
        guard !finalized else { return }
        finalized = true
        _ = rmpi_finalize()
    }

    /// Ends every process of the job: after an error on one rank the others would wait forever.
    public func abort(code: Int32) -> Never {
        _ = rmpi_abort(code)
        exit(code)
    }

    private func check(_ status: Int32, _ call: String) throws {
        guard status == 0 else { throw RecurrentError.invalidArgument("\(call) failed on rank \(rank) with MPI error \(status)") }
    }
}
