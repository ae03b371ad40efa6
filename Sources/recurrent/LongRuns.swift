import Dispatch
import Foundation
import Recurrent
import RecurrentDistributed

/// SIGINT and SIGTERM during training: the first asks the run to stop at the next step with a
/// checkpoint; a second one ends the process at once.
final class SignalInterruption: @unchecked Sendable {
    static let shared = SignalInterruption()

    let interruption = TrainingInterruption()
    private var sources: [DispatchSourceSignal] = []

    private init() {
        for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [interruption] in
                if interruption.reason != nil { exit(128 + number) }
                interruption.request(name)
                FileHandle.standardError.write(Data("\nrecurrent: \(name): stopping after this step with a checkpoint, or, past the last step, once the model is written (again to stop now)\n".utf8))
            }
            source.resume()
            sources.append(source)
        }
    }
}

/// The processes of an `mpirun` launch: none when started alone.
enum DistributedLaunch {
    /// Joins the job when started by mpirun with several processes. Ranks other than 0 write
    /// nothing to standard output and exit once training ends; rank 0 goes on alone.
    static func communicator() throws -> MPICommunicator? {
        guard MPICommunicator.isLaunchedWithSeveralProcesses else { return nil }
        let communicator = try MPICommunicator.join(otherRanksExitAfterTraining: true)
        if communicator.rank == 0 {
            note("data-parallel training on \(communicator.size) ranks (\(communicator.implementation)): "
                 + "each computes its share of every batch, gradients are averaged with MPI_Allreduce")
        } else {
            silenceStandardOutput()
        }
        return communicator
    }

    /// Runs an evaluate or predict verb's `body` on every process of an `mpirun` launch with the
    /// job's communicator (nil when started alone): each process works on its share of the
    /// input, the results are gathered in order, and only rank 0's standard output is kept.
    static func splittingWork(_ what: String, _ body: (MPICommunicator?) throws -> Void) throws {
        guard MPICommunicator.isLaunchedWithSeveralProcesses else { return try body(nil) }
        let communicator = try MPICommunicator.join()
        if communicator.rank == 0 {
            note("\(what) split over \(communicator.size) ranks (\(communicator.implementation)), gathered in order on rank 0")
        } else {
            silenceStandardOutput()
        }
        try body(communicator)
        // Only after success: a process that leaves with an error without finalizing makes
        // mpirun end the others, which would otherwise wait for it in MPI_Finalize.
        communicator.finalize()
    }

    /// Whether this process is rank 0 of the job, or alone: the one that writes files and notes.
    static func isFirst(_ communicator: MPICommunicator?) -> Bool {
        (communicator?.rank ?? 0) == 0
    }

    private static func silenceStandardOutput() {
        let null = open("/dev/null", O_WRONLY)
        if null >= 0 { dup2(null, STDOUT_FILENO) }
    }
}

/// The exit status of a run stopped by a signal, after its checkpoint: 128 + the signal's number.
func exitCode(for interrupted: TrainingInterrupted) -> Int32 {
    switch interrupted.reason {
    case "SIGINT": return 128 + SIGINT
    case "SIGTERM": return 128 + SIGTERM
    default: return 1
    }
}
