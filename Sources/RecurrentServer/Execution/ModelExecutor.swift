import Foundation
import Recurrent

/// Runs every model, one call at a time: the kernels' thread pool, the recording switch and the
/// models' packed-weight caches are process-wide. Work waits on a queue for the model thread;
/// but a tensor request that finds the queue empty and no model code running, and no batching
/// delay to wait for, runs at once on the handler's own thread, which saves two thread wake-ups
/// (there and back) per request at low load. Either way `busy` keeps one call at a time.
///
/// Dynamic batching, as Triton's dynamic batcher: tensor requests for the same model that are
/// waiting together (or arrive within `batchDelay` of the oldest) run as one batch of up to
/// `maxBatch` requests, padded along T with each row's length, and each request gets its rows.
final class ModelExecutor: @unchecked Sendable {
    struct Options {
        var maxBatch = 8
        /// Seconds the oldest request may wait for others to join its batch.
        var batchDelay = 0.0
    }

    /// A tensor request waiting for its batch.
    final class TensorJob {
        let model: ServedModel
        var inputs: ModelRunner.Inputs
        let sequence: SequenceControl?
        let enqueued: Double
        let finish: (Result<[String: Tensor], ServerError>) -> Void

        init(model: ServedModel, inputs: ModelRunner.Inputs, sequence: SequenceControl?, enqueued: Double,
             finish: @escaping (Result<[String: Tensor], ServerError>) -> Void) {
            self.model = model
            self.inputs = inputs
            self.sequence = sequence
            self.enqueued = enqueued
            self.finish = finish
        }
    }

    enum Job {
        case tensors(TensorJob)
        /// Any other model work (a task endpoint, one token of a generation), run alone.
        case work(model: ServedModel, enqueued: Double, run: () -> Void)

        var enqueued: Double {
            switch self {
            case .tensors(let job): return job.enqueued
            case .work(_, let enqueued, _): return enqueued
            }
        }
    }

    let options: Options
    let sessions: SessionStore
    let metrics: ServerMetrics
    private let condition = NSCondition()
    private var queue: [Job] = []
    private var stopping = false
    /// Whether model code runs now (on the model thread or a handler's).
    private var busy = false
    private var thread: Thread?

    init(options: Options, sessions: SessionStore, metrics: ServerMetrics) {
        self.options = options
        self.sessions = sessions
        self.metrics = metrics
        sessions.onCountChange = { model, count in metrics.liveSessions(model: model, count: count) }
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }

    func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "recurrent-models"
        thread.stackSize = 16 << 20
        self.thread = thread
        thread.start()
    }

    /// Lets the thread end once the queue is empty.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func enqueue(_ job: Job) {
        condition.lock()
        queue.append(job)
        condition.signal()
        condition.unlock()
    }

    // MARK: - Submitting

    /// Runs tensors through the model, in a batch with others where it can.
    func infer(_ model: ServedModel, inputs: ModelRunner.Inputs, sequence: SequenceControl?) async throws -> [String: Tensor] {
        if let result = runAtOnceIfIdle(model, inputs: inputs, sequence: sequence) { return try result.get() }
        return try await withCheckedThrowingContinuation { continuation in
            enqueue(.tensors(TensorJob(model: model, inputs: inputs, sequence: sequence, enqueued: Self.now()) { result in
                continuation.resume(with: result.mapError { $0 as any Error })
            }))
        }
    }

    /// Runs `body` on the model thread. A `RecurrentError` becomes a 400 naming the problem.
    func run<T: Sendable>(_ model: ServedModel, _ body: @escaping () throws -> T) async throws -> T {
        let enqueued = Self.now()
        let box = UncheckedBox(body)
        return try await withCheckedThrowingContinuation { continuation in
            enqueue(.work(model: model, enqueued: enqueued) { [metrics] in
                let started = Self.now()
                metrics.queueTime(model: model.name, seconds: started - enqueued)
                let result = Result { try Self.mappingErrors(box.value) }
                metrics.computeTime(model: model.name, seconds: Self.now() - started)
                continuation.resume(with: result)
            })
        }
    }

    /// Runs a request on the calling thread when nothing waits and nothing runs (nil otherwise).
    /// A batching delay asks the oldest request to wait for partners, so then it never applies.
    private func runAtOnceIfIdle(_ model: ServedModel, inputs: ModelRunner.Inputs, sequence: SequenceControl?) -> Result<[String: Tensor], ServerError>? {
        guard options.batchDelay == 0 else { return nil }
        condition.lock()
        guard queue.isEmpty, !busy, !stopping else {
            condition.unlock()
            return nil
        }
        busy = true
        condition.unlock()
        var outcome: Result<[String: Tensor], ServerError>?
        runBatch([TensorJob(model: model, inputs: inputs, sequence: sequence, enqueued: Self.now()) { outcome = $0 }])
        finishRunning()
        return outcome ?? .failure(.internalFault("the model gave no result"))
    }

    /// Ends a call's hold on the models and wakes the model thread if work arrived meanwhile.
    private func finishRunning() {
        condition.lock()
        busy = false
        if !queue.isEmpty { condition.signal() }
        condition.unlock()
    }

    static func mappingErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as RecurrentError {
            throw ServerError.badRequest(error.description)
        }
    }

    // MARK: - The thread

    private func loop() {
        while let batch = nextBatch() {
            switch batch {
            case .work(let run): run()
            case .tensors(let jobs): runBatch(jobs)
            }
            finishRunning()
        }
    }

    private enum Batch {
        case work(() -> Void)
        case tensors([TensorJob])
    }

    /// Waits for work and for the models to be free (then marks them busy); for tensors, waits
    /// up to the batch delay for more of the same model.
    private func nextBatch() -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if !busy { sessions.sweep(now: Self.now()) }
            if queue.isEmpty, stopping, !busy { return nil }
            if queue.isEmpty || busy {
                _ = condition.wait(until: Date(timeIntervalSinceNow: 1))
                continue
            }
            busy = true
            switch queue[0] {
            case .work(_, _, let run):
                queue.removeFirst()
                return .work(run)
            case .tensors(let first):
                let deadline = first.enqueued + options.batchDelay
                while options.batchDelay > 0, partners(of: first).count < options.maxBatch, Self.now() < deadline {
                    _ = condition.wait(until: Date(timeIntervalSinceNow: max(0, deadline - Self.now())))
                }
                let chosen = partners(of: first)
                let ids = Set(chosen.map { ObjectIdentifier($0) })
                queue.removeAll { job in
                    if case .tensors(let tensorJob) = job { return ids.contains(ObjectIdentifier(tensorJob)) }
                    return false
                }
                return .tensors(chosen)
            }
        }
    }

    /// The jobs that can run with `first`, oldest first: the same model and compatible shapes,
    /// at most one request of each sequence, up to the batch limit.
    private func partners(of first: TensorJob) -> [TensorJob] {
        var chosen = [first], sequences = Set(first.sequence.map { [$0.key] } ?? [])
        for case .tensors(let job) in queue.dropFirst() where chosen.count < options.maxBatch {
            guard job.model === first.model, first.model.runner.canBatch(job.inputs, with: first.inputs) else { continue }
            if let key = job.sequence?.key {
                guard sequences.insert(key).inserted else { continue }
            }
            chosen.append(job)
        }
        return chosen
    }

    private func runBatch(_ jobs: [TensorJob]) {
        let started = Self.now()
        var ready: [TensorJob] = []
        for job in jobs {
            metrics.queueTime(model: job.model.name, seconds: started - job.enqueued)
            guard let sequence = job.sequence else {
                ready.append(job)
                continue
            }
            do {
                let state = try sessions.initialState(for: sequence, inputs: job.inputs)
                job.inputs.h0 = state.hidden
                job.inputs.c0 = state.cell
                ready.append(job)
            } catch let error as ServerError {
                job.finish(.failure(error))
            } catch {
                job.finish(.failure(.internalFault("\(error)")))
            }
        }
        guard let model = ready.first?.model else { return }
        metrics.batchSize(model: model.name, size: ready.reduce(0) { $0 + $1.inputs.x.shape[0] })
        do {
            let outputs = try model.runner.run(batch: ready.map(\.inputs))
            let now = Self.now()
            for (job, share) in zip(ready, outputs) {
                if let sequence = job.sequence { sessions.store(sequence, hidden: share["h_n"], cell: share["c_n"], now: now) }
                job.finish(.success(share))
            }
        } catch {
            // Inputs were checked before they were queued, so this is rare; run each alone so
            // that only the request at fault fails.
            if ready.count > 1 {
                for job in ready { runAlone(job) }
            } else {
                ready[0].finish(.failure(Self.serverError(error)))
            }
        }
        metrics.computeTime(model: model.name, seconds: Self.now() - started)
    }

    private func runAlone(_ job: TensorJob) {
        do {
            let outputs = try job.model.runner.run(job.inputs)
            if let sequence = job.sequence { sessions.store(sequence, hidden: outputs["h_n"], cell: outputs["c_n"], now: Self.now()) }
            job.finish(.success(outputs))
        } catch {
            job.finish(.failure(Self.serverError(error)))
        }
    }

    static func serverError(_ error: any Error) -> ServerError {
        switch error {
        case let error as ServerError: return error
        case let error as RecurrentError: return .badRequest(error.description)
        default: return .internalFault("\(error)")
        }
    }
}

/// Carries a value the compiler cannot prove Sendable to the model thread, which alone uses it.
final class UncheckedBox<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}
