import Prometheus
import Synchronization

/// The server's counters and histograms, exposed at /metrics in Prometheus' text format. The
/// names follow Triton's where one exists (nv_inference_request_success -> recurrent_inference_
/// requests_total{outcome="success"}, nv_inference_queue_duration_us -> the queue histogram).
///
/// Label values are loaded model names and route names only, never raw request text, so a
/// client cannot grow the registry without bound.
///
/// The registry's make* calls build and check the name and help text of a series each time
/// (2.5% of a loaded server's samples at forecast-small, 1.0% once kept); each series is made
/// once and kept here, by its name and label values.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let counters = Mutex<[[String]: Counter]>([:])
    private let histograms = Mutex<[[String]: ValueHistogram]>([:])

    private func counter(_ descriptor: MetricNameDescriptor, _ labels: [(String, String)]) -> Counter {
        Self.kept(counters, descriptor, labels) { registry.makeCounter(descriptor: descriptor, labels: labels) }
    }

    private func histogram(_ descriptor: MetricNameDescriptor, _ labels: [(String, String)], buckets: [Double]) -> ValueHistogram {
        Self.kept(histograms, descriptor, labels) { registry.makeValueHistogram(descriptor: descriptor, labels: labels, buckets: buckets) }
    }

    /// The series of `descriptor` and the label values in `cache`, made the first time (two
    /// threads making it at once get the same one: the registry keeps one per name and labels).
    private static func kept<Metric: Sendable>(_ cache: borrowing Mutex<[[String]: Metric]>, _ descriptor: MetricNameDescriptor,
                                               _ labels: [(String, String)], make: () -> Metric) -> Metric {
        let key = [descriptor.metricName] + labels.map(\.1)
        if let metric = cache.withLock({ $0[key] }) { return metric }
        let made = make()
        cache.withLock { $0[key] = made }
        return made
    }

    private static func descriptor(_ name: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "recurrent", metricName: name, unitName: unit, helpText: help)
    }

    // Built once and never changed (MetricNameDescriptor is not marked Sendable).
    nonisolated(unsafe) static let requests = descriptor("inference_requests", unit: "total",
                                     help: "Requests by model, endpoint and outcome (success, client_error, rejected, server_error).")
    nonisolated(unsafe) static let requestDuration = descriptor("request_duration", unit: "seconds", help: "Time from a request's arrival to its response.")
    nonisolated(unsafe) static let queueDuration = descriptor("inference_queue_duration", unit: "seconds",
                                          help: "Time a request waited for the model thread (including the batching delay).")
    nonisolated(unsafe) static let computeDuration = descriptor("inference_compute_duration", unit: "seconds", help: "Time the model thread spent on one batch or task call.")
    nonisolated(unsafe) static let batchSize = descriptor("inference_batch_size", unit: "", help: "Rows in each batch run (dynamic batching joins requests).")
    nonisolated(unsafe) static let sessions = descriptor("live_sequences", unit: "", help: "Sequences (sessions) whose recurrent state the server holds.")

    static let latencyBuckets: [Double] = [25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 0.1, 0.25, 0.5, 1, 2.5, 10]
    static let batchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256]

    func request(model: String, endpoint: String, outcome: String, seconds: Double) {
        counter(Self.requests, [("model", model), ("endpoint", endpoint), ("outcome", outcome)]).increment()
        histogram(Self.requestDuration, [("model", model), ("endpoint", endpoint)], buckets: Self.latencyBuckets).record(seconds)
    }

    func queueTime(model: String, seconds: Double) {
        histogram(Self.queueDuration, [("model", model)], buckets: Self.latencyBuckets).record(seconds)
    }

    func computeTime(model: String, seconds: Double) {
        histogram(Self.computeDuration, [("model", model)], buckets: Self.latencyBuckets).record(seconds)
    }

    func batchSize(model: String, size: Int) {
        histogram(Self.batchSize, [("model", model)], buckets: Self.batchBuckets).record(Double(size))
    }

    func liveSessions(model: String, count: Int) {
        registry.makeGauge(descriptor: Self.sessions, labels: [("model", model)]).set(Double(count))
    }

    /// Every series starts at zero for each model, so that scrapes see them before traffic.
    func register(models: [String]) {
        for model in models {
            liveSessions(model: model, count: 0)
            _ = histogram(Self.queueDuration, [("model", model)], buckets: Self.latencyBuckets)
            _ = histogram(Self.computeDuration, [("model", model)], buckets: Self.latencyBuckets)
            _ = histogram(Self.batchSize, [("model", model)], buckets: Self.batchBuckets)
        }
    }

    func text() -> [UInt8] { registry.emitToBuffer() }
}
