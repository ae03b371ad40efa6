#!/bin/sh
# Splits the CMU Pronouncing Dictionary into Data/cmudict/train.dict and test.dict by WORD:
# the distinct words (a "word(2)" alternative counts as its word) in byte order, every tenth
# one (the 10th, 20th, ...) held out for the test with all its pronunciations. Lines are copied
# unchanged, in the dictionary's order.
# Usage: scripts/cmudict-split.sh [path/to/cmudict.dict]   (default: ../shared/datasets/seq2seq/cmudict.dict)
set -eu
source=${1:-../shared/datasets/seq2seq/cmudict.dict}
out=Data/cmudict
mkdir -p "$out"
export LC_ALL=C
# The held-out words: every tenth distinct word in byte order.
held=$(mktemp)
trap 'rm -f "$held"' EXIT
awk '{ w = $1; sub(/\([0-9]+\)$/, "", w); print w }' "$source" | sort -u | awk 'NR % 10 == 0' > "$held"
awk -v train="$out/train.dict" -v test="$out/test.dict" '
    NR == FNR { held[$1] = 1; next }
    { w = $1; sub(/\([0-9]+\)$/, "", w); print > ((w in held) ? test : train) }
' "$held" "$source"
wc -l "$out/train.dict" "$out/test.dict"
