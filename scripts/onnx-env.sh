#!/usr/bin/env bash
# Prints the path of a Python with onnx, onnxruntime, numpy and safetensors: what the ONNX tests
# and `recurrent export onnx --check` run. It is the shared benchmarks' Python
# (../shared/bench/anchors-env: torch, onnxruntime, onnx, safetensors, installed once into
# ~/.cache/recurrent-anchors) where that script is beside the repository; otherwise a venv of the
# four packages, installed once into ~/.cache/recurrent-onnx (torch is then left out: only
# scripts/onnx_fixtures.py and scripts/onnx_speed.py need it, and they use anchors-env).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
anchors="$root/../shared/bench/anchors-env"
if [ -x "$anchors" ] && python="$("$anchors")" && "$python" -c "import onnx, onnxruntime, numpy, safetensors.numpy" 2>/dev/null; then
  echo "$python"
  exit 0
fi
venv="${RECURRENT_ONNX_VENV:-$HOME/.cache/recurrent-onnx}"
if ! "$venv/bin/python" -c "import onnx, onnxruntime, numpy, safetensors.numpy" 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check onnx onnxruntime numpy safetensors >&2
fi
echo "$venv/bin/python"
