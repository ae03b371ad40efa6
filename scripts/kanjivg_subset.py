"""Copies KanjiVG's CJK characters of at most MOST strokes (PyPI kanjivg) into TARGET: each
character's base form (04e00.svg) and its variants (04e00-Kaisho.svg ...).
    python kanjivg_subset.py TARGET MOST"""
import os
import re
import shutil
import sys

import kanji

source, target, most = list(kanji.__path__)[0], sys.argv[1], int(sys.argv[2])
os.makedirs(target, exist_ok=True)
chosen = set()
for name in sorted(os.listdir(source)):
    m = re.fullmatch(r"([0-9a-f]{5})\.svg", name)
    if m and 0x4E00 <= int(m.group(1), 16) <= 0x9FFF:
        with open(os.path.join(source, name)) as f:
            if f.read().count("<path") <= most:
                chosen.add(m.group(1))
copied = 0
for name in sorted(os.listdir(source)):
    if name[:5] in chosen and name.endswith(".svg"):
        shutil.copy(os.path.join(source, name), target)
        copied += 1
print(f"{len(chosen)} characters of at most {most} strokes, {copied} files", file=sys.stderr)
