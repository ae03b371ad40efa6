#!/usr/bin/env bash
# Prints the path of a Python with torch, torchaudio and numpy for the audio reference scripts:
# a venv under ~/.cache that sees the shared anchors' torch (../shared/bench/anchors-env) and adds
# torchaudio (2.11 and later work with any torch from 2.11 on) without replacing that torch.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
anchors_python="$("$here/../../shared/bench/anchors-env")"
venv="${RECURRENT_AUDIO_VENV:-$HOME/.cache/recurrent-audio-reference}"
if ! "$venv/bin/python" -c "import torch, torchaudio, numpy, safetensors" 2>/dev/null; then
  python3 -m venv "$venv" >&2
  anchors_site="$("$anchors_python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  venv_site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  echo "$anchors_site" > "$venv_site/recurrent-anchors.pth"
  "$venv/bin/pip" install -q --no-deps "torchaudio>=2.11" >&2
fi
echo "$venv/bin/python"
