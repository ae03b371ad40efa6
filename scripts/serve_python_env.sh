#!/usr/bin/env bash
# Makes (once) the Python environment the server's tests and scripts use, under ~/.cache, and
# prints its python's path: tritonclient[http,grpc] and openai (clients the server must satisfy
# unchanged), selenium (drives headless Chromium through the page), schemathesis (fuzzes /openapi.json).
set -euo pipefail
venv="${RECURRENT_SERVE_VENV:-$HOME/.cache/recurrent-serve-venv}"
stamp="$venv/.installed-v3"
if [ ! -f "$stamp" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "tritonclient[http,grpc]" openai numpy selenium schemathesis requests >&2
  touch "$stamp"
fi
echo "$venv/bin/python"
