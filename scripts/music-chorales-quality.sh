#!/usr/bin/env bash
# Chorales: trains the default piano-roll model on the Bach chorales of music21's corpus (from
# PyPI), every 10th held out, writes a generated chorale as MIDI and a piano-roll picture, then
# trains a PyTorch LSTM of the same configuration the same way on the same rolls.
#   scripts/music-chorales-quality.sh [OUT_DIR] [EPOCHS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-out/chorales}"; epochs="${2:-100}"; threads="${3:-2}"
mkdir -p "$out"
music_python="$(scripts/music-env.sh)"
corpus="$(scripts/music-env.sh --corpus)"
swift build -c release --product recurrent >&2
bin=.build/release/recurrent

$bin music train --format pianoroll "$corpus/bach" --skip-unreadable --epochs "$epochs" --threads "$threads" \
    -o "$out/chorales.model" --export-data "$out/rolls.json" | tee "$out/recurrent.txt"
$bin music generate "$out/chorales.model" --count 2 --seed 1 -o "$out/chorale.svg" --midi "$out/chorale.mid"
"$music_python" -c "import mido, sys; m = mido.MidiFile(sys.argv[1]); print('mido reads', sys.argv[1], ':', m.type, len(m.tracks), round(m.length, 1), 's')" "$out/chorale.mid"
echo "PyTorch, same configuration:"
python="$(/work/shared/bench/anchors-env 2>/dev/null || echo python3)"
"$python" scripts/music_torch.py "$out/rolls.json" --task pianoroll --hidden 128 --layers 1 --batch-size 16 --epochs "$epochs" --threads "$threads" | tee "$out/torch.txt"
