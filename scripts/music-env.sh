#!/usr/bin/env bash
# The Python environment of the music and strokes scripts (music21 10.5.1 with its corpus, mido,
# KanjiVG 20260714, from PyPI), made once in ~/.cache/recurrent-music-venv.
#   scripts/music-env.sh            prints its python
#   scripts/music-env.sh --corpus   prints music21's corpus folder (O'Neill's, Ryan's, Bach)
set -euo pipefail
venv="$HOME/.cache/recurrent-music-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2
"$venv/bin/python" -c "import music21, mido, kanji" 2>/dev/null \
  || "$venv/bin/pip" install -q music21==10.5.1 mido kanjivg==20260714 >&2
if [ "${1:-}" = "--corpus" ]; then
  "$venv/bin/python" -c 'import music21, os; print(os.path.join(os.path.dirname(music21.__file__), "corpus"))'
else
  echo "$venv/bin/python"
fi
