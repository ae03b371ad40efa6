"""ONNX files written by torch.onnx.export (TorchScript exporter, opsets 14-17) from small PyTorch
recurrent modules, with PyTorch's outputs, for the import tests (Tests/RecurrentTests/ONNX).

For each case NAME: NAME.onnx and NAME.safetensors (the inputs, and PyTorch's outputs under
"expected.*"); cases.json lists the cases: how to feed them and what they return. PyTorch has
no reset-before GRU, so that case's graph is written with onnx.helper and its expected outputs
come from a NumPy GRU written from ONNX's equations (not from ONNX Runtime).

Usage: $(../shared/bench/anchors-env) scripts/onnx_fixtures.py [OUT_DIR]
(default Tests/RecurrentTests/Fixtures/onnx; every file there is small enough to commit).
"""
import io, json, os, sys, warnings
import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper, TensorProto
from safetensors.numpy import save_file

warnings.filterwarnings("ignore")
torch.manual_seed(0)
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "Tests", "RecurrentTests", "Fixtures", "onnx")
os.makedirs(out, exist_ok=True)
cases = []


class Stack(torch.nn.Module):
    """A recurrent module returning (y, h_n[, c_n]); optional lengths through a packed sequence."""

    def __init__(self, rnn, with_state, with_lengths):
        super().__init__()
        self.rnn, self.with_state, self.with_lengths = rnn, with_state, with_lengths

    def forward(self, x, *rest):
        rest = list(rest)
        lengths = rest.pop() if self.with_lengths else None
        state = None
        if self.with_state:
            state = tuple(rest) if isinstance(self.rnn, torch.nn.LSTM) else rest[0]
        if lengths is not None:
            packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=self.rnn.batch_first, enforce_sorted=True)
            y, final = self.rnn(packed, state)
            y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, batch_first=self.rnn.batch_first, total_length=x.shape[1 if self.rnn.batch_first else 0])
        else:
            y, final = self.rnn(x, state)
        return (y,) + (final if isinstance(final, tuple) else (final,))


class Head(torch.nn.Module):
    """[embedding ->] recurrent -> the last step, or the top layer's final state -> Linear."""

    def __init__(self, rnn, head, select, vocabulary=None):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocabulary, rnn.input_size) if vocabulary else None
        self.rnn, self.head, self.select = rnn, head, select

    def forward(self, x):
        if self.embedding is not None:
            x = self.embedding(x)
        y, final = self.rnn(x)
        h = final[0] if isinstance(final, tuple) else final
        if self.select == "steps":
            return self.head(y)
        if self.select == "last_step":
            last = y[:, -1] if self.rnn.batch_first else y[-1]
        elif self.rnn.bidirectional:
            last = torch.cat([h[-2], h[-1]], dim=1)
        else:
            last = h[-1]
        return self.head(last)


def export(name, module, args, input_names, output_names, opset, dynamic_axes, case):
    module.eval()
    buffer = io.BytesIO()
    torch.onnx.export(module, tuple(args), buffer, input_names=input_names, output_names=output_names,
                      opset_version=opset, dynamo=False, dynamic_axes=dynamic_axes)
    with open(os.path.join(out, name + ".onnx"), "wb") as f:
        f.write(buffer.getvalue())
    with torch.no_grad():
        results = module(*args)
    results = results if isinstance(results, tuple) else (results,)
    tensors = {n: a.numpy() for n, a in zip(input_names, args)}
    tensors.update({"expected." + n: r.numpy() for n, r in zip(output_names, results)})
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, os.path.join(out, name + ".safetensors"))
    cases.append(dict(case, name=name, opset=opset, inputs=input_names, outputs=output_names))


def stack_case(name, rnn, opset, with_state=True, lengths=None, batch=3, steps=5):
    batch_first = rnn.batch_first
    directions = 2 if rnn.bidirectional else 1
    x = torch.randn((batch, steps, rnn.input_size) if batch_first else (steps, batch, rnn.input_size))
    args, names = [x], ["x"]
    axes = {"x": {0: "batch", 1: "sequence"} if batch_first else {0: "sequence", 1: "batch"}}
    if with_state:
        for state in (["h0", "c0"] if isinstance(rnn, torch.nn.LSTM) else ["h0"]):
            args.append(0.5 * torch.randn(rnn.num_layers * directions, batch, rnn.hidden_size))
            names.append(state)
            axes[state] = {1: "batch"}
    if lengths is not None:
        args.append(torch.tensor(lengths, dtype=torch.int64))
        names.append("lengths")
        axes["lengths"] = {0: "batch"}
    outputs = ["y", "h_n"] + (["c_n"] if isinstance(rnn, torch.nn.LSTM) else [])
    for o in outputs:
        axes[o] = {0: "batch", 1: "sequence"} if (o == "y" and batch_first) else {0: "sequence", 1: "batch"} if o == "y" else {1: "batch"}
    export(name, Stack(rnn, with_state, lengths is not None), args, names, outputs, opset, axes,
           {"kind": "stack", "batch_first": batch_first})


def head_case(name, rnn, select, opset, vocabulary=None, batch=3, steps=6):
    module = Head(rnn, torch.nn.Linear(rnn.hidden_size * (2 if rnn.bidirectional else 1), 4), select, vocabulary)
    shape = (batch, steps) if rnn.batch_first else (steps, batch)
    x = torch.randint(0, vocabulary, shape) if vocabulary else torch.randn(shape + (rnn.input_size,))
    name_x = "tokens" if vocabulary else "x"
    sequence_axes = {0: "batch", 1: "sequence"} if rnn.batch_first else {0: "sequence", 1: "batch"}
    axes = {name_x: sequence_axes, "y": sequence_axes if select == "steps" else {0: "batch"}}
    export(name, module, [x], [name_x], ["y"], opset, axes, {"kind": "head", "batch_first": rnn.batch_first})


def reset_before_gru_case(name, opset=17, batch=3, steps=5, inputs=3, hidden=4):
    """A bidirectional GRU node with linear_before_reset = 0 (Keras' reset_after=False), written
    directly; expected outputs from a NumPy GRU following ONNX's equations."""
    rng = np.random.default_rng(0)
    W = rng.uniform(-0.5, 0.5, (2, 3 * hidden, inputs)).astype(np.float32)
    R = rng.uniform(-0.5, 0.5, (2, 3 * hidden, hidden)).astype(np.float32)
    B = rng.uniform(-0.5, 0.5, (2, 6 * hidden)).astype(np.float32)
    x = rng.standard_normal((steps, batch, inputs)).astype(np.float32)
    h0 = (0.5 * rng.standard_normal((2, batch, hidden))).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("GRU", ["x", "W", "R", "B", "", "h0"], ["Y", "h_n"], name="gru", hidden_size=hidden,
                          direction="bidirectional", linear_before_reset=0),
         helper.make_node("Transpose", ["Y"], ["Yt"], name="transpose", perm=[0, 2, 1, 3]),
         helper.make_node("Constant", [], ["shape"], name="shape", value=numpy_helper.from_array(np.array([0, 0, -1], np.int64))),
         helper.make_node("Reshape", ["Yt", "shape"], ["y"], name="reshape")],
        "reset_before_gru",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["sequence", "batch", inputs]),
         helper.make_tensor_value_info("h0", TensorProto.FLOAT, [2, "batch", hidden])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["sequence", "batch", 2 * hidden]),
         helper.make_tensor_value_info("h_n", TensorProto.FLOAT, [2, "batch", hidden])],
        [numpy_helper.from_array(W, "W"), numpy_helper.from_array(R, "R"), numpy_helper.from_array(B, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, os.path.join(out, name + ".onnx"))

    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    ys, finals = [], []
    for d in range(2):
        Wz, Wr, Wh = np.split(W[d].astype(np.float64), 3)
        Rz, Rr, Rh = np.split(R[d].astype(np.float64), 3)
        Wbz, Wbr, Wbh, Rbz, Rbr, Rbh = np.split(B[d].astype(np.float64), 6)
        h = h0[d].astype(np.float64)
        y = np.zeros((steps, batch, hidden))
        for t in (range(steps) if d == 0 else reversed(range(steps))):
            xt = x[t].astype(np.float64)
            z = sigmoid(xt @ Wz.T + h @ Rz.T + Wbz + Rbz)
            r = sigmoid(xt @ Wr.T + h @ Rr.T + Wbr + Rbr)
            n = np.tanh(xt @ Wh.T + (r * h) @ Rh.T + Rbh + Wbh)
            h = (1 - z) * n + z * h
            y[t] = h
        ys.append(y)
        finals.append(h)
    tensors = {"x": x, "h0": h0, "expected.y": np.concatenate(ys, axis=2).astype(np.float32),
               "expected.h_n": np.stack(finals).astype(np.float32)}
    save_file(tensors, os.path.join(out, name + ".safetensors"))
    cases.append({"name": name, "opset": opset, "kind": "stack", "batch_first": False, "inputs": ["x", "h0"], "outputs": ["y", "h_n"]})


stack_case("lstm_o14", torch.nn.LSTM(3, 5), 14)
stack_case("gru_bidirectional_2layers_batchfirst_o15", torch.nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True), 15)
stack_case("rnn_relu_2layers_zero_state_o16", torch.nn.RNN(3, 4, num_layers=2, nonlinearity="relu"), 16, with_state=False)
stack_case("rnn_tanh_bidirectional_o17", torch.nn.RNN(3, 4, bidirectional=True), 17)
stack_case("lstm_lengths_batchfirst_o17", torch.nn.LSTM(3, 4, batch_first=True), 17, with_state=False, lengths=[5, 3, 2])
stack_case("gru_bidirectional_lengths_o16", torch.nn.GRU(3, 4, bidirectional=True, num_layers=2), 16, with_state=False, lengths=[5, 4, 1])
stack_case("lstm_no_bias_o15", torch.nn.LSTM(3, 4, bias=False, num_layers=2), 15)
reset_before_gru_case("gru_reset_before_bidirectional_o17")
head_case("lstm_last_step_gemm_o14", torch.nn.LSTM(3, 5, batch_first=True), "last_step", 14)
head_case("gru_final_state_gemm_o17", torch.nn.GRU(3, 5, num_layers=2), "final_state", 17)
head_case("lstm_bidirectional_final_state_o16", torch.nn.LSTM(3, 4, bidirectional=True, batch_first=True), "final_state", 16)
head_case("gru_every_step_matmul_add_o17", torch.nn.GRU(3, 5, batch_first=True), "steps", 17)
head_case("embedding_gru_final_state_o15", torch.nn.GRU(6, 5, batch_first=True), "final_state", 15, vocabulary=11)

with open(os.path.join(out, "cases.json"), "w") as f:
    json.dump({"torch": torch.__version__, "onnx": onnx.__version__, "cases": cases}, f, indent=1)
print(f"wrote {len(cases)} cases to {out}")
