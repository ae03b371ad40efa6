"""Copies the sensor and ECG data of Data/sensors/ out of the PyPI wheels named in its README.

Usage: python3 scripts/sensors_data.py WHEEL_DIR   (after `pip download --no-deps aeon==1.6.0
sktime==1.2.0 scipy==1.11.4 -d WHEEL_DIR`). The .ts and mitdb files are copied byte for byte;
scipy's ecg.dat (ADC counts, an .npz) becomes millivolts, (count - 1024) / 200 as scipy's
electrocardiogram() computes them, one per line.
"""
import glob
import io
import os
import sys
import zipfile

import numpy as np

wheels, out = sys.argv[1], os.path.join(os.path.dirname(__file__), "..", "Data", "sensors")
os.makedirs(out, exist_ok=True)


def member(pattern, name):
    (wheel,) = glob.glob(os.path.join(wheels, pattern))
    with zipfile.ZipFile(wheel) as z:
        return z.read(name)


for problem in ["BasicMotions", "JapaneseVowels"]:
    for part in ["TRAIN", "TEST"]:
        data = member("aeon-1.6.0-*.whl", f"aeon/datasets/data/{problem}/{problem}_{part}.ts")
        open(os.path.join(out, f"{problem}_{part}.ts"), "wb").write(data)
open(os.path.join(out, "mitdb.csv"), "wb").write(member("sktime-1.2.0-*.whl", "sktime/datasets/data/mitdb/mitdb.csv"))
with np.load(io.BytesIO(member("scipy-1.11.4-*.whl", "scipy/misc/ecg.dat"))) as f:
    millivolts = (f["ecg"].astype(int) - 1024) / 200.0
with open(os.path.join(out, "ecg-record208.csv"), "w") as f:
    f.write("mv\n" + "".join(f"{v:.3f}\n" for v in millivolts))
