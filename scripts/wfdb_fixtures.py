"""Writes the reference values of the WFDB test records with PhysioNet's own reader.

    python scripts/wfdb_fixtures.py        (needs `pip install wfdb==4.3.1`)

For each record in Tests/RecurrentTests/Fixtures/wfdb, `wfdb.rdrecord(physical=True)` (float64)
gives every signal in physical units; they are written to NAME.expected.csv, a column per signal
(its description), a row per sample, each value as Python's shortest round-trip decimal and a
missing sample as an empty cell. The Swift reader must give the same doubles.
"""
import csv
import math
import os

import wfdb

FOLDER = os.path.join(os.path.dirname(__file__), "..", "Tests", "RecurrentTests", "Fixtures", "wfdb")

for name in sorted(n[:-4] for n in os.listdir(FOLDER) if n.endswith(".hea")):
    record = wfdb.rdrecord(os.path.join(FOLDER, name), physical=True, return_res=64)
    path = os.path.join(FOLDER, f"{name}.expected.csv")
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(record.sig_name)
        for row in record.p_signal:
            writer.writerow(["" if math.isnan(v) else repr(float(v)) for v in row])
    print(f"{name}: {record.n_sig} signals x {record.sig_len} samples at {record.fs} Hz, formats {record.fmt} -> {path}")

# Annotation files: each annotation's sample, symbol and auxiliary text, as PhysioNet's reader gives them.
for file in sorted(n for n in os.listdir(FOLDER) if n.endswith(".atr")):
    record = file[:-4]
    annotation = wfdb.rdann(os.path.join(FOLDER, record), "atr")
    path = os.path.join(FOLDER, f"{record}.atr.expected.csv")
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["sample", "symbol", "aux_note"])
        for sample, symbol, aux in zip(annotation.sample, annotation.symbol, annotation.aux_note):
            writer.writerow([int(sample), symbol, aux.rstrip("\x00")])
    print(f"{record}.atr: {len(annotation.sample)} annotations, symbols {sorted(set(annotation.symbol))} -> {path}")
