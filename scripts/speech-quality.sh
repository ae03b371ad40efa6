#!/usr/bin/env bash
# Every figure of the README's speech table, from a fresh build:
#   1. the acoustic model: `recurrent speech train` on Data/speech/train.tsv, validated on
#      validation.tsv (the defaults: bidirectional LSTM 192 x 2 over 3 stacked frames, dropout 0.3,
#      100 epochs) with SpecAugment;
#   2. the language model for fusion: `recurrent text train` (char level) on the training
#      transcripts only;
#   3. the fusion weights chosen on validation.tsv (a grid of LM weights and word bonuses);
#   4. test.tsv decoded by best path, a beam of 16, and a beam of 16 with the LM;
#   5. the same configuration in PyTorch (scripts/speech_torch.py), and CMU PocketSphinx
#      (scripts/speech-pocketsphinx.sh), on test.tsv.
# Usage: scripts/speech-quality.sh [OUTDIR] (default out/speech); about an hour on two idle cores,
# most of it PyTorch's training. Set SKIP_TORCH=1 or SKIP_POCKETSPHINX=1 to leave those out.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-out/speech}"
mkdir -p "$out"
swift build -c release --product recurrent >&2
bin=.build/release/recurrent

"$bin" speech train Data/speech/train.tsv --validation Data/speech/validation.tsv --spec-augment --threads 2 -o "$out/asterisk.model"
mkdir -p "$out/transcripts"
tail -n +2 Data/speech/train.tsv | cut -f2 >"$out/transcripts/train.txt"
"$bin" text train "$out/transcripts/train.txt" --level char --hidden 256 --layers 1 --dropout 0.2 --seq-len 50 --batch-size 16 \
  --epochs 30 -o "$out/transcripts.model"

best=""; best_score=""
for weight in 0.4 0.6 0.8 1.0 1.2; do
  for bonus in 0.5 1.0 2.0; do
    line="$("$bin" speech evaluate "$out/asterisk.model" Data/speech/validation.tsv --beam 16 --lm "$out/transcripts.model" \
      --lm-weight "$weight" --word-bonus "$bonus" --json | tail -n 1)"
    score="$(python3 -c 'import json, sys; f = json.loads(sys.argv[1]); print(f"{f["cer"] + f["wer"]:.6f}")' "$line")"
    echo "validation, LM weight $weight, word bonus $bonus: $line" >&2
    if [ -z "$best_score" ] || python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$score" "$best_score"; then
      best="$weight $bonus"; best_score="$score"
    fi
  done
done
read -r weight bonus <<<"$best"
echo "chosen on validation (lowest CER + WER): LM weight $weight, word bonus $bonus"

"$bin" speech evaluate "$out/asterisk.model" Data/speech/test.tsv
"$bin" speech evaluate "$out/asterisk.model" Data/speech/test.tsv --beam 16
"$bin" speech evaluate "$out/asterisk.model" Data/speech/test.tsv --beam 16 --lm "$out/transcripts.model" --lm-weight "$weight" --word-bonus "$bonus"

if [ -z "${SKIP_TORCH:-}" ]; then
  python="$(scripts/audio_env.sh)"
  "$python" scripts/speech_torch.py --spec-augment --epochs 100 --hidden 192 --layers 2 --subsample 3 --dropout 0.3 --threads 2
fi
if [ -z "${SKIP_POCKETSPHINX:-}" ]; then
  scripts/speech-pocketsphinx.sh Data/speech/test.tsv
fi
