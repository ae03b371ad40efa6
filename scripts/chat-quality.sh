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
    # MMI settings chosen on the validation part, never on the test: of these rerankings, weights
    # and length normalizations, the one with the highest distinct-2 whose BLEU is at least 0.9x
    # plain beam search's, then scored once on the test part.
    plain=$($recurrent chat evaluate "$model" "$data" --part validation --beam 10 --json 2>/dev/null | tail -n 1)
    best=""
    for setting in "mmi-antilm 0.2 1" "mmi-antilm 0.35 1" "mmi-antilm 0.5 1" "mmi-antilm 0.7 1" "mmi-antilm 0.5 2" \
                   "mmi-bidi 1 1" "mmi-bidi 2 1" "mmi-bidi 4 1" "mmi-bidi 2 2" "mmi-bidi 3 2" "mmi-bidi 4 2" \
                   "mmi-bidi 6 2" "mmi-bidi 8 2" "mmi-bidi 4 3"; do
      set -- $setting
      figures=$($recurrent chat evaluate "$model" "$data" --part validation --beam 10 --rerank "$1" --mmi-weight "$2" \
        --length-normalization "$3" --json 2>/dev/null | tail -n 1)
      echo "validation, $setting: $figures"
      best=$(python3 -c "
import json, sys
plain, new, best = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[4]
ok = new['bleu'] >= 0.9 * plain['bleu']
better = not best or new['distinct_2'] > float(best.split()[3])
print(sys.argv[3] + ' ' + str(new['distinct_2']) if ok and better else best)" "$plain" "$figures" "$setting" "$best")
    done
    if [ -n "$best" ]; then
      set -- $best
      echo "== $name, beam 10, chosen on validation: rerank $1, weight $2, length normalization $3"
      $recurrent chat evaluate "$model" "$data" --beam 10 --rerank "$1" --mmi-weight "$2" --length-normalization "$3" --json
    fi
    for part in train validation test; do $recurrent chat exchanges "$model" "$data" --part $part > "$out/$name-$part.tsv"; done
    echo "== $name, PyTorch reference"
    "$python" scripts/chat_reference.py "$out/$name-train.tsv" "$out/$name-validation.tsv" "$out/$name-test.tsv" \
      --hidden 128 --embedding 64 --epochs 6 --batch-size 64 --dropout 0.2 | tee "$out/$name-torch.json"
  done
done
echo "models and figures in $out"
