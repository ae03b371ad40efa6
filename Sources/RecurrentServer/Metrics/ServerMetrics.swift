import Prometheus

/// The server's counters and histograms, exposed at /metrics in Prometheus' text format. The
/// names follow Triton's where one exists (nv_inference_request_success -> recurrent_inference_
/// requests_total{outcome="success"}, nv_inference_queue_duration_us -> the queue histogram).
///
/// Label values are loaded model names and route names only, never raw request text, so a
/// client cannot grow the registry without bound.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    private static func descriptor(_ name: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "recurrent", metricName: name, unitName: unit, helpText: help)
    }

    static var requests: MetricNameDescriptor { descriptor("inference_requests", unit: "total",
                                     help: "Requests by model, endpoint and outcome (success, client_error, rejected, server_error).") }
    static var requestDuration: MetricNameDescriptor { descriptor("request_duration", unit: "seconds", help: "Time from a request's arrival to its response.") }
    static var queueDuration: MetricNameDescriptor { descriptor("inference_queue_duration", unit: "seconds",
                                          help: "Time a request waited for the model thread (including the batching delay).") }
    static var computeDuration: MetricNameDescriptor { descriptor("inference_compute_duration", unit: "seconds", help: "Time the model thread spent on one batch or task call.") }
    static var batchSize: MetricNameDescriptor { descriptor("inference_batch_size", unit: "", help: "Rows in each batch run (dynamic batching joins requests).") }
    static var sessions: MetricNameDescriptor { descriptor("live_sequences", unit: "", help: "Sequences (sessions) whose recurrent state the server holds.") }

    static let latencyBuckets: [Double] = [25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 0.1, 0.25, 0.5, 1, 2.5, 10]
    static let batchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256]

    func request(model: String, endpoint: String, outcome: String, seconds: Double) {
        registry.makeCounter(descriptor: Self.requests, labels: [("model", model), ("endpoint", endpoint), ("outcome", outcome)]).increment()
        registry.makeValueHistogram(descriptor: Self.requestDuration, labels: [("model", model), ("endpoint", endpoint)],
                                    buckets: Self.latencyBuckets).record(seconds)
    }

    func queueTime(model: String, seconds: Double) {
        registry.makeValueHistogram(descriptor: Self.queueDuration, labels: [("model", model)], buckets: Self.latencyBuckets).record(seconds)
    }

    func computeTime(model: String, seconds: Double) {
        registry.makeValueHistogram(descriptor: Self.computeDuration, labels: [("model", model)], buckets: Self.latencyBuckets).record(seconds)
    }

    func batchSize(model: String, size: Int) {
        registry.makeValueHistogram(descriptor: Self.batchSize, labels: [("model", model)], buckets: Self.batchBuckets).record(Double(size))
    }

    func liveSessions(model: String, count: Int) {
        registry.makeGauge(descriptor: Self.sessions, labels: [("model", model)]).set(Double(count))
    }

    /// Every series starts at zero for each model, so that scrapes see them before traffic.
    func register(models: [String]) {
        for model in models {
            liveSessions(model: model, count: 0)
            _ = registry.makeValueHistogram(descriptor: Self.queueDuration, labels: [("model", model)], buckets: Self.latencyBuckets)
            _ = registry.makeValueHistogram(descriptor: Self.computeDuration, labels: [("model", model)], buckets: Self.latencyBuckets)
            _ = registry.makeValueHistogram(descriptor: Self.batchSize, labels: [("model", model)], buckets: Self.batchBuckets)
        }
    }

    func text() -> [UInt8] { registry.emitToBuffer() }
}
