"""Reads an ABC file of tunes with music21's ABC reader and counts what holds.

    python music_check.py TUNES.abc [MORE.abc ...]

For each tune (split at X: lines): does music21 read it (no exception, at least one note), and
of its measures, how many last what the meter asks. Three counts:
- every measure on its own ("full");
- every measure, where a short measure counts as whole when it and a short neighbour make one
  measure together ("balanced"): the pickup that opens a tune or section and the short measure
  that closes the one before it (or closes the tune), and a measure cut in two by a repeat sign
  or an ending that music21 reads as two measures. Notation asks exactly this of short measures;
- the measures away from section edges (not the first or last measure of the tune, nor next to a
  repeat sign, double bar or ending), the bars that may never be short ("inner").
Prints one JSON line.
"""
import json
import sys
import warnings

warnings.filterwarnings("ignore")
from music21 import converter, stream  # noqa: E402


def tunes_of(paths):
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        blocks = [b.strip() for b in text.split("\nX:")]
        for k, block in enumerate(blocks):
            if not block:
                continue
            yield block if (k == 0 and block.startswith("X:")) else "X:" + block


def is_boundary(barline):
    return barline is not None and (barline.type not in ("regular", None) or getattr(barline, "direction", None))


def measure_counts(score):
    part = score.parts[0] if score.parts else score
    measures = list(part.getElementsByClass(stream.Measure))
    full = inner = inner_full = counted = 0
    expected = [m.barDuration.quarterLength for m in measures]
    actual = [m.duration.quarterLength for m in measures]
    whole = [abs(e - a) < 1e-6 for e, a in zip(expected, actual)]
    balanced = list(whole)

    def pairs(k, j):
        return actual[k] < expected[k] and actual[j] < expected[j] and abs(actual[k] + actual[j] - expected[k]) < 1e-6

    for k in range(len(measures)):
        if whole[k]:
            continue
        neighbours = [k - 1, k + 1]
        if k == 0:
            neighbours.append(len(measures) - 1)  # a tune's pickup and its closing measure
        if k == len(measures) - 1:
            neighbours.append(0)
        balanced[k] = any(0 <= j < len(measures) and j != k and pairs(k, j) for j in neighbours)
    for k, m in enumerate(measures):
        counted += 1
        ok = whole[k]
        full += ok
        edge = k == 0 or k == len(measures) - 1 or is_boundary(m.leftBarline) or is_boundary(m.rightBarline) \
            or is_boundary(measures[k - 1].rightBarline) or (k + 1 < len(measures) and is_boundary(measures[k + 1].leftBarline))
        if not edge:
            inner += 1
            inner_full += ok
    return counted, full, inner, inner_full, sum(balanced)


def main():
    tunes = parsed = measures = full = inner = inner_full = balanced = 0
    failures = []
    for text in tunes_of(sys.argv[1:]):
        tunes += 1
        try:
            score = converter.parse(text, format="abc")
            if not score.flatten().notes:
                raise ValueError("no notes")
        except Exception as error:  # music21 raises many kinds
            failures.append(str(error)[:120])
            continue
        parsed += 1
        c, f, i, i_f, b = measure_counts(score)
        measures += c
        balanced += b
        full += f
        inner += i
        inner_full += i_f
    print(json.dumps({"tunes": tunes, "parsed": parsed, "measures": measures, "full_measures": full,
                      "full_fraction": full / max(measures, 1),
                      "balanced_measures": balanced, "balanced_fraction": balanced / max(measures, 1), "inner_measures": inner, "inner_full": inner_full,
                      "inner_full_fraction": inner_full / max(inner, 1), "failures": failures[:5]}))


if __name__ == "__main__":
    main()
