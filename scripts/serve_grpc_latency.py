"""One step of a streaming session, sent again and again by one client, through tritonclient's
HTTP client, its gRPC client (ModelInfer) and its gRPC stream (async_stream_infer): the latency a
Python user sees over each protocol, clients included.

    python serve_grpc_latency.py HTTP_HOST:PORT GRPC_HOST:PORT MODEL [REQUESTS]

MODEL is a recurrent model served by `recurrent serve` (float x [batch, seq, input]); the first
50 requests of each kind are left out as warm-up. Prints p50 and p99 per kind.
"""
import queue
import sys
import time

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient


def percentiles(seconds):
    ms = np.array(seconds[50:]) * 1e3
    return f"p50 {np.percentile(ms, 50):.3f} ms  p99 {np.percentile(ms, 99):.3f} ms"


def main():
    http_url, grpc_url, model = sys.argv[1:4]
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
    http = httpclient.InferenceServerClient(http_url)
    grpc = grpcclient.InferenceServerClient(grpc_url)
    width = int(grpc.get_model_metadata(model).inputs[0].shape[2])
    x = np.random.default_rng(1).random((1, 1, width)).astype(np.float32)

    def inputs(module):
        value = module.InferInput("x", [1, 1, width], "FP32")
        value.set_data_from_numpy(x)
        return [value]

    for label, call in [("http infer", lambda t: http.infer(model, inputs(httpclient), sequence_id=7, sequence_start=(t == 0))),
                        ("grpc infer", lambda t: grpc.infer(model, inputs(grpcclient), sequence_id=8, sequence_start=(t == 0)))]:
        times = []
        for t in range(count):
            start = time.perf_counter()
            call(t)
            times.append(time.perf_counter() - start)
        print(f"{label:12s} {percentiles(times)}")
    answers = queue.Queue()
    grpc.start_stream(callback=lambda result, error: answers.put((result, error)))
    times = []
    for t in range(count):
        start = time.perf_counter()
        grpc.async_stream_infer(model, inputs(grpcclient), sequence_id=9, sequence_start=(t == 0))
        result, error = answers.get(timeout=60)
        if error is not None:
            raise SystemExit(f"stream: {error}")
        times.append(time.perf_counter() - start)
    grpc.stop_stream()
    print(f"{'grpc stream':12s} {percentiles(times)}")


if __name__ == "__main__":
    main()
