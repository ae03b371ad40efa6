import Foundation

/// The processes of a data-parallel run (MPI ranks): what the Trainer needs from them. Every
/// call is collective: each process makes the same calls in the same order. The library itself
/// has no MPI in it; the `RecurrentDistributed` module's `MPICommunicator` is one over MPI.
public protocol Communicator: AnyObject, Sendable {
    /// This process's number, 0..<size; process 0 prints and writes files.
    var rank: Int { get }
    var size: Int { get }
    /// Sums `values` element-wise over every process, in place; every process gets the same sums.
    func allReduceSum(_ values: inout [Float]) throws
    /// Process `root`'s `bytes`, given to every process (the others' `bytes` are replaced).
    func broadcast(_ bytes: inout [UInt8], from root: Int) throws
    /// Every process's `bytes`, in rank order, on every process.
    func allGather(_ bytes: [UInt8]) throws -> [[UInt8]]
    /// Called by `Trainer.fit` on every process once the run is over, before it returns.
    /// Processes other than 0 may end here: what follows training (test figures, files) is
    /// process 0's.
    func trainingEnded()
}

/// One of several training runs in a row on the same processes: everything passes to `job`
/// but the end of training, which the caller signals on `job` once the last run is over.
final class RunsInARow: Communicator {
    let job: any Communicator

    init(_ job: any Communicator) { self.job = job }

    var rank: Int { job.rank }
    var size: Int { job.size }
    func allReduceSum(_ values: inout [Float]) throws { try job.allReduceSum(&values) }
    func broadcast(_ bytes: inout [UInt8], from root: Int) throws { try job.broadcast(&bytes, from: root) }
    func allGather(_ bytes: [UInt8]) throws -> [[UInt8]] { try job.allGather(bytes) }
    func trainingEnded() {}
}

extension Communicator {
    /// The contiguous part of `0..<count` that this process takes: parts differ in size by at
    /// most one, the larger ones first.
    public func share(of count: Int) -> Range<Int> {
        Communicators.share(of: count, rank: rank, size: size)
    }

    /// Runs `body` on this process's share of `items` and gathers every result, in the order
    /// of `items`, on every process.
    public func mapInOrder<Item, Result: Codable>(_ items: [Item], _ body: (ArraySlice<Item>) throws -> [Result]) throws -> [Result] {
        let part = share(of: items.count)
        let mine = try body(items[part])
        // JSON writes every Float and Double in the shortest form that reads back to its bits;
        // infinities and NaN, which JSON lacks, as strings.
        let encoder = JSONEncoder(), decoder = JSONDecoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let encoded = try encoder.encode(mine)
        var results: [Result] = []
        for (rank, bytes) in try allGather(Array(encoded)).enumerated() {
            do {
                results += try decoder.decode([Result].self, from: Data(bytes))
            } catch {
                throw RecurrentError.invalidArgument("the results of rank \(rank) do not decode: \(error)")
            }
        }
        return results
    }

    /// Throws on every process when the processes hold different `fingerprint`s of `what`, naming
    /// the first one that differs from process 0.
    public func checkAgreement(on fingerprint: UInt64, what: String) throws {
        let all = try allGather(withUnsafeBytes(of: fingerprint.littleEndian) { Array($0) })
        let values = all.map { bytes in bytes.count == 8 ? bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) } : 0 }
        if let other = values.indices.first(where: { values[$0] != values[0] }) {
            throw RecurrentError.invalidArgument(String(
                format: "the ranks disagree about %@: rank %d holds %016llx, rank 0 %016llx; every rank must read the same files with the same options",
                what, other, values[other], values[0]))
        }
    }
}

/// A sum of losses with the number of terms in it: what a process sends of its share of an
/// evaluation, combined in a fixed order so that the figure does not depend on the split.
public struct LossSum: Codable, Sendable {
    public var total: Double = 0
    public var count: Int = 0

    public init(total: Double = 0, count: Int = 0) {
        self.total = total
        self.count = count
    }

    /// The mean per term (0 without terms).
    public var mean: Double { count > 0 ? total / Double(count) : 0 }

    /// The sums added in the order given.
    public static func combined(_ sums: [LossSum]) -> LossSum {
        sums.reduce(LossSum()) { LossSum(total: $0.total + $1.total, count: $0.count + $1.count) }
    }
}
