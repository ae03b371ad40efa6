#!/usr/bin/env bash
# Float against int8 (`recurrent quantize --int8`) on task models: trains each model once, writes
# its int8 copy, and scores both on the same held-out data with the task's own evaluate verb.
#
#     scripts/quantization-accuracy.sh [CHARLM_STEPS]      # default 1000 updates
#
# Character language model: 2-layer LSTM 256 on the bundled plays, validation bits per character
# on three plays it did not train on. Forecasting: the default LSTM on sunspots and CO2 (test
# MASE, one step ahead, as scripts/forecast-quality.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-1000}
bin=${RECURRENT:-.build/release/recurrent}
[ -n "${RECURRENT:-}" ] || swift build -c release --product recurrent >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

row() {  # name, metric, float value, int8 value
    python3 -c 'import sys; n, m, f, q = sys.argv[1:]; f, q = float(f), float(q)
print(f"| {n} | {m} | {f:.4f} | {q:.4f} | {100 * (q - f) / f:+.3f}% |")' "$@"
}

cat Data/shakespeare/{hamlet,macbeth,tempest}.txt >"$out/held-out.txt"
mkdir -p "$out/train"
for file in Data/shakespeare/*.txt; do
    case $(basename "$file") in hamlet.txt|macbeth.txt|tempest.txt) ;; *) cp "$file" "$out/train/" ;; esac
done
"$bin" text train "$out/train" --level char --max-steps "$STEPS" --epochs 1 -o "$out/bard.model" >"$out/train.log" 2>&1 || { cat "$out/train.log"; exit 1; }
"$bin" quantize "$out/bard.model" --int8 -o "$out/bard-int8.model" >/dev/null
bpc() { "$bin" text evaluate "$1" "$out/held-out.txt" --json 2>/dev/null | tail -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["bits_per_char"])'; }
echo "| model | metric | float | int8 | change |"
echo "| --- | --- | --- | --- | --- |"
row "characters, LSTM 256 x2, $STEPS updates (3 held-out plays)" "bits per character" "$(bpc "$out/bard.model")" "$(bpc "$out/bard-int8.model")"

forecast() {  # name, CSV, options...
    local name=$1 csv=$2; shift 2
    "$bin" forecast train "$csv" "$@" -o "$out/$name.model" >/dev/null 2>&1
    "$bin" quantize "$out/$name.model" --int8 -o "$out/$name-int8.model" >/dev/null
    mase() { "$bin" forecast evaluate "$1" "$csv" --json 2>/dev/null | tail -n 1 | python3 -c 'import json,sys; t = json.load(sys.stdin); print(t["model"]["mase"])'; }
    row "$name (default LSTM 1x32)" "test MASE" "$(mase "$out/$name.model")" "$(mase "$out/$name-int8.model")"
}
forecast sunspots Data/sunspots-yearly.csv --column SUNACTIVITY
forecast co2 Data/co2-weekly.csv --column co2 --missing interpolate
