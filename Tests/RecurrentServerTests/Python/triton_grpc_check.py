"""tritonclient[grpc], with its defaults, against `recurrent serve`'s gRPC port.

    python triton_grpc_check.py HOST:GRPC_PORT WORKDIR

WORKDIR holds lstm.in.safetensors and lstm.out.safetensors: an input and what `recurrent run`
gave for it. Checks health and metadata, inference (raw contents, tritonclient's way) equal to
`recurrent run` bit for bit, typed contents through the protocol's own stub (KServe's way),
sequences through infer and through the stream (start_stream / async_stream_infer) equal to the
whole-sequence call, BYTES tensors of the task models, and errors. Prints one line per check;
exits 1 at the first failure.
"""
import queue
import sys

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from triton_client_check import check, read_safetensors


def tensor(name, array):
    datatype = {np.dtype(np.float32): "FP32", np.dtype(np.int64): "INT64", np.dtype(np.float64): "FP64",
                np.dtype(object): "BYTES"}[array.dtype]
    value = grpcclient.InferInput(name, list(array.shape), datatype)
    value.set_data_from_numpy(array)
    return value


def same_bits(a, b):
    return a.dtype == np.float32 and a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def main():
    url, workdir = sys.argv[1], sys.argv[2]
    client = grpcclient.InferenceServerClient(url)
    check(client.is_server_live() and client.is_server_ready(), "server live and ready")
    metadata = client.get_server_metadata()
    check({"binary_tensor_data", "sequence"} <= set(metadata.extensions), f"extensions {list(metadata.extensions)}")
    check(client.is_model_ready("lstm"), "model lstm ready")
    model = client.get_model_metadata("lstm")
    check([t.name for t in model.inputs] == ["x", "h0", "c0", "lengths"], "lstm inputs x, h0, c0, lengths")
    check(list(model.inputs[0].shape) == [-1, -1, 4], f"x's shape {list(model.inputs[0].shape)}")
    check([t.name for t in model.outputs] == ["y", "h_n", "c_n"], "lstm outputs y, h_n, c_n")
    index = client.get_model_repository_index()
    check("lstm" in [m.name for m in index.models], "the repository index lists lstm")

    inputs = read_safetensors(f"{workdir}/lstm.in.safetensors")
    expected = read_safetensors(f"{workdir}/lstm.out.safetensors")
    sent = [tensor(name, np.ascontiguousarray(inputs[name])) for name in ("x", "h0", "c0", "lengths")]
    result = client.infer("lstm", sent, request_id="r-1")
    check(result.get_response().id == "r-1", "the response carries the request's id")
    for name in ("y", "h_n", "c_n"):
        check(same_bits(result.as_numpy(name), expected[name]), f"{name} equals recurrent run's bit for bit")
    only = client.infer("lstm", sent, outputs=[grpcclient.InferRequestedOutput("c_n")])
    check(only.as_numpy("y") is None and same_bits(only.as_numpy("c_n"), expected["c_n"]), "an output asked for comes alone")

    # KServe's way: typed contents, through the protocol's stub (not tritonclient's helpers).
    import grpc
    stub = service_pb2_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(url))
    request = service_pb2.ModelInferRequest(model_name="lstm")
    for name in ("x", "h0", "c0"):
        value = request.inputs.add(name=name, datatype="FP32", shape=list(inputs[name].shape))
        value.contents.fp32_contents.extend(inputs[name].ravel().tolist())
    value = request.inputs.add(name="lengths", datatype="INT64", shape=list(inputs["lengths"].shape))
    value.contents.int64_contents.extend(inputs["lengths"].ravel().tolist())
    reply = stub.ModelInfer(request)
    y = np.frombuffer(reply.raw_output_contents[0], dtype="<f4").reshape(list(reply.outputs[0].shape))
    check(same_bits(y, expected["y"]), "typed contents give recurrent run's y bit for bit")

    # Sequences, one step per request: through infer, then through the stream.
    x = np.ascontiguousarray(inputs["x"][:1])
    steps = x.shape[1]
    whole = client.infer("lstm", [tensor("x", x)])
    pieces = []
    for t in range(steps):
        step = client.infer("lstm", [tensor("x", np.ascontiguousarray(x[:, t:t + 1]))],
                            sequence_id=2002, sequence_start=(t == 0), sequence_end=(t == steps - 1))
        pieces.append(step.as_numpy("y"))
    check(same_bits(np.concatenate(pieces, axis=1), whole.as_numpy("y")), "a sequence sent one step at a time gives the whole call's y")

    answers = queue.Queue()
    client.start_stream(callback=lambda result, error: answers.put((result, error)))
    for t in range(steps):
        client.async_stream_infer("lstm", [tensor("x", np.ascontiguousarray(x[:, t:t + 1]))], request_id=f"s{t}",
                                  sequence_id="stream-a", sequence_start=(t == 0), sequence_end=(t == steps - 1))
    client.async_stream_infer("lstm", [tensor("x", np.zeros((1, 1, 3), np.float32))], request_id="bad")
    received = [answers.get(timeout=60) for _ in range(steps + 1)]
    client.stop_stream()
    results = [result for result, error in received[:steps]]
    check(all(error is None for _, error in received[:steps]), "every streamed step answered")
    check([r.get_response().id for r in results] == [f"s{t}" for t in range(steps)], "streamed answers come in order")
    check(same_bits(np.concatenate([r.as_numpy("y") for r in results], axis=1), whole.as_numpy("y")),
          "a sequence over the stream gives the whole call's y bit for bit")
    check(same_bits(results[-1].as_numpy("h_n"), whole.as_numpy("h_n")), "and its last h_n")
    bad = received[steps][1]
    check(bad is not None and "shape [1, 1, 3]" in str(bad), f"a bad request on the stream is answered with its error: {bad}")

    # The task models' own tensors.
    texts = np.array([b"A gorgeous, moving film.", b"Tedious and empty."], dtype=object)
    classified = client.infer("sentiment", [tensor("text", texts)])
    labels = classified.as_numpy("label")
    check(labels.shape == (2,) and set(labels) <= {b"fresh", b"rotten"}, f"classify labels {labels}")
    check(np.allclose(classified.as_numpy("probabilities").sum(axis=1), 1, atol=1e-5), "class probabilities sum to 1")
    generated = client.infer("bard", [tensor("text_input", np.array([b"ROMEO."], dtype=object))],
                             parameters={"max_tokens": 12, "seed": 3})
    text = generated.as_numpy("text_output")[0].decode()
    check(len(text) == 12, f"text_output of 12 characters: {text!r}")
    history = np.array([112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118, 115, 126, 141, 135, 125, 149, 170, 170, 158, 133],
                       dtype=np.float64)
    forecast = client.infer("airline", [tensor("history", history)], parameters={"steps": 4}).as_numpy("forecast")
    check(forecast.shape == (4,) and np.all(np.isfinite(forecast)), f"forecast of 4 steps {forecast}")

    # Errors reach the client as exceptions with the server's message and a gRPC status.
    for call, fragment, status in [
        (lambda: client.infer("lstm", [tensor("x", np.zeros((1, 2, 3), np.float32))]), "shape [1, 2, 3]", "INVALID_ARGUMENT"),
        (lambda: client.infer("nope", [tensor("x", np.zeros((1, 2, 4), np.float32))]), "unknown model", "NOT_FOUND"),
        (lambda: client.infer("lstm", [tensor("x", np.zeros((1, 1, 4), np.float32))], sequence_id=424242), "never started", "INVALID_ARGUMENT"),
        (lambda: client.get_model_metadata("nope"), "unknown model", "NOT_FOUND"),
    ]:
        try:
            call()
            check(False, f"an error mentioning {fragment!r}")
        except InferenceServerException as error:
            check(fragment in str(error) and status in str(error.status()), f"error {error.status()}: {error.message()}")
    check(client.is_server_live(), "the server keeps serving")
    print("all tritonclient.grpc checks passed")


if __name__ == "__main__":
    main()
