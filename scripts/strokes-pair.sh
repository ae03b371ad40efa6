#!/usr/bin/env bash
# The stroke model against PyTorch's of the same configuration, with chance taken into account.
# For seeds 0..SEEDS-1 (THREADS threads each):
#   Recurrent                        recurrent strokes train --seed S
#   PyTorch                          scripts/music_torch.py --seed S (its own initialization and order)
#   PyTorch, Recurrent's order       ... --recurrent-order (the batches as Recurrent's trainer draws them)
#   PyTorch, Recurrent's start       ... --start-from (the parameters Recurrent initializes for seed S,
#                                    from a model file written before any update)
# and seed 0 with both (PyTorch from Recurrent's start on Recurrent's batches) beside Recurrent's
# run epoch by epoch: where two correct implementations of one computation part is the rounding
# of float32 sums, amplified once the models memorise. Prints the best held-out NLL per point of
# every run, the medians, and the late epochs' mean (the held-out curves swing by 0.1-0.2 nats
# from epoch to epoch once the training drawings are memorised).
#   scripts/strokes-pair.sh [OUT_DIR] [EPOCHS] [SEEDS] [MAX_STROKES] [THREADS]
# Data: KanjiVG's characters of at most MAX_STROKES strokes (PyPI kanjivg, via scripts/music-env.sh),
# base forms for training and their variants held out; or STROKES_SVG=DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-out/strokes-pair}"; epochs="${2:-150}"; seeds="${3:-5}"; max_strokes="${4:-6}"; threads="${5:-2}"
mkdir -p "$out"
svg="${STROKES_SVG:-$out/svg}"
if [ -z "${STROKES_SVG:-}" ]; then
  mkdir -p "$svg"
  "$(scripts/music-env.sh)" scripts/kanjivg_subset.py "$svg" "$max_strokes"
fi
bin="${RECURRENT_BINARY:-.build/release/recurrent}"
[ -n "${RECURRENT_BINARY:-}" ] || swift build -c release --product recurrent >&2
python="$(/work/shared/bench/anchors-env 2>/dev/null || echo python3)"
config=(--hidden 256 --components 20 --embedding 32 --batch-size 64 --learning-rate 0.001)
torch_config=(--task strokes --layers 1 --dropout 0 "${config[@]}")

for seed in $(seq 0 $((seeds - 1))); do
  "$bin" strokes train "$svg" "${config[@]}" --epochs "$epochs" --seed "$seed" --threads "$threads" \
      -o "$out/recurrent-$seed.model" --export-data "$out/strokes.json" >"$out/recurrent-$seed.txt" 2>&1
  # The parameters as initialized: one update of 1e-30 leaves them as they were.
  "$bin" strokes train "$svg" "${config[@]}" --learning-rate 1e-30 --max-steps 1 --keep-last --seed "$seed" --threads "$threads" \
      -o "$out/initial-$seed.model" >/dev/null 2>&1
  torch=("$python" scripts/music_torch.py "$out/strokes.json" "${torch_config[@]}" --epochs "$epochs" --seed "$seed" --threads "$threads")
  "${torch[@]}" >"$out/torch-$seed.txt"
  "${torch[@]}" --recurrent-order >"$out/torch-order-$seed.txt"
  "${torch[@]}" --start-from "$out/initial-$seed.model" >"$out/torch-start-$seed.txt"
  if [ "$seed" = 0 ]; then
    "${torch[@]}" --recurrent-order --start-from "$out/initial-$seed.model" >"$out/torch-same-start.txt"
  fi
  echo "seed $seed done" >&2
done

"$python" - "$out" "$seeds" <<'PYTHON'
import json, re, statistics, sys
from safetensors import safe_open
out, seeds = sys.argv[1], int(sys.argv[2])
def recurrent_history(path):
    with safe_open(path, "np") as f:
        history = json.loads(f.metadata()["training"])
    return history["trainLoss"], history["validationLoss"]
def torch_curve(path):
    rows = [re.match(r"epoch (\d+): training ([-0-9.]+), held-out ([-0-9.]+)", line) for line in open(path)]
    return [(float(r[2]), float(r[3])) for r in rows if r]
late = lambda curve: statistics.mean(curve[len(curve) * 3 // 5:])
groups = {"Recurrent": [recurrent_history(f"{out}/recurrent-{s}.model")[1] for s in range(seeds)]}
for name, prefix in [("PyTorch", "torch"), ("PyTorch, Recurrent's order", "torch-order"), ("PyTorch, Recurrent's start", "torch-start")]:
    groups[name] = [[v for _, v in torch_curve(f"{out}/{prefix}-{s}.txt")] for s in range(seeds)]
print(f"held-out NLL per point, {seeds} seeds: best epoch of each run; median; mean of the last 40% of the epochs (median over seeds)")
for name, curves in groups.items():
    best = [min(c) for c in curves]
    print(f"  {name:27s} {' '.join(f'{b:.4f}' for b in best)}  median {statistics.median(best):.4f}  late {statistics.median([late(c) for c in curves]):.4f}")
pooled = [min(c) for name, curves in groups.items() if name != "Recurrent" for c in curves]
ours = statistics.median([min(c) for c in groups["Recurrent"]])
print(f"PyTorch's code, all {len(pooled)} runs: median {statistics.median(pooled):.4f} (range {min(pooled):.4f}-{max(pooled):.4f}); "
      f"Recurrent {ours:.4f}: {ours / statistics.median(pooled):.3f}x")
train, valid = recurrent_history(f"{out}/recurrent-0.model")
rows = torch_curve(f"{out}/torch-same-start.txt")
same = 0
for epoch, (t, v) in enumerate(rows, 1):
    if abs(t - train[epoch - 1]) > 1e-3 * max(1, abs(t)) or abs(v - valid[epoch - 1]) > 1e-3 * max(1, abs(v)):
        break
    same = epoch
print(f"the same start and batches (seed 0): training and held-out losses agree within 0.1% for the first {same} of "
      f"{len(rows)} epochs; best held-out Recurrent {min(valid):.4f}, PyTorch {min(v for _, v in rows):.4f}")
for epoch in [1, 5, 10, 15, 20, 30, 50, 100, len(rows)]:
    if epoch <= len(rows):
        t, v = rows[epoch - 1]
        print(f"  epoch {epoch}: training {train[epoch - 1]:.5f} / {t:.5f}, held-out {valid[epoch - 1]:.5f} / {v:.5f}")
PYTHON
