#!/usr/bin/env python3
"""Batched LSTM inference of one shared workload, ONNX Runtime and recurrent-bench taking turns.

On a shared machine the speed of both moves by 10-30% within minutes; runs taken one after the
other (as `compare` does) can land in different phases. Here each round times ONNX Runtime (the
best of ten calls, as the shared `onnxruntime_rnn.py` does) and then runs each recurrent-bench
binary given (`--only WORKLOAD --phases infer`, its best of ten), so that every ratio is taken
within seconds. Prints every round and the median ratio.

Usage, from the repository's root, with the anchors' Python (`../shared/bench/anchors-env`):
  $(../shared/bench/anchors-env) Benchmarks/inference_alternating.py THREADS WORKLOAD ROUNDS BENCH...
e.g. ... 2 charlm-medium 9 .build/release/recurrent-bench /tmp/old-recurrent-bench
LSTM workloads only (charlm-medium, large, forecast-small).
"""
import io
import json
import os
import subprocess
import sys
import time

import onnxruntime as ort
import torch

if len(sys.argv) < 5:
    sys.exit(__doc__)
threads, name, rounds, binaries = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4:]
workloads = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench", "workloads.json")
spec = {w["name"]: w for w in json.load(open(workloads))["workloads"]}.get(name)
if spec is None or spec["cell"] != "lstm":
    sys.exit(f"{name}: not an LSTM workload of {workloads}")
I, H, L, B, S = spec["input"], spec["hidden"], spec["layers"], spec["batch"], spec["seq"]


class Wrap(torch.nn.Module):
    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, h, c):
        y, (h2, c2) = self.rnn(x, (h, c))
        return y, h2, c2


model = Wrap(torch.nn.LSTM(I, H, num_layers=L)).eval()
args = [torch.randn(S, B, I), torch.zeros(L, B, H), torch.zeros(L, B, H)]
exported = io.BytesIO()
torch.onnx.export(model, tuple(args), exported, input_names=["x", "h", "c"], dynamo=False)
options = ort.SessionOptions()
options.intra_op_num_threads = threads
session = ort.InferenceSession(exported.getvalue(), options, providers=["CPUExecutionProvider"])
feeds = {n: a.numpy() for n, a in zip(["x", "h", "c"], args)}

results = {"onnxruntime": []} | {b: [] for b in binaries}
for _ in range(rounds):
    session.run(None, feeds)
    best = float("inf")
    for _ in range(10):
        start = time.perf_counter()
        session.run(None, feeds)
        best = min(best, time.perf_counter() - start)
    results["onnxruntime"].append(round(B * S / best))
    for binary in binaries:
        out = subprocess.run([binary, "--threads", str(threads), "--only", name, "--phases", "infer"],
                             capture_output=True, text=True, check=True).stdout
        results[binary].append(round(json.loads(out.strip().splitlines()[-1])["infer_steps_per_s"]))


def median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if len(ordered) % 2 else (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2


for who, values in results.items():
    print(f"{who}: sequence steps/s {values}, median {median(values)}")
for binary in binaries:
    ratios = [round(a / o, 3) for a, o in zip(results[binary], results["onnxruntime"])]
    print(f"{binary} / onnxruntime: {ratios}, median {median(ratios)}")
