import Foundation
import XCTest
@testable import Recurrent

/// Data-parallel training of the built `recurrent` under `mpirun -np 2` on this machine. Skipped,
/// with a message, where MPI is not installed (`.ci/run` installs Open MPI from Debian).
final class MPITrainingTests: ScratchDirectoryTestCase {
    func textTraining() throws -> [String] {
        ["text", "train"] + (try corpus()) + ["--level", "char", "--hidden", "24", "--seq-len", "20", "--batch-size", "8",
                                            "--dropout", "0.2", "--threads", "1", "--max-steps", "40"]
    }

    /// ||a - b|| / ||a|| over every parameter of two model files (in Double). Element by element
    /// the gap can be larger: Adam divides by the gradient's own size, so a weight whose
    /// gradient is near zero amplifies rounding (1e-4 of a forecaster's output bias after one step).
    func relativeDifference(_ a: String, _ b: String) throws -> Double {
        let first = try SafeTensors.read(from: a).tensors, second = try SafeTensors.read(from: b).tensors
        XCTAssertEqual(first.keys.sorted(), second.keys.sorted())
        var difference = 0.0, size = 0.0
        for (key, tensor) in first {
            guard let other = second[key], other.shape == tensor.shape else { XCTFail("\(key) differs in shape"); continue }
            for (x, y) in zip(tensor.scalars, other.scalars) {
                difference += (Double(x) - Double(y)) * (Double(x) - Double(y))
                size += Double(x) * Double(x)
            }
        }
        return (difference / max(size, .leastNormalMagnitude)).squareRoot()
    }

    func testTwoRanksAgreeOnTheParametersAndMatchOneProcessOnTheSameGlobalBatch() throws {
        let arguments = try textTraining()
        let one = try runCLI(arguments + ["-o", path("one.model")])
        XCTAssertEqual(one.status, 0, one.stderr)
        let two = try twoRanks(arguments + ["-o", path("two.model")])
        XCTAssertEqual(two.status, 0, two.stderr)
        XCTAssertTrue(two.stderr.contains("data-parallel training on 2 ranks"), two.stderr)
        XCTAssertTrue(two.stderr.contains("the parameters are identical, bit for bit, on all 2 ranks"), two.stderr)
        XCTAssertTrue(two.stderr.contains("all-reduce over 2 ranks:"), two.stderr)
        XCTAssertEqual(two.stdout.components(separatedBy: "wrote \(path("two.model"))").count, 2, "only rank 0 reports: \(two.stdout)")
        // The gradients of the two halves are summed in another order than one process sums the
        // rows: equal to rounding, not bit for bit.
        XCTAssertLessThanOrEqual(try relativeDifference(path("one.model"), path("two.model")), 1e-5)
    }

    func testEveryTrainVerbRunsOnTwoRanksLikeOneProcess() throws {
        let balanced = ["classify", "train", repositoryFile("Data/digits-8x8.csv"), "--label-column", "label", "--features-per-step", "8",
                        "--hidden", "16", "--balance-classes", "--threads", "1"]
        // Three networks in a row (the loss scale's choice, then a second ensemble member) on the same ranks.
        let several = ["forecast", "train", repositoryFile("Data/m3-monthly-sample-train.csv"), "--season", "12", "--horizon", "6",
                       "--hidden", "16", "--epochs", "2", "--loss-scale", "auto", "--ensemble", "2", "--threads", "1"]
        try assertTwoRanksTrainLikeOneProcess(try trainingCommands() + [("classify-balanced", balanced, 0), ("forecast-several", several, 0)])
    }

    func testChatMusicStrokesAndAnomalyTrainOnTwoRanksLikeOneProcess() throws {
        try assertTwoRanksTrainLikeOneProcess(try moreTrainingCommands())
    }

    /// Each command for 12 steps on 1 process and on 2 ranks: the ranks end with the same bits,
    /// and within 1e-5 relative of the single process.
    func assertTwoRanksTrainLikeOneProcess(_ commands: [(name: String, arguments: [String], every: Int)]) throws {
        _ = try mpirun()
        for (name, command, _) in commands {
            let arguments = command + ["--max-steps", "12"]
            let one = try runCLI(arguments + ["-o", path("one-\(name).model")])
            XCTAssertEqual(one.status, 0, one.stderr)
            let two = try twoRanks(arguments + ["-o", path("two-\(name).model")])
            XCTAssertEqual(two.status, 0, two.stderr)
            XCTAssertTrue(two.stderr.contains("the parameters are identical, bit for bit, on all 2 ranks"), "\(name): \(two.stderr)")
            XCTAssertLessThanOrEqual(try relativeDifference(path("one-\(name).model"), path("two-\(name).model")), 1e-5, name)
        }
    }

    func testARankKilledMidRunLeavesTheCheckpointWholeAndResumingUnderMPIEndsAsTheUninterruptedRun() throws {
        var arguments = try textTraining()
        arguments[arguments.count - 1] = "400"
        let whole = try twoRanks(arguments + ["-o", path("whole.model")])
        XCTAssertEqual(whole.status, 0, whole.stderr)

        let (mpirun, options) = try mpirun()
        let job = Process()
        job.executableURL = URL(fileURLWithPath: mpirun)
        job.arguments = options + ["-np", "2", productsDirectory.appendingPathComponent("recurrent").path] + arguments
            + ["-o", path("resumed.model"), "--checkpoint-every", "50"]
        let err = path("killed.txt")
        FileManager.default.createFile(atPath: err, contents: nil)
        job.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        job.standardOutput = FileHandle.nullDevice
        try job.run()
        let checkpoint = path("resumed.model.checkpoint")
        while !FileManager.default.fileExists(atPath: checkpoint) && job.isRunning { usleep(2_000) }
        // The ranks are mpirun's children; kill the last one.
        let children = try runProgram("/usr/bin/pgrep", ["-P", "\(job.processIdentifier)"]).stdout.split(separator: "\n").compactMap { Int32($0) }
        let rank = try XCTUnwrap(children.max(), "no rank found under mpirun")
        kill(rank, SIGKILL)
        job.waitUntilExit()
        XCTAssertNotEqual(job.terminationStatus, 0)
        let message = try String(contentsOfFile: err, encoding: .utf8)
        XCTAssertTrue(message.contains("signal 9") || message.contains("Killed"), message)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("resumed.model")))

        let resumed = try twoRanks(arguments + ["-o", path("resumed.model"), "--checkpoint-every", "50", "--resume", checkpoint])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming from \(checkpoint)"), resumed.stderr)
        // The same ranks sum in the same order: bit for bit.
        XCTAssertEqual(try relativeDifference(path("whole.model"), path("resumed.model")), 0)
    }

    /// Evaluation and batch prediction split their input over 2 ranks and gather the results in
    /// order: the figures and every prediction printed equal one process's.
    func testEvaluationAndPredictionOnTwoRanksPrintWhatOneProcessPrints() throws {
        _ = try mpirun()
        let commands = Dictionary(uniqueKeysWithValues: try trainingCommands().map { ($0.name, $0.arguments) })
        var runs: [(name: String, arguments: [String])] = []
        for name in ["classify", "seq2seq", "speech"] {
            let model = path("\(name)-eval.model")
            let trained = try runCLI((commands[name] ?? []) + ["--max-steps", "6", "-o", model])
            XCTAssertEqual(trained.status, 0, "\(name): \(trained.stderr)")
            switch name {
            case "classify":
                let digits = repositoryFile("Data/digits-8x8.csv")
                runs += [("classify evaluate", ["classify", "evaluate", model, digits, "--json"]),
                         ("classify predict", ["classify", "predict", model, "--input", digits, "--json"])]
            case "seq2seq":
                runs += [("seq2seq evaluate", ["seq2seq", "evaluate", model, path("g2p.tsv"), "--beam", "2", "--json"])]
            default:
                runs += [("speech evaluate", ["speech", "evaluate", model, path("speech.tsv"), "--threads", "1", "--json"])]
            }
        }
        for (name, arguments) in runs {
            let one = try runCLI(arguments)
            XCTAssertEqual(one.status, 0, "\(name): \(one.stderr)")
            let two = try twoRanks(arguments)
            XCTAssertEqual(two.status, 0, "\(name): \(two.stderr)")
            XCTAssertTrue(two.stderr.contains("split over 2 ranks"), "\(name): \(two.stderr)")
            XCTAssertFalse(one.stdout.isEmpty, name)
            XCTAssertEqual(two.stdout, one.stdout, name)
        }
    }

    /// The ranks on two "hosts", network namespaces joined by a veth pair, so that Open MPI
    /// joins them over TCP (scripts/mpi-namespaces.sh): the run completes and ends with the
    /// model of the 2 ranks on shared memory, bit for bit (a sum of two terms has one order).
    func testTwoRanksInTwoNetworkNamespacesTrainOverTCPAsOnSharedMemory() throws {
        _ = try mpirun()
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") || FileManager.default.isExecutableFile(atPath: "/sbin/ip")
        else { throw XCTSkip("network namespaces need root and iproute2's ip: the test across namespaces is skipped") }
        let arguments = try textTraining()
        let shared = try twoRanks(arguments + ["-o", path("shared.model")])
        XCTAssertEqual(shared.status, 0, shared.stderr)
        let apart = try runProgram("/bin/bash", [repositoryFile("scripts/mpi-namespaces.sh"), productsDirectory.appendingPathComponent("recurrent").path]
                                + arguments + ["-o", path("apart.model")])
        if apart.status != 0, apart.stderr.contains("Operation not permitted") || apart.stderr.contains("Cannot create namespace") {
            throw XCTSkip("this machine forbids network namespaces: \(apart.stderr.split(separator: "\n").first ?? "")")
        }
        XCTAssertEqual(apart.status, 0, apart.stderr)
        XCTAssertTrue(apart.stderr.contains("the parameters are identical, bit for bit, on all 2 ranks"), apart.stderr)
        XCTAssertEqual(try relativeDifference(path("shared.model"), path("apart.model")), 0)
    }

    /// MPICH's launcher (hydra) starts the ranks with PMI_RANK and PMI_SIZE: they open MPICH's
    /// library, not Open MPI's, and train the model that 2 ranks of Open MPI train, bit for bit
    /// (each rank adds the same rows, and a sum of two partial sums has one result in IEEE
    /// arithmetic, whichever adds it), within 1e-5 relative of one process. Open MPI's library
    /// named under MPICH's launcher is refused in one line.
    func testTwoRanksUnderMPICHTrainTheModelOfTwoRanksUnderOpenMPI() throws {
        _ = try mpirun(.mpich)
        let arguments = try textTraining()
        let mpich = try twoRanks(arguments + ["-o", path("mpich.model")], on: .mpich)
        XCTAssertEqual(mpich.status, 0, mpich.stderr)
        XCTAssertTrue(mpich.stderr.contains("data-parallel training on 2 ranks (MPICH)"), mpich.stderr)
        XCTAssertTrue(mpich.stderr.contains("the parameters are identical, bit for bit, on all 2 ranks"), mpich.stderr)
        XCTAssertEqual(mpich.stdout.components(separatedBy: "wrote \(path("mpich.model"))").count, 2, "only rank 0 reports: \(mpich.stdout)")
        let one = try runCLI(arguments + ["-o", path("one.model")])
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertLessThanOrEqual(try relativeDifference(path("one.model"), path("mpich.model")), 1e-5)
        let openMPI = try twoRanks(arguments + ["-o", path("openmpi.model")])
        XCTAssertEqual(openMPI.status, 0, openMPI.stderr)
        XCTAssertTrue(openMPI.stderr.contains("(Open MPI)"), openMPI.stderr)
        XCTAssertEqual(try relativeDifference(path("openmpi.model"), path("mpich.model")), 0)

        // Open MPI's library under MPICH's launcher would start each rank alone, as a job of 1: refused.
        var environment = ProcessInfo.processInfo.environment
        environment["RECURRENT_MPI_LIBRARY"] = "libmpi.so.40"
        let binary = productsDirectory.appendingPathComponent("recurrent").path
        let wrong = try runProgram(try mpirun(.mpich).path, ["-np", "2", binary] + arguments + ["-o", path("wrong.model")], environment: environment)
        XCTAssertNotEqual(wrong.status, 0)
        XCTAssertTrue(wrong.stderr.contains("the launcher started 2 processes, but Open MPI's library sees 1"), wrong.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("wrong.model")))
    }

    func testRanksThatReadDifferentDataAreRefusedAtTheStart() throws {
        let (mpirun, options) = try mpirun()
        let binary = productsDirectory.appendingPathComponent("recurrent").path
        let texts = try corpus()
        let other = try write(String(repeating: "a different book. ", count: 600), to: "c.txt")
        let common = ["text", "train", "--level", "char", "--hidden", "16", "--threads", "1", "--max-steps", "5"]
        let result = try runProgram(mpirun, options + ["-np", "1", binary] + common + [texts[0], texts[1], "-o", path("x.model")]
                             + [":", "-np", "1", binary] + common + [other, texts[1], "-o", path("x.model")])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("the ranks disagree about the training data"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.model")))
    }
}
