"""The M3 and Tourism competitions: Recurrent's global model beside statsforecast's AutoETS,
AutoARIMA, Theta and the seasonal naive forecast, on the official test periods.

  scripts/competitions.sh [DATA_DIR] [WORK_DIR]      (makes the venv, builds, runs all of this)

  python competitions.py baselines DATA_DIR WORK_DIR       statsforecast's forecasts (cached in WORK_DIR)
  python competitions.py baselines-fast DATA_DIR WORK_DIR  the same without AutoARIMA
  python competitions.py recurrent DATA_DIR WORK_DIR BIN [--sets tourism-yearly,...] [train options]
                                                          train and predict with the recurrent CLI
  python competitions.py table DATA_DIR WORK_DIR            the scores, as Markdown

DATA_DIR holds {m3,tourism}-{train,test,series}.csv (long format: unique_id, ds, y). Every method
is scored here by the same code: sMAPE (in percent, over every test value, as in M3), MASE (the
mean over series of each one's MAE over the in-sample MAE of the seasonal naive forecast, lag
1, 4 or 12), and for the methods with intervals their coverage.
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd

SEASONS = {"YEARLY": 1, "QUARTERLY": 4, "MONTHLY": 12, "OTHER": 1}
LEVELS = [80, 95]
BASELINES = ["AutoETS", "AutoARIMA", "Theta", "SeasonalNaive"]


def groups(data_dir, competition):
    """(period, h, season, train, test) for every period of the competition."""
    series = pd.read_csv(os.path.join(data_dir, f"{competition}-series.csv"))
    train = pd.read_csv(os.path.join(data_dir, f"{competition}-train.csv"))
    test = pd.read_csv(os.path.join(data_dir, f"{competition}-test.csv"))
    for period in ["YEARLY", "QUARTERLY", "MONTHLY", "OTHER"]:
        ids = series.loc[series.period == period, "unique_id"]
        if ids.empty:
            continue
        h = int(series.loc[series.period == period, "h"].iloc[0])
        yield (period, h, SEASONS[period], train[train.unique_id.isin(ids)].reset_index(drop=True),
               test[test.unique_id.isin(ids)].reset_index(drop=True))


def baselines(data_dir, work, fast=False):
    """statsforecast's forecasts; `fast` leaves AutoARIMA out (hours on a busy machine)."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS, SeasonalNaive, Theta
    for competition in ["tourism", "m3"]:
        for period, h, season, train, _ in groups(data_dir, competition):
            path = os.path.join(work, f"{competition}-{period.lower()}-baselines{'-fast' if fast else ''}.csv")
            if os.path.exists(path):
                continue
            started = time.time()
            models = [AutoETS(season_length=season)] + ([] if fast else [AutoARIMA(season_length=season)]) + [
                Theta(season_length=season), SeasonalNaive(season_length=season)]
            frame = StatsForecast(models=models, freq=1, n_jobs=-1).forecast(df=train, h=h, level=LEVELS)
            frame.reset_index().to_csv(path + ".tmp", index=False)
            os.replace(path + ".tmp", path)
            print(f"{competition} {period}: {len(train.unique_id.unique())} series in {time.time() - started:.0f} s", file=sys.stderr)


def recurrent(data_dir, work, binary, extra):
    """Trains and forecasts every set, or with `--sets tourism-yearly,...` first those alone."""
    sets = None
    if extra[:1] == ["--sets"]:
        sets, extra = extra[1].split(","), extra[2:]
    path = os.path.join(work, "recurrent-timings.json")
    timings = json.load(open(path)) if sets and os.path.exists(path) else {}
    for competition in ["m3", "tourism"]:
        for period, h, season, train, _ in groups(data_dir, competition):
            name = f"{competition}-{period.lower()}"
            if sets and name not in sets:
                continue
            train_path = os.path.join(work, f"{name}-train.csv")
            train.to_csv(train_path, index=False)
            model = os.path.join(work, f"{name}.model")
            started = time.time()
            subprocess.run([binary, "forecast", "train", train_path, "--season", str(season), "--horizon", str(h),
                            "-o", model] + extra, check=True, stdout=sys.stderr)
            timings[name] = time.time() - started
            with open(os.path.join(work, f"{name}-recurrent.csv"), "w") as out:
                subprocess.run([binary, "forecast", "predict", model, train_path], check=True, stdout=out)
            print(f"{name}: trained in {timings[name]:.0f} s", file=sys.stderr)
            with open(path, "w") as out:
                json.dump(timings, out)


def scores(train, test, forecast, column, season, intervals):
    """sMAPE, MASE and coverage of `forecast[column]` (with `column-lo-80` ... when intervals)."""
    merged = test.merge(forecast, on=["unique_id", "ds"], how="left")
    if merged[column].isna().any():
        raise SystemExit(f"{column}: forecasts missing for {merged[merged[column].isna()].unique_id.iloc[0]}")
    y, f = merged.y.to_numpy(), merged[column].to_numpy()
    smape = np.mean(200 * np.abs(y - f) / (np.abs(y) + np.abs(f)))
    scale = {}
    for uid, part in train.groupby("unique_id", sort=False):
        values = part.y.to_numpy()
        lag = season if season > 1 and len(values) > season else 1
        scale[uid] = np.mean(np.abs(values[lag:] - values[:-lag]))
    merged["abs"] = np.abs(y - f)
    per_series = merged.groupby("unique_id", sort=False)["abs"].mean()
    mase = np.mean([mae / scale[uid] for uid, mae in per_series.items() if scale[uid] > 0])
    result = {"smape": smape, "mase": mase}
    for level in intervals:
        low, high = merged[f"{column}-lo-{level}"].to_numpy(), merged[f"{column}-hi-{level}"].to_numpy()
        result[f"cover{level}"] = np.mean((low <= y) & (y <= high))
    return result


def table(data_dir, work):
    timings = json.load(open(os.path.join(work, "recurrent-timings.json")))
    rows, overall = [], {}
    for competition in ["m3", "tourism"]:
        for period, h, season, train, test in groups(data_dir, competition):
            name = f"{competition}-{period.lower()}"
            # AutoARIMA can take hours on a busy machine: `baselines-fast` (without it) stands in
            # until `baselines` is done, and the table says which numbers are missing.
            paths = [os.path.join(work, f"{name}-baselines{suffix}.csv") for suffix in ["", "-fast"]]
            base = next((pd.read_csv(p) for p in paths if os.path.exists(p)), pd.DataFrame())
            ours_path = os.path.join(work, f"{name}-recurrent.csv")
            if not os.path.exists(ours_path):
                continue
            ours = pd.read_csv(ours_path)
            ours = ours.rename(columns={"mean": "Recurrent", **{f"{s}-{l}": f"Recurrent-{s}-{l}" for s in ["lo", "hi"] for l in LEVELS}})
            ours["ds"] = ours.ds.astype(test.ds.dtype)
            row = {"competition": competition, "period": period, "series": test.unique_id.nunique(), "h": h,
                   "train_seconds": timings.get(name)}
            for method, frame in [("Recurrent", ours)] + [(m, base) for m in BASELINES]:
                row[method] = scores(train, test, frame, method, season, LEVELS) if method in frame.columns else None
            rows.append(row)
            overall.setdefault(competition, []).append((test, row))
    print("| data | series | h | metric | Recurrent | AutoETS | AutoARIMA | Theta | seasonal naive | Recurrent training (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        metric = "sMAPE" if row["competition"] == "m3" else "MASE"
        key = metric.lower()
        cells = ["n/a" if row[m] is None else f"{row[m][key]:.2f}" if key == "smape" else f"{row[m][key]:.3f}"
                 for m in ["Recurrent"] + BASELINES]
        print(f"| {row['competition'].upper()} {row['period'].lower()} | {row['series']} | {row['h']} | {metric} | " + " | ".join(cells)
              + f" | {row['train_seconds']:.0f} |")
    # M3 overall sMAPE: the mean over every test value of all 3,003 series.
    m3 = overall.get("m3", [])
    points = sum(len(t) for t, _ in m3)
    if len(m3) == 4:
        cells = ["n/a" if any(r[m] is None for _, r in m3) else f"{sum(len(t) * r[m]['smape'] for t, r in m3) / points:.2f}"
                 for m in ["Recurrent"] + BASELINES]
        print(f"| M3 overall | {sum(r['series'] for _, r in m3)} | | sMAPE | " + " | ".join(cells) + " | |")
    print()
    print("| data | method | sMAPE | MASE | 80% coverage | 95% coverage |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        for m in ["Recurrent", "AutoETS", "AutoARIMA", "Theta"]:
            s = row[m]
            if s is None:
                continue
            print(f"| {row['competition'].upper()} {row['period'].lower()} | {m} | {s['smape']:.2f} | {s['mase']:.3f} | "
                  f"{s['cover80']:.3f} | {s['cover95']:.3f} |")


if __name__ == "__main__":
    command, data_dir, work = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(work, exist_ok=True)
    if command in ["baselines", "baselines-fast"]:
        baselines(data_dir, work, fast=command == "baselines-fast")
    elif command == "recurrent":
        recurrent(data_dir, work, sys.argv[4], sys.argv[5:])
    else:
        table(data_dir, work)
