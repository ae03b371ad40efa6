#!/usr/bin/env bash
# Float against int8 and bfloat16 (`recurrent quantize --int8`, `--bf16`) on task models: trains
# each model once, writes its quantized copies, and scores all three on the same held-out data
# with the task's own evaluate verb.
#
#     scripts/quantization-accuracy.sh [CHARLM_STEPS]      # default 1000 updates
#
# Character language model: 2-layer LSTM 256 on the bundled plays, validation bits per character
# on three plays it did not train on. Forecasting: the default LSTM on sunspots and CO2 (test
# MASE, one step ahead, as scripts/forecast-quality.sh). Classification: digits, accuracy. Speech:
# the Asterisk prompts, character error rate.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-1000}
bin=${RECURRENT:-.build/release/recurrent}
[ -n "${RECURRENT:-}" ] || swift build -c release --product recurrent >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

row() {  # name, metric, float value, int8 value, bfloat16 value
    python3 -c 'import sys; n, m, f, q, b = sys.argv[1:]; f, q, b = float(f), float(q), float(b)
print(f"| {n} | {m} | {f:.4f} | {q:.4f} ({100 * (q - f) / f:+.3f}%) | {b:.4f} ({100 * (b - f) / f:+.3f}%) |")' "$@"
}

cat Data/shakespeare/{hamlet,macbeth,tempest}.txt >"$out/held-out.txt"
mkdir -p "$out/train"
for file in Data/shakespeare/*.txt; do
    case $(basename "$file") in hamlet.txt|macbeth.txt|tempest.txt) ;; *) cp "$file" "$out/train/" ;; esac
done
"$bin" text train "$out/train" --level char --max-steps "$STEPS" --epochs 1 -o "$out/bard.model" >"$out/train.log" 2>&1 || { cat "$out/train.log"; exit 1; }
"$bin" quantize "$out/bard.model" --int8 -o "$out/bard-int8.model" >/dev/null
"$bin" quantize "$out/bard.model" --bf16 -o "$out/bard-bf16.model" >/dev/null
bpc() { "$bin" text evaluate "$1" "$out/held-out.txt" --json 2>/dev/null | tail -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["bits_per_char"])'; }
echo "| model | metric | float | int8 (change) | bfloat16 (change) |"
echo "| --- | --- | --- | --- | --- |"
row "characters, LSTM 256 x2, $STEPS updates (3 held-out plays)" "bits per character" "$(bpc "$out/bard.model")" "$(bpc "$out/bard-int8.model")" "$(bpc "$out/bard-bf16.model")"

forecast() {  # name, CSV, options...
    local name=$1 csv=$2; shift 2
    "$bin" forecast train "$csv" "$@" -o "$out/$name.model" >/dev/null 2>&1
    "$bin" quantize "$out/$name.model" --int8 -o "$out/$name-int8.model" >/dev/null
    "$bin" quantize "$out/$name.model" --bf16 -o "$out/$name-bf16.model" >/dev/null
    mase() { "$bin" forecast evaluate "$1" "$csv" --json 2>/dev/null | tail -n 1 | python3 -c 'import json,sys; t = json.load(sys.stdin); print(t["model"]["mase"])'; }
    row "$name (default LSTM 1x32)" "test MASE" "$(mase "$out/$name.model")" "$(mase "$out/$name-int8.model")" "$(mase "$out/$name-bf16.model")"
}
forecast sunspots Data/sunspots-yearly.csv --column SUNACTIVITY
forecast co2 Data/co2-weekly.csv --column co2 --missing interpolate

# Classification: the 8x8 digits read row by row (8 steps of 8 pixels), trained on the first
# 1,500 images, scored on the other 297.
head -n 1501 Data/digits-8x8.csv >"$out/digits-train.csv"
{ head -n 1 Data/digits-8x8.csv; tail -n +1502 Data/digits-8x8.csv; } >"$out/digits-test.csv"
"$bin" classify train "$out/digits-train.csv" --label-column label --features-per-step 8 --epochs 30 -o "$out/digits.model" >/dev/null 2>&1
"$bin" quantize "$out/digits.model" --int8 -o "$out/digits-int8.model" >/dev/null
"$bin" quantize "$out/digits.model" --bf16 -o "$out/digits-bf16.model" >/dev/null
accuracy() { "$bin" classify evaluate "$1" "$out/digits-test.csv" --json 2>/dev/null | tail -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["accuracy"])'; }
row "digits 8x8, rows as steps (default LSTM, 30 epochs; 297 held out)" "accuracy" \
    "$(accuracy "$out/digits.model")" "$(accuracy "$out/digits-int8.model")" "$(accuracy "$out/digits-bf16.model")"

# Speech: the bundled Asterisk prompts, the default acoustic model (SPEECH_EPOCHS, default 100,
# a few minutes), character error rate on the test set by best path.
SPEECH_EPOCHS=${SPEECH_EPOCHS:-100}
"$bin" speech train Data/speech/train.tsv --validation Data/speech/validation.tsv --spec-augment --epochs "$SPEECH_EPOCHS" \
    -o "$out/speech.model" >/dev/null 2>&1
"$bin" quantize "$out/speech.model" --int8 -o "$out/speech-int8.model" >/dev/null
"$bin" quantize "$out/speech.model" --bf16 -o "$out/speech-bf16.model" >/dev/null
cer() { "$bin" speech evaluate "$1" Data/speech/test.tsv --json 2>/dev/null | tail -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["cer"])'; }
row "speech, Asterisk prompts ($SPEECH_EPOCHS epochs; 58 test utterances)" "CER, best path" \
    "$(cer "$out/speech.model")" "$(cer "$out/speech-int8.model")" "$(cer "$out/speech-bf16.model")"
