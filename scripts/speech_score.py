"""CER and WER of transcripts against a manifest, computed as `recurrent speech evaluate` does:
both texts lowercased with white space collapsed; character and word edit distances summed over
the corpus and divided by the references' summed lengths (characters with spaces; words).

Usage: python3 scripts/speech_score.py MANIFEST.tsv HYPOTHESES.tsv [--json]
HYPOTHESES.tsv holds path<TAB>transcript lines for the manifest's paths (no header).
"""
import csv, json, sys


def normalise(text):
    return " ".join(text.lower().split())


def edit_distance(a, b):
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def score(pairs):
    edits = characters = word_edits = words = 0
    for hypothesis, reference in pairs:
        hypothesis, reference = normalise(hypothesis), normalise(reference)
        edits += edit_distance(hypothesis, reference)
        characters += len(reference)
        word_edits += edit_distance(hypothesis.split(), reference.split())
        words += len(reference.split())
    return {"utterances": len(pairs), "cer": edits / max(characters, 1), "wer": word_edits / max(words, 1)}


if __name__ == "__main__":
    manifest, hypotheses = sys.argv[1], sys.argv[2]
    with open(manifest, newline="", encoding="utf-8") as f:
        references = {row["path"]: row["text"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)}
    found = {}
    for line in open(hypotheses, encoding="utf-8"):
        path, _, text = line.rstrip("\n").partition("\t")
        found[path] = text
    missing = [p for p in references if p not in found]
    if missing:
        sys.exit(f"{hypotheses}: no transcript for {len(missing)} of the manifest's files, first {missing[0]}")
    result = score([(found[p], references[p]) for p in references])
    print(json.dumps(result) if "--json" in sys.argv else f"CER {result['cer']:.4f}  WER {result['wer']:.4f}  ({result['utterances']} utterances)")
