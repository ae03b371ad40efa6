#!/usr/bin/env bash
# Every figure of the chat table: trains `recurrent chat train` on the bundled plays (a play held
# out for the test, one for validation) and on the chatterbot corpus (10% of its conversations
# held out), scores the held-out replies with plain beam search and with both MMI rerankings,
# prints ten sample exchanges chosen by seed, and trains the PyTorch reference of the same
# configuration on the same exchanges (scripts/chat_reference.py) for the perplexity beside it.
# usage: scripts/chat-quality.sh [plays|chatterbot]...  (default: both). About 30 minutes a corpus
# on two idle cores.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product recurrent >/dev/null
out=${CHAT_OUT:-$(mktemp -d)}
mkdir -p "$out"
recurrent=.build/release/recurrent
python=$(/work/shared/bench/anchors-env 2>/dev/null || echo python3)
common=(--hidden 128 --embedding-size 64 --max-turn-tokens 30 --vocabulary 4000 --epochs 6 --batch-size 64 --dropout 0.2)
for corpus in "${@:-plays chatterbot}"; do
  for name in $corpus; do
    data=Data/dialogue/$name
    model=$out/$name.model
    [ -f "$model" ] || $recurrent chat train "$data" "${common[@]}" --json -o "$model"
    for rerank in none mmi-antilm mmi-bidi; do
      echo "== $name, beam 10, rerank $rerank"
      $recurrent chat evaluate "$model" "$data" --beam 10 --rerank $rerank --mmi-weight 0.5 --json \
        $([ $rerank = mmi-antilm ] && echo --samples 10 --sample-seed 1) | tee "$out/$name-$rerank.txt"
    done
    for part in train validation test; do $recurrent chat exchanges "$model" "$data" --part $part > "$out/$name-$part.tsv"; done
    echo "== $name, PyTorch reference"
    "$python" scripts/chat_reference.py "$out/$name-train.tsv" "$out/$name-validation.tsv" "$out/$name-test.tsv" \
      --hidden 128 --embedding 64 --epochs 6 --batch-size 64 --dropout 0.2 | tee "$out/$name-torch.json"
  done
done
echo "models and figures in $out"
