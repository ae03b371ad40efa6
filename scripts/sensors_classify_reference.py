#!/usr/bin/env python3
"""Reference figures for `recurrent classify train --train X_TRAIN.ts --test X_TEST.ts`: the
archive's own split, and either a PyTorch model of the same configuration (`--model torch`,
needs torch and numpy) or a scikit-learn baseline (`--model sklearn`, needs scikit-learn): a
random forest of 500 trees on per-channel summary statistics (mean, standard deviation, minimum,
maximum, quartiles, first and last value, mean step), which ignores the order of the steps.

The PyTorch model reads what recurrent reads: every channel standardised on the training cases,
each case at its own length (packed sequences), 10% of the training cases (the same ones,
classify_reference.split with test fraction 0) choosing the best epoch, max pooling over the
valid steps, Adam with a cosine schedule and gradient clipping at 1.

    python scripts/sensors_classify_reference.py Data/sensors/BasicMotions --model torch --cell gru --bidirectional

Prints one JSON line.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from classify_reference import macro_f1, split  # noqa: E402


def read_ts(path):
    """(cases [N][T_i, C], labels [N]) of a .ts file; trailing all-missing steps cut, as recurrent does."""
    cases, labels, data = [], [], False
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not data:
            data = line.lower() == "@data"
            continue
        *channels, label = line.split(":")
        values = np.array([[np.nan if v.strip() == "?" else float(v) for v in c.split(",")] for c in channels]).T
        while len(values) and np.isnan(values[-1]).all():
            values = values[:-1]
        cases.append(values.astype(np.float32))
        labels.append(label.strip())
    return cases, labels


def torch_model(args, train_x, train_y, test_x, classes):
    import torch
    from torch import nn

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    flat = np.concatenate(train_x)
    mean, std = flat.mean(0), flat.std(0)

    def tensors(cases):
        lengths = torch.tensor([len(c) for c in cases])
        padded = np.zeros((len(cases), int(lengths.max()), flat.shape[1]), dtype=np.float32)
        for i, c in enumerate(cases):
            padded[i, :len(c)] = (c - mean) / std
        return torch.tensor(padded), lengths

    x_fit, length_fit = tensors(train_x)
    x_test, length_test = tensors(test_x)
    y_fit = torch.tensor(train_y)
    fit, validation, _ = split(len(train_x), 0.0, args.seed)
    directions = 2 if args.bidirectional else 1
    rnn_class = {"lstm": nn.LSTM, "gru": nn.GRU}[args.cell]

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = rnn_class(flat.shape[1], args.hidden, batch_first=True, bidirectional=args.bidirectional)
            self.dropout = nn.Dropout(args.dropout)
            self.dense = nn.Linear(args.hidden * directions, len(classes))

        def forward(self, x, length):
            packed = nn.utils.rnn.pack_padded_sequence(x, length, batch_first=True, enforce_sorted=False)
            y, _ = nn.utils.rnn.pad_packed_sequence(self.rnn(packed)[0], batch_first=True)
            mask = (torch.arange(y.shape[1])[None, :] < length[:, None]).unsqueeze(2)
            return self.dense(self.dropout(y.masked_fill(~mask, float("-inf")).max(1).values))

    model = Classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=args.epochs * ((len(fit) + args.batch_size - 1) // args.batch_size))
    best, best_state, rng = float("inf"), None, np.random.default_rng(args.seed)
    for epoch in range(args.epochs):
        model.train()
        order = rng.permutation(fit)
        for b in range(0, len(order), args.batch_size):
            index = torch.tensor(order[b:b + args.batch_size])
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x_fit[index], length_fit[index]), y_fit[index]).backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
        model.eval()
        with torch.no_grad():
            index = torch.tensor(validation)
            logits = model(x_fit[index], length_fit[index])
            error = (logits.argmax(1) != y_fit[index]).float().mean().item()
            error += nn.functional.cross_entropy(logits, y_fit[index]).item() / 1000
        if error < best:
            best, best_state = error, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        return model(x_test, length_test).argmax(1).numpy()


def summary(cases):
    rows = []
    for c in cases:
        q = np.percentile(c, [25, 50, 75], axis=0)
        steps = np.diff(c, axis=0).mean(0) if len(c) > 1 else np.zeros(c.shape[1])
        rows.append(np.concatenate([c.mean(0), c.std(0), c.min(0), c.max(0), *q, c[0], c[-1], steps]))
    return np.array(rows)


def forest(args, train_x, train_y, test_x):
    from sklearn.ensemble import RandomForestClassifier
    model = RandomForestClassifier(n_estimators=500, random_state=args.seed, n_jobs=args.threads)
    return model.fit(summary(train_x), train_y).predict(summary(test_x))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("prefix", help="the path before _TRAIN.ts and _TEST.ts")
    parser.add_argument("--model", choices=["torch", "sklearn"], required=True)
    parser.add_argument("--cell", default="lstm")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--bidirectional", action="store_true")
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    train_x, train_labels = read_ts(args.prefix + "_TRAIN.ts")
    test_x, test_labels = read_ts(args.prefix + "_TEST.ts")
    classes = sorted(set(train_labels))
    train_y = np.array([classes.index(label) for label in train_labels])
    test_y = np.array([classes.index(label) for label in test_labels])
    start = time.time()
    predicted = torch_model(args, train_x, train_y, test_x, classes) if args.model == "torch" else forest(args, train_x, train_y, test_x)
    print(json.dumps({"data": os.path.basename(args.prefix), "model": "pytorch" if args.model == "torch" else "random forest on summary statistics",
                      "accuracy": round(float((predicted == test_y).mean()), 4),
                      "macro_f1": round(macro_f1(test_y, predicted, len(classes)), 4),
                      "n": len(test_y), "seconds": round(time.time() - start, 1)}))


if __name__ == "__main__":
    main()
