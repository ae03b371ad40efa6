"""ONNX Runtime on models exported by `recurrent export onnx` against Recurrent on the same models,
on the shared workloads (../shared/bench/workloads.json): inference over a batch and streaming
one step at a time (batch 1, the state fed back through initial_h/initial_c), 1 and 2 threads.

For each workload a model with random weights is made (`recurrent import torch` of a state dict
written here) and exported; ONNX Runtime runs the exported file (sequence_lens fed, all full),
Recurrent runs `recurrent-bench workloads --phases infer,stream` (the same configuration and
timing rule: best of repeated runs). Rounds alternate between the two. Prints JSON lines, then a
Markdown table of steps/s and microseconds per streamed step, with Recurrent / ONNX Runtime
(above 1: Recurrent faster).

Usage (after swift build -c release): $(../shared/bench/anchors-env) scripts/onnx_speed.py [--threads 1,2] [--rounds 2]
    [--quantized int8|bf16]   (Recurrent on quantized recurrent weights; ONNX Runtime float)
"""
import argparse, json, os, subprocess, sys, tempfile, time
import numpy as np
import onnxruntime as ort
from safetensors.numpy import save_file

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser()
parser.add_argument("--threads", default="1,2")
parser.add_argument("--rounds", type=int, default=2)
parser.add_argument("--quantized", choices=["int8", "bf16"], help="Recurrent on quantized recurrent weights (ONNX Runtime stays float)")
parser.add_argument("--workloads", default=os.path.join(root, "..", "shared", "bench", "workloads.json"))
args = parser.parse_args()
binary = os.path.join(root, ".build", "release")
workloads = json.load(open(args.workloads))["workloads"]
work = tempfile.mkdtemp(prefix="recurrent-onnx-speed-")


def export(w):
    """A model of the workload's configuration with random weights, exported to ONNX."""
    rng = np.random.default_rng(0)
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[w["cell"]]
    H, bound = w["hidden"], 1 / np.sqrt(w["hidden"])
    tensors = {}
    for k in range(w["layers"]):
        inputs = w["input"] if k == 0 else H
        for name, shape in [(f"weight_ih_l{k}", (gates * H, inputs)), (f"weight_hh_l{k}", (gates * H, H)),
                            (f"bias_ih_l{k}", (gates * H,)), (f"bias_hh_l{k}", (gates * H,))]:
            tensors[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
    base = os.path.join(work, w["name"])
    save_file(tensors, base + ".safetensors")
    json.dump({"cell": w["cell"], "input_size": w["input"], "hidden_size": H, "num_layers": w["layers"]}, open(base + ".json", "w"))
    subprocess.run([os.path.join(binary, "recurrent"), "import", "torch", base + ".safetensors", "--config", base + ".json",
                    "-o", base + ".model"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([os.path.join(binary, "recurrent"), "export", "onnx", base + ".model", "-o", base + ".onnx"],
                   check=True, stdout=subprocess.DEVNULL)
    return base + ".onnx"


def best_time(fn, budget=1.0, minimum=5):
    fn()
    best, spent, repeats = float("inf"), 0.0, 0
    while repeats < minimum or spent < budget:
        start = time.perf_counter(); fn(); elapsed = time.perf_counter() - start
        best, spent, repeats = min(best, elapsed), spent + elapsed, repeats + 1
    return best


def onnxruntime_figures(w, path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    states = [i.name for i in session.get_inputs() if i.name.startswith("initial_")]
    rng = np.random.default_rng(1)

    def feeds(batch, steps):
        f = {"x": rng.standard_normal((steps, batch, w["input"])).astype(np.float32),
             "sequence_lens": np.full(batch, steps, np.int32)}
        f.update({s: np.zeros((w["layers"], batch, w["hidden"]), np.float32) for s in states})
        return f

    batch_feeds = feeds(w["batch"], w["seq"])
    infer = best_time(lambda: session.run(None, batch_feeds))
    step_feeds = feeds(1, 1)
    outputs = [o.name for o in session.get_outputs()]

    def stream():
        f = dict(step_feeds)
        for _ in range(100):
            for name, value in zip(outputs, session.run(None, f)):
                if name.startswith("Y_"):
                    f["initial_" + name[2:]] = value
    return {"system": "onnxruntime-" + ort.__version__ + " on the exported model", "threads": threads, "workload": w["name"],
            "infer_steps_per_s": round(w["batch"] * w["seq"] / infer), "stream_step_us": round(best_time(stream, minimum=3) / 100 * 1e6, 1)}


def recurrent_figures(threads):
    quantized = ["--quantized", args.quantized] if args.quantized else []
    run = subprocess.run([os.path.join(binary, "recurrent-bench"), "workloads", "--threads", str(threads), "--phases", "infer,stream"] + quantized,
                         check=True, capture_output=True, text=True)
    return [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]


paths = {w["name"]: export(w) for w in workloads}
best = {}
for round_index in range(args.rounds):
    for threads in [int(t) for t in args.threads.split(",")]:
        lines = [onnxruntime_figures(w, paths[w["name"]], threads) for w in workloads] + recurrent_figures(threads)
        for line in lines:
            print(json.dumps(line), flush=True)
            system = "onnxruntime" if line["system"].startswith("onnxruntime") else "recurrent"
            key = (line["workload"], threads, system)
            previous = best.get(key, {"infer_steps_per_s": 0, "stream_step_us": float("inf")})
            best[key] = {"infer_steps_per_s": max(previous["infer_steps_per_s"], line.get("infer_steps_per_s", 0)),
                         "stream_step_us": min(previous["stream_step_us"], line.get("stream_step_us", float("inf")))}

print("\n| workload | threads | Recurrent infer steps/s | ONNX Runtime infer steps/s | ratio | Recurrent stream us | ONNX Runtime stream us | ratio |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for w in workloads:
    for threads in [int(t) for t in args.threads.split(",")]:
        r, o = best.get((w["name"], threads, "recurrent")), best.get((w["name"], threads, "onnxruntime"))
        if not r or not o:
            continue
        print(f"| {w['name']} | {threads} | {int(r['infer_steps_per_s']):,} | {int(o['infer_steps_per_s']):,} | "
              f"{r['infer_steps_per_s'] / o['infer_steps_per_s']:.2f} | {r['stream_step_us']} | {o['stream_step_us']} | "
              f"{o['stream_step_us'] / r['stream_step_us']:.2f} |")
