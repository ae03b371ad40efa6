"""The forecasting quality table's PyTorch column: the same configuration as
`recurrent forecast train` at its defaults, trained the same way.

Same data preparation (70/15/15 split in time order, standard scaling fitted on the training part,
windows of 20 or 1.5 seasons, each window relative to its last step plus that step's level as an
extra input, targets as changes from the reference naive forecast divided by their standard
deviation), the same model (LSTM 1x32 + Linear), Adam at 0.005, batches of 32 shuffled each epoch,
gradient norm clipped to 1, up to 100 epochs, early stopping after 20 epochs without a better
validation loss, the best validated parameters kept, seed 0. Scores on the same test windows.

Run: python3 Benchmarks/forecast_torch.py  (installs torch and numpy with pip when missing;
or use the Python printed by ../shared/bench/anchors-env)
"""
import csv, json, subprocess, sys

try:
    import numpy as np, torch
except ImportError:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "torch", "numpy"])
    import numpy as np, torch

SERIES = [  # name, file, column, season (as `recurrent` detects it)
    ("sunspots", "Data/sunspots-yearly.csv", "SUNACTIVITY", 1),
    ("airline", "Data/airline-passengers.csv", "Passengers", 12),
    ("co2", "Data/co2-weekly.csv", "co2", 52),
    ("sf-temps", "Data/sf-temps-hourly.csv", "temp", 24),
]


def read(path, column):
    values = [row[column].strip() for row in csv.DictReader(open(path))]
    known = [(i, float(v)) for i, v in enumerate(values) if v not in ("", "NA", "nan")]
    return np.interp(np.arange(len(values)), [i for i, _ in known], [v for _, v in known])  # linear, ends held


def best_reference(train, season):
    if season <= 1:
        return "last"
    t = np.arange(season + 1, len(train))
    errors = {"last": np.abs(train[t] - train[t - 1]).sum(), "seasonal": np.abs(train[t] - train[t - season]).sum(),
              "change": np.abs(train[t] - train[t - 1] - train[t - season] + train[t - 1 - season]).sum()}
    return min(errors, key=errors.get)


def reference(windows, kind, season):  # windows [N, W] scaled -> reference value of the next step [N]
    w = windows.shape[1]
    if kind == "last" or season >= w:
        return windows[:, -1]
    if kind == "seasonal":
        return windows[:, w - season]
    return windows[:, -1] + windows[:, w - season] - windows[:, w - 1 - season]


def scores(pred, truth, scale):
    err = pred - truth
    denom = np.abs(pred) + np.abs(truth)
    smape = 200 * np.mean(np.where(denom > 0, np.abs(err) / np.where(denom > 0, denom, 1), 0))
    return {"rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err))), "smape": float(smape),
            "mase": float(np.mean(np.abs(err)) / scale)}


def run(name, path, column, season):
    torch.manual_seed(0)
    torch.set_num_threads(2)
    y = read(path, column)
    n = len(y)
    train_end, validation_end = int(n * 0.7), int(n * 0.85)
    window = max(20, season + season // 2) if season > 1 else 20
    mean, std = y[:train_end].mean(), y[:train_end].std()
    z = (y - mean) / std
    kind = best_reference(y[:train_end], season)
    starts = np.arange(n - window)
    windows = np.stack([z[s:s + window] for s in starts])
    inputs = np.stack([windows - windows[:, -1:], np.repeat(windows[:, -1:], window, 1)], axis=2).astype(np.float32)
    changes = z[starts + window] - reference(windows, kind, season)
    train = starts[starts + window + 1 <= train_end]
    validation = starts[(starts + window >= train_end) & (starts + window + 1 <= validation_end)]
    test = starts[starts + window >= validation_end]
    scale = changes[train].std() if changes[train].std() > 1e-3 else 1.0
    x, t = torch.tensor(inputs), torch.tensor((changes / scale).astype(np.float32))

    lstm, dense = torch.nn.LSTM(2, 32, batch_first=True), torch.nn.Linear(32, 1)
    model = torch.nn.ModuleList([lstm, dense])
    forward = lambda idx: dense(lstm(x[idx])[0][:, -1]).squeeze(1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    best, best_state, waited = float("inf"), None, 0
    generator = np.random.default_rng(0)
    for epoch in range(100):
        order = generator.permutation(train)
        for b in range(0, len(order), 32):
            idx = order[b:b + 32]
            loss = torch.mean((forward(idx) - t[idx]) ** 2)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        with torch.no_grad():
            validation_loss = torch.mean((forward(validation) - t[validation]) ** 2).item()
        if validation_loss < best:
            best, best_state, waited = validation_loss, {k: v.clone() for k, v in model.state_dict().items()}, 0
        else:
            waited += 1
            if waited >= 20:
                break
    model.load_state_dict(best_state)
    with torch.no_grad():
        predicted = forward(test).numpy() * scale + reference(windows[test], kind, season)
    prediction, truth = predicted * std + mean, y[test + window]
    lag = season if season > 1 else 1
    mase_scale = np.mean(np.abs(y[lag:train_end] - y[:train_end - lag]))
    naive = y[test + window - 1]
    result = {"series": name, "test_windows": int(len(test)), "epochs": epoch + 1, "reference": kind,
              "model": scores(prediction, truth, mase_scale), "naive": scores(naive, truth, mase_scale)}
    if season > 1:
        result["seasonal_naive"] = scores(y[test + window - season], truth, mase_scale)
    print(json.dumps(result))


if __name__ == "__main__":
    for series in SERIES:
        run(*series)
