#!/usr/bin/env bash
# Fuzzes every route of /openapi.json with schemathesis against `recurrent serve` on a free
# loopback port, for a bounded time; exits non-zero on any failure it finds.
#   scripts/serve_fuzz.sh SECONDS MODEL...        (e.g. 60 lstm.model bard.model sentiment.model)
# Every check runs but positive_data_acceptance: JSON Schema cannot say which texts a model's
# vocabulary reads, which inputs a model takes, or that "dates" match "history", so a request
# valid by the schema may rightly get a 400 naming the problem.
set -euo pipefail
seconds="${1:?usage: serve_fuzz.sh SECONDS MODEL...}"; shift
root="$(cd "$(dirname "$0")/.." && pwd)"
python="$("$root/scripts/serve_python_env.sh")"
binary="${RECURRENT_BINARY:-$root/.build/release/recurrent}"
log="$(mktemp)"
"$binary" serve "$@" --port 0 --grpc-port 0 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q "serving" "$log" && break; sleep 0.1; done
address="$(grep -o 'http://127.0.0.1:[0-9]*' "$log")"
report="$(mktemp)"
# In a scratch folder: schemathesis keeps a cache where it runs.
(cd "$(mktemp -d)" && exec "$(dirname "$python")/st" run "$address/openapi.json" --checks all --exclude-checks positive_data_acceptance \
  --max-time "$seconds" --workers 2 --no-color --seed 1) >"$report" 2>&1 || true
sed -n '/= SUMMARY =/,$p' "$report"
# schemathesis' own internal errors (a recursion limit in hypothesis) are not the server's;
# failures of a check, a lost connection or a server that went away are.
if grep -qE "^Failures:|Server Unavailable|Network Error" "$report"; then
  sed -n '/= FAILURES =/,/= WARNINGS =/p;/Server Unavailable/,+12p' "$report"
  echo "schemathesis found problems (full report: $report)"
  exit 1
fi
kill -TERM "$server"
wait "$server"
echo "fuzz run clean; server stopped with status 0 on SIGTERM"
