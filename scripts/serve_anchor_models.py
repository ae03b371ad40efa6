"""Builds the served LSTMs of the load comparison from PyTorch, once, for both servers.

    python serve_anchor_models.py OUTDIR

For forecast-small (LSTM 1 -> 64) and charlm-medium (LSTM 64 -> 256, 2 layers), as in
../shared/bench/workloads.json: a seeded torch.nn.LSTM (batch_first), its state dict as
NAME.safetensors with NAME.json (what `recurrent import torch` reads), and the same module
exported to NAME.onnx (inputs x, h0, c0; outputs y, h_n, c_n; batch and time dynamic) for the
FastAPI + uvicorn + onnxruntime anchor. Run with the anchors' Python
($(../shared/bench/anchors-env): torch, onnx, onnxruntime, safetensors).
"""
import json
import os
import sys

import numpy as np
import onnxruntime
import torch
from safetensors.torch import save_file

WORKLOADS = {"forecast-small": (1, 64, 1), "charlm-medium": (64, 256, 2)}


class Wrapped(torch.nn.Module):
    def __init__(self, lstm):
        super().__init__()
        self.lstm = lstm

    def forward(self, x, h0, c0):
        y, (h, c) = self.lstm(x, (h0, c0))
        return y, h, c


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, (inputs, hidden, layers) in WORKLOADS.items():
        torch.manual_seed(0)
        lstm = torch.nn.LSTM(inputs, hidden, num_layers=layers, batch_first=True).eval()
        save_file({k: v.contiguous() for k, v in lstm.state_dict().items()}, f"{out}/{name}.safetensors")
        with open(f"{out}/{name}.json", "w") as f:
            json.dump({"cell": "lstm", "input_size": inputs, "hidden_size": hidden, "num_layers": layers}, f)
        x = torch.randn(2, 5, inputs)
        h0 = torch.zeros(layers, 2, hidden)
        torch.onnx.export(Wrapped(lstm), (x, h0, h0), f"{out}/{name}.onnx", input_names=["x", "h0", "c0"],
                          output_names=["y", "h_n", "c_n"], opset_version=17, dynamo=False,
                          dynamic_axes={"x": {0: "batch", 1: "time"}, "h0": {1: "batch"}, "c0": {1: "batch"},
                                        "y": {0: "batch", 1: "time"}, "h_n": {1: "batch"}, "c_n": {1: "batch"}})
        session = onnxruntime.InferenceSession(f"{out}/{name}.onnx")
        y = session.run(None, {"x": x.numpy(), "h0": h0.numpy(), "c0": h0.numpy()})[0]
        with torch.no_grad():
            expected = lstm(x)[0].numpy()
        print(f"{name}: exported; ONNX Runtime vs PyTorch max difference {np.abs(y - expected).max():.2e}")


if __name__ == "__main__":
    main()
