"""PyTorch's counterpart of `recurrent-bench speech --phases train`: one training step of the
same CTC recognizer (K stacked frames of M log-mels -> bidirectional nn.LSTM H x L ->
nn.Linear over 28 characters + blank) on a batch of B utterances of T frames with S-character
targets: forward, F.ctc_loss (mean), backward, clip_grad_norm_(1), Adam; best of several steps.
Prints one JSON line like the Swift benchmark's.

Usage: PY scripts/speech_bench_torch.py [--threads 2] [--hidden 192] [--layers 2] [--subsample 3]
       [--mels 40] [--batch 16] [--frames 300] [--labels 30]   (PY: a Python with torch)
"""
import argparse, json, time

import torch
import torch.nn as nn
import torch.nn.functional as F

parser = argparse.ArgumentParser()
for name, default in [("threads", 2), ("hidden", 192), ("layers", 2), ("subsample", 3), ("mels", 40), ("batch", 16),
                      ("frames", 300), ("labels", 30)]:
    parser.add_argument("--" + name, type=int, default=default)
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)
classes, steps = 29, (args.frames + args.subsample - 1) // args.subsample
lstm = nn.LSTM(args.mels * args.subsample, args.hidden, args.layers, batch_first=True, bidirectional=True)
output = nn.Linear(2 * args.hidden, classes)
parameters = list(lstm.parameters()) + list(output.parameters())
optimizer = torch.optim.Adam(parameters, lr=1e-3)
x = torch.randn(args.batch, steps, args.mels * args.subsample)
targets = torch.randint(1, classes, (args.batch, args.labels))
input_lengths = torch.full((args.batch,), steps)
target_lengths = torch.full((args.batch,), args.labels)


def step():
    optimizer.zero_grad()
    log_probs = output(lstm(x)[0]).log_softmax(-1).transpose(0, 1)
    F.ctc_loss(log_probs, targets, input_lengths, target_lengths, reduction="mean").backward()
    nn.utils.clip_grad_norm_(parameters, 1.0)
    optimizer.step()


step()
best, spent, repeats = float("inf"), 0.0, 0
while repeats < 5 or spent < 5:
    start = time.perf_counter()
    step()
    elapsed = time.perf_counter() - start
    best, spent, repeats = min(best, elapsed), spent + elapsed, repeats + 1
print(json.dumps({"anchor": "pytorch", "workload": "speech-train", "threads": args.threads, "hidden": args.hidden,
                  "layers": args.layers, "subsample": args.subsample, "batch": args.batch, "frames": args.frames,
                  "step_ms": round(best * 1000, 2), "utterances_per_s": round(args.batch / best, 2),
                  "audio_seconds_per_s": round(args.batch * args.frames / 100 / best, 2), "torch": torch.__version__}))
