#!/usr/bin/env bash
# CMU PocketSphinx (Debian's pocketsphinx 0.8+5prealpha with pocketsphinx-en-us: the generic US
# English acoustic model, language model and dictionary, as installed) on a speech manifest, scored
# as `recurrent speech evaluate` scores. The en-us acoustic model is for 16 kHz audio: each file is
# resampled to 16 kHz with sox first (8 kHz files decoded with -samprate 8000 gave no output).
# PocketSphinx splits a file into utterances by its own voice detection: their texts are joined.
# Usage: scripts/speech-pocketsphinx.sh [MANIFEST] (default Data/speech/test.tsv); needs
# `apt-get install pocketsphinx pocketsphinx-en-us sox`.
set -euo pipefail
cd "$(dirname "$0")/.."
manifest="${1:-Data/speech/test.tsv}"
root="$(dirname "$manifest")"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
out="$work/hypotheses.tsv"
start=$(date +%s.%N)
tail -n +2 "$manifest" | while IFS=$'\t' read -r path text; do
  sox "$root/$path" -r 16000 -b 16 "$work/in.wav"
  hypothesis="$(pocketsphinx_continuous -infile "$work/in.wav" -logfn /dev/null 2>/dev/null | tr '\n' ' ')"
  printf '%s\t%s\n' "$path" "$hypothesis" >>"$out"
done
end=$(date +%s.%N)
echo "PocketSphinx en-us on $manifest: $(python3 scripts/speech_score.py "$manifest" "$out")  ($(echo "$end - $start" | bc) s)"
