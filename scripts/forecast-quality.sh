#!/usr/bin/env bash
# Trains `recurrent forecast train` at its default options and seed on every bundled series and
# prints one line of test MASE per series (model, naive, seasonal naive). Takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product recurrent >/dev/null
out=$(mktemp -d)
run() {
    local name=$1; shift
    local json
    json=$(.build/release/recurrent forecast train "$@" --json --plot "$out/$name.svg" -o "$out/$name.model" 2>/dev/null | tail -n 1)
    python3 - "$name" "$json" <<'PY'
import json, sys
name, table = sys.argv[1], json.loads(sys.argv[2])
seasonal = table["seasonal_naive"]
print(f"{name:10s} windows {table['test_windows']:5d}  MASE model {table['model']['mase']:.3f}  naive {table['naive']['mase']:.3f}  "
      f"seasonal naive {seasonal['mase'] if seasonal else float('nan'):.3f}  sMAPE model {table['model']['smape']:.2f}")
PY
}
run sunspots Data/sunspots-yearly.csv --column SUNACTIVITY
run airline Data/airline-passengers.csv --column Passengers
run co2 Data/co2-weekly.csv --column co2 --missing interpolate
run sf-temps Data/sf-temps-hourly.csv --column temp
echo "plots and models in $out"
