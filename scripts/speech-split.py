"""Splits Data/speech/asterisk-en/manifest.tsv into train, validation and test manifests.

The split is by transcript, not by file: 38 texts were recorded two or three times (two pairs
are even the same recording), so every file of one text goes to the same part, and no test
file has a twin in training. Each distinct text goes to a part by the first byte of the SHA-256
of its text: 0-25 test, 26-51 validation, the rest train (about 10%, 10% and 80% of the texts).
The outputs keep the manifest's format (path<TAB>text, a header line) and its paths relative to
Data/speech/ (asterisk-en/NAME.wav), in the manifest's order.

Usage: python3 scripts/speech-split.py   (no packages needed; rewrites the three files)
"""
import csv, hashlib, os

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "Data", "speech")


def part(text):
    first = hashlib.sha256(text.encode("utf-8")).digest()[0]
    return "test" if first < 26 else "validation" if first < 52 else "train"


with open(os.path.join(DATA, "asterisk-en", "manifest.tsv"), newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f, delimiter="\t"))
parts = {"train": [], "validation": [], "test": []}
for row in rows:
    parts[part(row["text"])].append(("asterisk-en/" + row["path"], row["text"]))
for name, items in parts.items():
    path = os.path.join(DATA, name + ".tsv")
    with open(path + ".tmp", "w", newline="", encoding="utf-8") as f:
        f.write("path\ttext\n")
        for audio, text in items:
            f.write(f"{audio}\t{text}\n")
    os.replace(path + ".tmp", path)
    texts = {text for _, text in items}
    print(f"{name}: {len(items)} files, {len(texts)} texts, {sum(len(t.split()) for _, t in items)} words")
