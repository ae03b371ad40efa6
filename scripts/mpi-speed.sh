#!/usr/bin/env bash
# Training speed of charlm-medium (character embedding 64, LSTM 256 x 2, batch 32 x 100) on 1
# process and on 2 MPI ranks of this machine, one thread per rank, alternating the two so that
# a busy machine weighs on both alike. Prints sequences per second and the all-reduce's share.
# Usage: scripts/mpi-speed.sh [rounds] [steps]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}" steps="${2:-30}"
swift build -c release --product recurrent >/dev/null
binary=.build/release/recurrent
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
mpi=(mpirun -np 2 --bind-to none --oversubscribe)
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)
train=(text train Data/shakespeare/coriolanus.txt Data/shakespeare/hamlet.txt --level char --embedding 64 --hidden 256
       --layers 2 --seq-len 100 --batch-size 32 --validation-fraction 0 --threads 1 --max-steps "$steps")
# Sequences per second of the updates alone: steps x 32 over the seconds of training less validation.
rate() { sed -nE 's/.* ([0-9]+) steps in ([0-9.]+) s \(validation ([0-9.]+) s\).*/\1 \2 \3/p' | awk '{ printf "%.1f", $1 * 32 / ($2 - $3) }'; }
for round in $(seq "$rounds"); do
  one="$("$binary" "${train[@]}" -o "$work/one.model" 2>/dev/null | rate)"
  two_out="$("${mpi[@]}" "$binary" "${train[@]}" -o "$work/two.model" 2>"$work/two.err")"
  two="$(rate <<<"$two_out")"
  share="$(grep -o 'all-reduce over 2 ranks: .*' "$work/two.err" || true)"
  echo "round $round: 1 process $one sequences/s, 2 ranks $two sequences/s ($(awk -v a="$one" -v b="$two" 'BEGIN { printf "%.2fx", b / a }')); $share"
done
