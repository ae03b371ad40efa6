#!/usr/bin/env bash
# Training speed of charlm-medium (character embedding 64, LSTM 256 x 2, batch 32 x 100) on 1
# process and on 2 MPI ranks of this machine, one thread per rank, alternating the runs so that
# a busy machine weighs on all alike. Prints sequences per second and the all-reduce's share.
# With --namespaces, each round also runs the 2 ranks on two "hosts", network namespaces joined
# by a veth pair (scripts/mpi-namespaces.sh: TCP instead of shared memory; needs root).
# Usage: scripts/mpi-speed.sh [--namespaces] [rounds] [steps]
# RECURRENT_BINARY=path uses a binary already built instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
namespaces=false
if [ "${1:-}" = --namespaces ]; then namespaces=true; shift; fi
rounds="${1:-3}" steps="${2:-30}"
binary="${RECURRENT_BINARY:-}"
if [ -z "$binary" ]; then
  swift build -c release --product recurrent >/dev/null
  binary="$PWD/.build/release/recurrent"
fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
mpi=(mpirun -np 2 --bind-to none --oversubscribe)
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)
train=(text train "$PWD/Data/shakespeare/coriolanus.txt" "$PWD/Data/shakespeare/hamlet.txt" --level char --embedding 64 --hidden 256
       --layers 2 --seq-len 100 --batch-size 32 --validation-fraction 0 --threads 1 --max-steps "$steps")
# Sequences per second of the updates alone: steps x 32 over the seconds of training less validation.
rate() { sed -nE 's/.* ([0-9]+) steps in ([0-9.]+) s \(validation ([0-9.]+) s\).*/\1 \2 \3/p' | awk '{ printf "%.1f", $1 * 32 / ($2 - $3) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", b / a }'; }
share() { grep -o 'all-reduce over 2 ranks: .*' "$1" || true; }
for round in $(seq "$rounds"); do
  one="$("$binary" "${train[@]}" -o "$work/one.model" 2>/dev/null | rate)"
  two="$("${mpi[@]}" "$binary" "${train[@]}" -o "$work/two.model" 2>"$work/two.err" | rate)"
  echo "round $round: 1 process $one sequences/s, 2 ranks $two sequences/s ($(ratio "$one" "$two")); $(share "$work/two.err")"
  if $namespaces; then
    apart="$(scripts/mpi-namespaces.sh "$binary" "${train[@]}" -o "$work/apart.model" 2>"$work/apart.err" | rate)" \
      || { echo "2 ranks across namespaces failed:"; tail -5 "$work/apart.err"; exit 1; }
    echo "round $round: 2 ranks across two network namespaces (TCP) $apart sequences/s ($(ratio "$one" "$apart")); $(share "$work/apart.err")"
  fi
done
