"""tritonclient[http], with its defaults, against `recurrent serve`.

    python triton_client_check.py HOST:PORT WORKDIR

WORKDIR holds lstm.in.safetensors and lstm.out.safetensors: an input and what `recurrent run`
gave for it. Checks metadata, inference with binary tensors (tritonclient's default) and with
JSON, outputs equal to `recurrent run`'s bit for bit, sequences (sequence_id, sequence_start,
sequence_end) equal to the whole-sequence call, BYTES tensors of the task models, and errors.
Prints one line per check; exits 1 at the first failure.
"""
import struct
import sys

import numpy as np
import tritonclient.http as http
from tritonclient.utils import InferenceServerException


def read_safetensors(path):
    """A minimal safetensors reader (F32 and I64), so no other package is needed."""
    import json
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        dtype = {"F32": np.float32, "I64": np.int64}[entry["dtype"]]
        tensors[name] = np.frombuffer(data[start:end], dtype=dtype).reshape(entry["shape"])
    return tensors


def check(condition, what):
    if not condition:
        print(f"FAILED: {what}")
        sys.exit(1)
    print(f"ok: {what}")


def tensor(name, array, binary=True):
    datatype = {np.dtype(np.float32): "FP32", np.dtype(np.int64): "INT64", np.dtype(object): "BYTES"}[array.dtype]
    value = http.InferInput(name, list(array.shape), datatype)
    value.set_data_from_numpy(array, binary_data=binary)
    return value


def main():
    url, workdir = sys.argv[1], sys.argv[2]
    client = http.InferenceServerClient(url)
    check(client.is_server_live() and client.is_server_ready(), "server live and ready")
    metadata = client.get_server_metadata()
    check({"binary_tensor_data", "sequence", "generate"} <= set(metadata["extensions"]), f"extensions {metadata['extensions']}")
    check(client.is_model_ready("lstm"), "model lstm ready")
    model = client.get_model_metadata("lstm")
    check([t["name"] for t in model["inputs"]] == ["x", "h0", "c0", "lengths"], "lstm inputs x, h0, c0, lengths")
    check([t["name"] for t in model["outputs"]] == ["y", "h_n", "c_n"], "lstm outputs y, h_n, c_n")

    inputs = read_safetensors(f"{workdir}/lstm.in.safetensors")
    expected = read_safetensors(f"{workdir}/lstm.out.safetensors")
    for binary in (True, False):
        sent = [tensor(name, np.ascontiguousarray(inputs[name]), binary) for name in ("x", "h0", "c0", "lengths")]
        result = client.infer("lstm", sent)  # no outputs named: all of them, binary (tritonclient's default)
        for name in ("y", "h_n", "c_n"):
            got = result.as_numpy(name)
            check(got.dtype == np.float32 and np.array_equal(got.view(np.uint32), expected[name].view(np.uint32)),
                  f"{name} equals recurrent run's bit for bit ({'binary' if binary else 'JSON'} inputs)")
    json_out = client.infer("lstm", [tensor("x", np.ascontiguousarray(inputs["x"]))],
                            outputs=[http.InferRequestedOutput("y", binary_data=False)])
    check(json_out.get_output("y")["data"] is not None, "an output asked for as JSON comes as JSON")

    # Sequences: one step at a time equals the whole sequence.
    x = np.ascontiguousarray(inputs["x"][:1])
    steps = x.shape[1]
    whole = client.infer("lstm", [tensor("x", x)])
    pieces = []
    for t in range(steps):
        step = client.infer("lstm", [tensor("x", np.ascontiguousarray(x[:, t:t + 1]))],
                            sequence_id=1001, sequence_start=(t == 0), sequence_end=(t == steps - 1))
        pieces.append(step.as_numpy("y"))
        final = step
    check(np.array_equal(np.concatenate(pieces, axis=1).view(np.uint32), whole.as_numpy("y").view(np.uint32)),
          "a sequence sent one step at a time gives the whole call's y bit for bit")
    check(np.array_equal(final.as_numpy("h_n").view(np.uint32), whole.as_numpy("h_n").view(np.uint32)),
          "and its last h_n")
    string_id = client.infer("lstm", [tensor("x", np.ascontiguousarray(x[:, :1]))], sequence_id="session-a", sequence_start=True)
    check(string_id.as_numpy("y").shape == (1, 1, 6), "a string sequence_id starts a sequence")
    client.infer("lstm", [tensor("x", np.ascontiguousarray(x[:, 1:2]))], sequence_id="session-a", sequence_end=True)

    # The task models' own tensors.
    texts = np.array([b"A gorgeous, moving film.", b"Tedious and empty."], dtype=object)
    classified = client.infer("sentiment", [tensor("text", texts)])
    labels = classified.as_numpy("label")
    probabilities = classified.as_numpy("probabilities")
    check(labels.shape == (2,) and set(labels) <= {b"fresh", b"rotten"}, f"classify labels {labels}")
    check(probabilities.shape == (2, 2) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5), "class probabilities sum to 1")
    generated = client.infer("bard", [tensor("text_input", np.array([b"ROMEO."], dtype=object))],
                             parameters={"max_tokens": 12, "seed": 3})
    text = generated.as_numpy("text_output")[0].decode()
    check(len(text) == 12, f"text_output of 12 characters: {text!r}")
    history = np.array([112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118, 115, 126, 141, 135, 125, 149, 170, 170, 158, 133],
                       dtype=np.float64)
    value = http.InferInput("history", [len(history)], "FP64")
    value.set_data_from_numpy(history)
    forecast = client.infer("airline", [value], parameters={"steps": 4}).as_numpy("forecast")
    check(forecast.shape == (4,) and np.all(np.isfinite(forecast)), f"forecast of 4 steps {forecast}")
    if client.is_model_ready("m3"):
        # A model of many series: one series' history through infer, its metadata as Triton shows it.
        inputs = {i["name"]: i for i in client.get_model_metadata("m3")["inputs"]}
        check(inputs.get("history", {}).get("datatype") == "FP64", f"m3 takes a history: {sorted(inputs)}")
        many = client.infer("m3", [value], parameters={"steps": 6}).as_numpy("forecast")
        check(many.shape == (6,) and np.all(np.isfinite(many)), f"m3 forecast of 6 steps {many}")

    # Errors reach the client as exceptions with the server's message.
    for call, fragment in [
        (lambda: client.infer("lstm", [tensor("x", np.zeros((1, 2, 3), np.float32))]), "shape [1, 2, 3]"),
        (lambda: client.infer("nope", [tensor("x", np.zeros((1, 2, 4), np.float32))]), "unknown model"),
        (lambda: client.infer("lstm", [tensor("x", np.zeros((1, 1, 4), np.float32))], sequence_id=424242), "never started"),
    ]:
        try:
            call()
            check(False, f"an error mentioning {fragment!r}")
        except InferenceServerException as error:
            check(fragment in str(error) and error.status() in ("400", "404"), f"error {error.status()}: {error.message()}")
    print("all tritonclient checks passed")


if __name__ == "__main__":
    main()
