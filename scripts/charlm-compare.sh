#!/bin/sh
# Character-level language model, Recurrent against PyTorch, back to back: the issue's
# configuration (2-layer LSTM, embedding 64, hidden 256, sequence length 100, batch 32, Adam
# 0.002, clipping at 1.0) for the same number of updates on the same split of the bundled plays.
#
#     scripts/charlm-compare.sh [STEPS] [THREADS]        # defaults: 1000 updates, 2 threads
#
# Both sides read the same windows in the same order and validate once, after the last update,
# on the same held-out characters (scripts/charlm_torch.py mirrors the split, the vocabulary, the
# batching and the evaluation). Three times are compared: the updates alone, the validation pass
# alone, and the whole process (start-up, reading and tokenizing the plays included).
# PyTorch comes from /work/shared/bench/anchors-env, or $PYTHON (torch installed).
set -eu
cd "$(dirname "$0")/.."
STEPS=${1:-1000}
THREADS=${2:-2}
PYTHON=${PYTHON:-$(/work/shared/bench/anchors-env)}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

swift build -c release --product recurrent >/dev/null
echo "load before: $(uptime | sed 's/.*load average/load average/')"

start=$(date +%s.%N)
.build/release/recurrent text train Data/shakespeare --level char --max-steps "$STEPS" --epochs 1 --threads "$THREADS" \
    -o "$OUT/bard.model" >"$OUT/swift.txt" 2>"$OUT/swift.err"
swift_wall=$(echo "$(date +%s.%N) - $start" | bc)
echo "load between: $(uptime | sed 's/.*load average/load average/')"

start=$(date +%s.%N)
"$PYTHON" scripts/charlm_torch.py Data/shakespeare --steps "$STEPS" --threads "$THREADS" >"$OUT/torch.txt"
torch_wall=$(echo "$(date +%s.%N) - $start" | bc)
echo "load after: $(uptime | sed 's/.*load average/load average/')"

python3 - "$OUT/swift.txt" "$OUT/torch.txt" "$swift_wall" "$torch_wall" <<'EOF'
import json, re, sys
swift_text = open(sys.argv[1]).read()
torch = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
steps, seconds, validating = re.search(r"(\d+) steps in ([\d.]+) s \(validation ([\d.]+) s\)", swift_text).groups()
bits, tokens = re.search(r"validation: ([\d.]+) bits per character \((\d+) tokens", swift_text).groups()
swift = {"steps": int(steps), "bits": float(bits), "tokens": int(tokens), "train": float(seconds) - float(validating),
         "validation": float(validating), "wall": float(sys.argv[3])}
other = {"steps": torch["steps"], "bits": torch["validation_bits_per_char"], "tokens": torch["validation_tokens"],
         "train": torch["train_seconds"], "validation": torch["validation_seconds"], "wall": float(sys.argv[4])}
assert swift["steps"] == other["steps"] and swift["tokens"] == other["tokens"], (swift, other)
print(f"{swift['steps']} updates each; validation on {swift['tokens']:,} characters")
print(f"{'':26}{'Recurrent':>12}{'PyTorch':>12}{'ratio':>8}")
rows = [("validation bits/char", "bits", "{:.4f}"), ("updates (s)", "train", "{:.1f}"),
        ("validation pass (s)", "validation", "{:.1f}"), ("whole process (s)", "wall", "{:.1f}")]
for name, key, form in rows:
    print(f"{name:26}{form.format(swift[key]):>12}{form.format(other[key]):>12}{swift[key] / other[key]:>8.3f}")
EOF
