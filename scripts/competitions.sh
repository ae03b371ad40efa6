#!/usr/bin/env bash
# The M3 and Tourism competition table of README.md and docs/forecasting.md:
#   scripts/competitions.sh [DATA_DIR] [WORK_DIR] [extra `forecast train` options...]
# DATA_DIR: the long competition files (default ../shared/datasets/competitions, see its README).
# statsforecast (AutoETS, AutoARIMA, Theta, seasonal naive) runs from a venv under ~/.cache; its
# forecasts are cached in WORK_DIR (about an hour on two cores), Recurrent's are made afresh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:-$root/../shared/datasets/competitions}"
work="${2:-$root/.build/competitions}"
shift $(( $# > 2 ? 2 : $# ))
venv="$HOME/.cache/recurrent-statsforecast"
if ! "$venv/bin/python" -c "import statsforecast, pandas" 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q "statsforecast==2.1.1" pandas >&2
fi
(cd "$root" && swift build -c release --product recurrent >&2)
mkdir -p "$work"
"$venv/bin/python" -W ignore "$root/scripts/competitions.py" baselines "$data" "$work"
"$venv/bin/python" -W ignore "$root/scripts/competitions.py" recurrent "$data" "$work" "$root/.build/release/recurrent" --threads 2 "$@"
"$venv/bin/python" -W ignore "$root/scripts/competitions.py" table "$data" "$work"
