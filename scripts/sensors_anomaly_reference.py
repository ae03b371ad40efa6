#!/usr/bin/env python3
"""Reference figures for `recurrent anomaly detect` on a labelled signal: STUMPY's matrix
profile (the distance of each window to its nearest neighbour among the normal windows, an
AB-join; the top discord is its maximum) and scikit-learn's IsolationForest on the same sliding
windows, both fitted on the steps before --train-until as recurrent is.

Every method is judged as recurrent's detect judges itself: a window's score is placed at its
middle step, the threshold is the highest score over the normal part, flagged steps form ranges,
and the figures are point-wise and point-adjusted precision, recall and F1 and whether the top
score lies within 100 steps of a labelled range.

    python scripts/sensors_anomaly_reference.py Data/sensors/mitdb.csv --column data --labels label --train-until 3000

Needs numpy, stumpy and scikit-learn. Prints one JSON line per method.
"""
import argparse
import csv
import json
import time

import numpy as np


def runs(marks):
    out, start = [], None
    for t, mark in enumerate(list(marks) + [False]):
        if mark and start is None:
            start = t
        if not mark and start is not None:
            out.append((start, t))
            start = None
    return out


def figures(flagged, labels):
    def prf(marks):
        tp = int(np.sum(marks & labels)); p = tp / max(1, marks.sum()); r = tp / max(1, labels.sum())
        return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(0 if p + r == 0 else 2 * p * r / (p + r), 4)}
    adjusted = flagged.copy()
    for s, e in runs(labels):
        if flagged[s:e].any():
            adjusted[s:e] = True
    return prf(flagged), prf(adjusted)


def judge(name, scores, labels, until, seconds):
    """scores: one per step (nan where a method gives none)."""
    threshold = np.nanmax(scores[:until])
    flagged = np.nan_to_num(scores, nan=-np.inf) > threshold
    pointwise, adjusted = figures(flagged, labels)
    top = int(np.nanargmax(scores))
    hit = any(s - 100 <= top <= e - 1 + 100 for s, e in runs(labels))
    return {"method": name, "pointwise": pointwise, "point_adjusted": adjusted, "top_location": top, "top_hit": hit,
            "flagged_ranges": len(runs(flagged)), "seconds": round(seconds, 2)}


def centred(window_scores, length, m):
    scores = np.full(length, np.nan)
    scores[m // 2:m // 2 + len(window_scores)] = window_scores
    return scores


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data")
    parser.add_argument("--column", required=True)
    parser.add_argument("--labels", required=True)
    parser.add_argument("--train-until", type=int, required=True)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with open(args.data, newline="") as handle:
        rows = list(csv.DictReader(handle))
    x = np.array([float(r[args.column]) for r in rows])
    labels = np.array([r[args.labels].strip() == "1" for r in rows])
    m, until = args.window, args.train_until

    import stumpy
    start = time.time()
    normal_profile = stumpy.stump(x[:until], m)[:, 0].astype(float)
    joined = stumpy.stump(x, m, T_B=x[:until], ignore_trivial=False)[:, 0].astype(float)
    # Inside the normal part, the AB-join finds each window itself (distance 0): its self-join
    # profile stands in there.
    joined[:len(normal_profile)] = normal_profile
    print(json.dumps(judge("stumpy matrix profile (AB-join with the normal part)", centred(joined, len(x), m), labels, until,
                           time.time() - start)))

    from sklearn.ensemble import IsolationForest
    start = time.time()
    windows = np.lib.stride_tricks.sliding_window_view(x, m)
    forest = IsolationForest(n_estimators=200, random_state=args.seed).fit(windows[:until - m + 1])
    scores = -forest.score_samples(windows)
    print(json.dumps(judge("IsolationForest on sliding windows", centred(scores, len(x), m), labels, until, time.time() - start)))


if __name__ == "__main__":
    main()
