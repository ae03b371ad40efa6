#!/usr/bin/env bash
# Grapheme-to-phoneme on the CMU Pronouncing Dictionary: trains `recurrent seq2seq train` at its
# default options on Data/cmudict/train.dict, then scores the held-out words of test.dict with
# the default beam (and greedily), and translates a few words with their attention drawn.
# Extra arguments go to train (for instance --stress keep). About 25 minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product recurrent >/dev/null
out=${G2P_OUT:-$(mktemp -d)}
mkdir -p "$out"
recurrent=.build/release/recurrent
/usr/bin/time -f "training: %e s wall" $recurrent seq2seq train Data/cmudict/train.dict --format cmudict "$@" -o "$out/g2p.model"
$recurrent seq2seq evaluate "$out/g2p.model" Data/cmudict/test.dict --format cmudict --json
$recurrent seq2seq evaluate "$out/g2p.model" Data/cmudict/test.dict --format cmudict --beam 1 --json
printf 'recurrent\nphoneme\nschmidt\n' | $recurrent seq2seq translate "$out/g2p.model" --plot-attention "$out/attention.svg"
echo "model, loss curves and attention in $out"
