#!/usr/bin/env bash
# Load comparison on loopback: `recurrent serve` against FastAPI + uvicorn + onnxruntime serving
# the same LSTMs exported from PyTorch (serve_anchor_models.py, serve_anchor.py), with wrk from
# Debian. Every run is bounded in time; both servers are stopped at the end.
#
#   scripts/serve_load.sh [SECONDS] [CONCURRENCY...]     (defaults: 15 s, concurrency 1 and 16)
#
# Prints, per workload (forecast-small: x [1, 50, 1]; charlm-medium: x [1, 100, 64]; JSON in,
# h_n out) and concurrency, requests/s and latency percentiles of both servers and their ratios;
# then one streaming session step of charlm-medium (x [1, 1, 64], state kept by the server,
# requests one after another on one connection);
# then a soak of at least 100,000 requests with the errors and the resident memory after
# warm-up and at the end.
set -euo pipefail
seconds="${1:-15}"
shift || true
levels=("$@")
[ ${#levels[@]} -gt 0 ] || levels=(1 16)
root="$(cd "$(dirname "$0")/.." && pwd)"
binary="${RECURRENT_BINARY:-$root/.build/release/recurrent}"
bench="${RECURRENT_SERVE_BENCH:-$HOME/.cache/recurrent-serve-bench}"
anchors_env="${RECURRENT_ANCHORS_ENV:-$root/../shared/bench/anchors-env}"
[ -x "$anchors_env" ] || anchors_env=/work/shared/bench/anchors-env
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
mkdir -p "$bench"

# The models, once: PyTorch -> safetensors (recurrent import torch) and ONNX.
if [ ! -f "$bench/charlm-medium.onnx" ]; then
  "$("$anchors_env")" "$root/scripts/serve_anchor_models.py" "$bench"
fi
for name in forecast-small charlm-medium; do
  [ -f "$bench/$name.model" ] || "$binary" import torch "$bench/$name.safetensors" --config "$bench/$name.json" -o "$bench/$name.model" >&2
done
anchor_venv="${RECURRENT_SERVE_ANCHOR_VENV:-$HOME/.cache/recurrent-serve-anchor}"
if ! "$anchor_venv/bin/python" -c "import fastapi, uvicorn, onnxruntime, numpy" 2>/dev/null; then
  python3 -m venv "$anchor_venv" >&2
  "$anchor_venv/bin/pip" install --quiet --disable-pip-version-check fastapi uvicorn onnxruntime numpy >&2
fi

# Request bodies and wrk's scripts.
python3 - "$bench" <<'EOF'
import json, random, sys
random.seed(0)
out = sys.argv[1]
for name, (steps, width) in {"forecast-small": (50, 1), "charlm-medium": (100, 64)}.items():
    data = [round(random.uniform(-1, 1), 6) for _ in range(steps * width)]
    json.dump({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, steps, width], "data": data}],
               "outputs": [{"name": "h_n"}]}, open(f"{out}/{name}.body.json", "w"))
step = [round(random.uniform(-1, 1), 6) for _ in range(64)]
for start in (True, False):
    json.dump({"parameters": {"sequence_id": 7, "sequence_start": start},
               "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 1, 64], "data": step}], "outputs": [{"name": "h_n"}]},
              open(f"{out}/step-{'start' if start else 'next'}.body.json", "w"))
EOF
cat >"$bench/post.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = io.open(os.getenv("BODY"), "rb")
wrk.body = file:read("*a")
file:close()
EOF

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
log="$bench/serve.log"
# RECURRENT_SERVE_ARGS adds options, e.g. "--max-batch 32 --threads 1".
# shellcheck disable=SC2086
"$binary" serve "$bench/forecast-small.model" "$bench/charlm-medium.model" --port 0 --grpc-port 0 ${RECURRENT_SERVE_ARGS:-} 2>"$log" &
pids+=($!)
ours_pid=$!
for _ in $(seq 100); do grep -q serving "$log" && break; sleep 0.1; done
ours="$(grep -o 'http://127.0.0.1:[0-9]*' "$log")"
anchor_port=$((20000 + RANDOM % 20000))
(cd "$root/scripts" && exec "$anchor_venv/bin/python" serve_anchor.py "$bench" "$anchor_port") 2>"$bench/anchor.log" &
pids+=($!)
anchor="http://127.0.0.1:$anchor_port"
for _ in $(seq 300); do curl -sf "$anchor/v2/health/ready" >/dev/null && break; sleep 0.1; done

# Both servers answer the same request with the same h_n (to float32 rounding).
python3 - "$ours" "$anchor" "$bench" <<'EOF2'
import json, sys, urllib.request
ours, anchor, bench = sys.argv[1:]
for name in ("forecast-small", "charlm-medium"):
    body = open(f"{bench}/{name}.body.json", "rb").read()
    def h_n(url):
        request = urllib.request.Request(f"{url}/v2/models/{name}/infer", body, {"Content-Type": "application/json"})
        return json.load(urllib.request.urlopen(request))["outputs"][0]["data"]
    difference = max(abs(a - b) for a, b in zip(h_n(ours), h_n(anchor)))
    print(f"{name}: the two servers' h_n differ by at most {difference:.1e}")
    assert difference < 1e-4, "the servers disagree"
EOF2

# wrk NAME URL BODY CONNECTIONS SECONDS -> "requests/s p50 p99 errors total" (latencies in ms)
measure() {
  local out
  out="$(BODY="$3" wrk -t"$(( $4 < 2 ? $4 : 2 ))" -c"$4" -d"$5"s --latency -s "$bench/post.lua" "$2" 2>&1)"
  summarize "$out"
}
summarize() {
  python3 - "$1" <<'EOF'
import re, sys
text = sys.argv[1]
def ms(label):
    m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not m: return float("nan")
    return float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
total = int(re.search(r"(\d+) requests in", text).group(1))
errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", text))
errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
print(f"{rate:.0f} {ms('50%'):.3f} {ms('99%'):.3f} {errors} {total}")
EOF
}

# compute_totals MODEL -> "seconds batches": the model's compute time so far, from /metrics.
compute_totals() {
  curl -sf "$ours/metrics" | python3 -c '
import re, sys
text, model = sys.stdin.read(), sys.argv[1]
def total(kind):
    return sum(float(v) for v in re.findall(rf"^recurrent_inference_compute_duration_seconds_{kind}{{[^}}]*model=\"{model}\"[^}}]*}} (\S+)", text, re.M))
print(total("sum"), int(total("count")))' "$1"
}

echo "recurrent serve options: ${RECURRENT_SERVE_ARGS:-(defaults)}; uvicorn with one worker, onnxruntime's default threads"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); wrk with 2 threads (1 for one connection), ${seconds} s per run"
printf "%-15s %4s  %-10s %10s %9s %9s %7s\n" workload conc server "req/s" "p50 ms" "p99 ms" errors
for name in forecast-small charlm-medium; do
  for c in "${levels[@]}"; do
    measure warm "$ours/v2/models/$name/infer" "$bench/$name.body.json" "$c" 2 >/dev/null
    read -r compute_before batches_before <<<"$(compute_totals "$name")"
    read -r r1 p501 p991 e1 _ <<<"$(measure ours "$ours/v2/models/$name/infer" "$bench/$name.body.json" "$c" "$seconds")"
    read -r compute_after batches_after <<<"$(compute_totals "$name")"
    measure warm "$anchor/v2/models/$name/infer" "$bench/$name.body.json" "$c" 2 >/dev/null
    read -r r2 p502 p992 e2 _ <<<"$(measure anchor "$anchor/v2/models/$name/infer" "$bench/$name.body.json" "$c" "$seconds")"
    printf "%-15s %4s  %-10s %10s %9s %9s %7s\n" "$name" "$c" recurrent "$r1" "$p501" "$p991" "$e1"
    printf "%-15s %4s  %-10s %10s %9s %9s %7s\n" "$name" "$c" fastapi-ort "$r2" "$p502" "$p992" "$e2"
    python3 -c "print(f'{\"\":15} {\"\":4}  ratio      {$r1/$r2:10.2f}x {\"\":9} {$p991/$p992:9.3f}x (requests/s; p99)')"
    python3 -c "
seconds, batches = $compute_after - $compute_before, max($batches_after - $batches_before, 1)
print(f'{\"\":15} {\"\":4}  recurrent: the model computed {100 * seconds / $seconds:.0f}% of the time, {1e3 * seconds / batches:.3f} ms per batch')"
  done
done

# The floor at one connection: what wrk and loopback HTTP cost with no work behind the route.
read -r rh p50h p99h _ <<<"$(summarize "$(wrk -t1 -c1 -d"$seconds"s --latency "$ours/v2/health/live" 2>&1)")"
echo "floor: GET /v2/health/live, one connection: $rh requests/s, p50 $p50h ms, p99 $p99h ms"

echo "streaming: one step of charlm-medium in a session (x [1, 1, 64]), one connection, ${seconds} s"
# The sequence starts once; every request wrk sends continues it, one step at a time.
curl -sf -H "Content-Type: application/json" --data-binary @"$bench/step-start.body.json" "$ours/v2/models/charlm-medium/infer" >/dev/null
stream="$(BODY="$bench/step-next.body.json" wrk -t1 -c1 -d"$seconds"s --latency -s "$bench/post.lua" "$ours/v2/models/charlm-medium/infer" 2>&1)"
read -r rs p50s p99s es ts <<<"$(summarize "$stream")"
echo "  $ts steps, $rs steps/s, p50 ${p50s} ms, p99 ${p99s} ms, errors $es"

echo "soak: forecast-small, 16 connections, at least 100,000 requests"
rss() { awk '/VmRSS/ {print $2}' "/proc/$ours_pid/status"; }
read -r _ _ _ _ warm_total <<<"$(measure soak "$ours/v2/models/forecast-small/infer" "$bench/forecast-small.body.json" 16 5)"
before="$(rss)"
total=0 errors=0 runs=0 worst=0
while [ "$total" -lt 100000 ] && [ "$runs" -lt 30 ]; do
  read -r _ _ p99 e n <<<"$(measure soak "$ours/v2/models/forecast-small/infer" "$bench/forecast-small.body.json" 16 10)"
  total=$((total + n)) errors=$((errors + e)) runs=$((runs + 1))
  worst="$(python3 -c "print(max($worst, $p99))")"
done
after="$(rss)"
python3 -c "print(f'  {$total} requests in {$runs} runs of 10 s (worst p99 {$worst} ms), errors {$errors}; resident memory after {$warm_total} warm-up requests {$before/1024:.1f} MB, after the soak {$after/1024:.1f} MB ({100*($after-$before)/$before:+.1f}%)')"
kill -TERM "$ours_pid"
wait "$ours_pid" && echo "recurrent serve stopped with status 0 on SIGTERM"
