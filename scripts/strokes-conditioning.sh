#!/usr/bin/env bash
# Does asking for a character draw it? Trains stroke models on KanjiVG's characters of at most
# MAX_STROKES strokes (PyPI kanjivg 20260714) with the recurrent state started from the
# character's embedding and, for comparison, from zeros (the embedding joined to every step in
# both), keeping the last epoch (--keep-last: the epoch best on the held-out variants comes long
# before free-running drawings look like anything). Then draws every training character twice
# at temperatures 0.1 and 0.2, the pen's start sampled by the model or taken from the data
# (--first-offset-from-data), and reports how often the asked-for character's reference drawing
# is the nearest of all the references (symmetric Chamfer distance after scaling each drawing to
# a unit box; `recurrent strokes evaluate`). Also writes a grid of 一二三十口日月木人大山川 for
# each model.
#   scripts/strokes-conditioning.sh [OUT_DIR] [EPOCHS] [MAX_STROKES] [HIDDEN] [COMPONENTS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-out/strokes-conditioning}"; epochs="${2:-600}"; max_strokes="${3:-4}"; hidden="${4:-256}"; components="${5:-20}"; threads="${6:-2}"
mkdir -p "$out/svg"
music_python="$(scripts/music-env.sh)"
"$music_python" scripts/kanjivg_subset.py "$out/svg" "$max_strokes"
# RECURRENT_BIN: a recurrent binary already built (else the release build).
bin="${RECURRENT_BIN:-.build/release/recurrent}"
[ -n "${RECURRENT_BIN:-}" ] || swift build -c release --product recurrent >&2

for start in character zeros; do
    flag=(); [ "$start" = zeros ] && flag=(--zero-initial-state)
    model="$out/strokes-$start.model"
    [ -f "$model" ] || $bin strokes train "$out/svg" "${flag[@]}" --keep-last --epochs "$epochs" --hidden "$hidden" --components "$components" \
        --threads "$threads" -o "$model" | tee "$out/train-$start.txt"
    for pen in model data; do
        pen_flag=(); [ "$pen" = data ] && pen_flag=(--first-offset-from-data)
        for t in 0.1 0.2; do
            echo -n "initial state from $start, pen's start from the $pen, temperature $t: "
            $bin strokes evaluate "$model" "$out/svg" "${pen_flag[@]}" --temperature "$t" --samples 2 --seed 3 \
                --grid "$out/nearest-$start-$pen-$t.svg" 2>/dev/null
        done
        $bin strokes generate "$model" "${pen_flag[@]}" --count 24 --condition 一二三十口日月木人大山川 --temperature 0.2 --seed 1 \
            -o "$out/grid-$start-$pen.svg" 2>/dev/null || echo "(the grid's characters are not all in this set)"
    done | tee "$out/nearest-$start.txt"
done
