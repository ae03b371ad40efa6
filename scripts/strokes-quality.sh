#!/usr/bin/env bash
# Strokes: KanjiVG's characters of at most MAX_STROKES strokes (PyPI kanjivg 20260714), base forms
# for training and their variants (Kaisho...) held out; trains the stroke model, draws a grid of
# characters, then trains a PyTorch model of the same configuration the same way on the same
# stroke-5 sequences. Between the two, every training character is drawn freely and scored by its
# nearest reference drawing (recurrent strokes evaluate).
#   scripts/strokes-quality.sh [OUT_DIR] [EPOCHS] [MAX_STROKES] [HIDDEN] [COMPONENTS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-out/strokes}"; epochs="${2:-60}"; max_strokes="${3:-6}"; hidden="${4:-256}"; components="${5:-20}"; threads="${6:-2}"
mkdir -p "$out/svg"
music_python="$(scripts/music-env.sh)"
"$music_python" scripts/kanjivg_subset.py "$out/svg" "$max_strokes"
swift build -c release --product recurrent >&2
bin=.build/release/recurrent

$bin strokes train "$out/svg" --epochs "$epochs" --hidden "$hidden" --components "$components" --threads "$threads" \
    -o "$out/strokes.model" --export-data "$out/strokes.json" | tee "$out/recurrent.txt"
$bin strokes generate "$out/strokes.model" --count 24 --condition 一二三十口日月木人大山川 --temperature 0.2 --seed 1 -o "$out/grid.svg"
$bin strokes generate "$out/strokes.model" --count 24 --temperature 0.4 --seed 2 -o "$out/random.svg"
echo "Free-running drawings of every training character against the references (scripts/strokes-conditioning.sh compares variants):"
for t in 0.1 0.2; do
    $bin strokes evaluate "$out/strokes.model" "$out/svg" --temperature "$t" --samples 2 --seed 3 --grid "$out/nearest-$t.svg" | tee -a "$out/nearest.txt"
done
echo "PyTorch, same configuration:"
python="$(/work/shared/bench/anchors-env 2>/dev/null || echo python3)"
"$python" scripts/music_torch.py "$out/strokes.json" --task strokes --hidden "$hidden" --layers 1 --dropout 0 --components "$components" \
    --embedding 32 --batch-size 64 --learning-rate 0.001 --epochs "$epochs" --threads "$threads" | tee "$out/torch.txt"
