#!/usr/bin/env bash
# Tunes: trains the default tune model on O'Neill's 1850 and Ryan's Mammoth Collection (music21's
# corpus, from PyPI), writes 100 tunes and checks them with music21's ABC reader, then trains a
# PyTorch LSTM of the same configuration the same way on the same encoded tunes.
#   scripts/music-quality.sh [OUT_DIR] [EPOCHS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-out/music}"; epochs="${2:-10}"; threads="${3:-2}"
mkdir -p "$out"
music_python="$(scripts/music-env.sh)"
corpus="$(scripts/music-env.sh --corpus)"
swift build -c release --product recurrent >&2
bin=.build/release/recurrent

$bin music train "$corpus/oneills1850" "$corpus/ryansMammoth" --skip-unreadable --epochs "$epochs" --threads "$threads" \
    -o "$out/tunes.model" --export-data "$out/tunes.json" 2> >(grep -v '^skipped' >&2) | tee "$out/recurrent.txt"
$bin music generate "$out/tunes.model" --count 100 --seed 1 -o "$out/generated.abc" --midi "$out/generated.mid"
$bin music generate "$out/tunes.model" --count 100 --seed 1 --temperature 0.7 -o "$out/generated-t0.7.abc"
$bin music generate "$out/tunes.model" --count 1 --meter 6/8 --key D --seed 7 -o "$out/jig.abc" --midi "$out/jig.mid"
echo "music21 on the 100 generated tunes:"
"$music_python" scripts/music_check.py "$out/generated.abc" | tee "$out/music21-generated.json"
echo "music21 on the 100 generated at temperature 0.7:"
"$music_python" scripts/music_check.py "$out/generated-t0.7.abc" | tee "$out/music21-generated-t0.7.json"
echo "music21 on O'Neill's first 200 tunes (for comparison):"
"$music_python" scripts/music_check.py Data/music/oneills1850/*.abc | tee "$out/music21-oneills.json"
echo "PyTorch, same configuration:"
python="$(/work/shared/bench/anchors-env 2>/dev/null || echo python3)"
"$python" scripts/music_torch.py "$out/tunes.json" --task abc --epochs "$epochs" --threads "$threads" | tee "$out/torch.txt"
