#!/usr/bin/env python3
"""Reference figures for `recurrent classify train`: the same split of the same CSV, a PyTorch
model of the same configuration, and a linear baseline (TF-IDF logistic regression for text,
logistic regression on the standardized values for numeric sequences), both from scikit-learn.

The split reproduces the one of `recurrent classify train` exactly (SplitMix64 seeded with
--seed, a Fisher-Yates shuffle of the kept rows, the first --test-fraction for the test, the next
10% of the rest for validation), so the three figures are measured on the same test rows.

    python scripts/classify_reference.py Data/rotten-tomatoes-sentences.csv --label-column category \
        --text-column text --exclude-label plot
    python scripts/classify_reference.py Data/digits-8x8.csv --label-column label --features-per-step 8

Needs torch, numpy and scikit-learn (pip install torch numpy scikit-learn). Prints one JSON line
per model.
"""
import argparse
import collections
import csv
import json
import re
import sys
import time

import numpy as np

from recurrent_random import SplitMix64, shuffle


def split(count, test_fraction, seed, validation_fraction=0.1):
    order = list(range(count))
    shuffle(order, SplitMix64(seed))
    test_count = int(count * test_fraction + 0.5)
    validation_count = int((count - test_count) * validation_fraction + 0.5)
    test = order[:test_count]
    validation = order[test_count:test_count + validation_count]
    train = order[test_count + validation_count:]
    return train, validation, test


# Words: runs of letters and digits with inner apostrophes; every other visible character alone.
WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W\d_][^\W_]*)*|\S")


def tokenize(text, level):
    text = text.lower()
    return WORD.findall(text) if level == "word" else list(text)


def macro_f1(truth, predicted, classes):
    scores = []
    for c in range(classes):
        tp = np.sum((predicted == c) & (truth == c))
        fp = np.sum((predicted == c) & (truth != c))
        fn = np.sum((predicted != c) & (truth == c))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def read(args):
    with open(args.data, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows = [r for r in rows if r[args.label_column] not in set(args.exclude_label)]
    labels = sorted({r[args.label_column] for r in rows})
    targets = np.array([labels.index(r[args.label_column]) for r in rows])
    if args.text_column:
        return [r[args.text_column] for r in rows], targets, labels
    columns = [c for c in rows[0].keys() if c != args.label_column]
    values = np.array([[float(r[c]) for c in columns] for r in rows], dtype=np.float32)
    return values.reshape(len(rows), -1, args.features_per_step), targets, labels


def torch_model(args, inputs, targets, labels, parts):
    import torch
    from torch import nn

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    train, validation, test = parts
    if args.text_column:
        counts = collections.Counter(t for i in train for t in tokenize(inputs[i], args.level))
        vocabulary = {"<unk>": 0}
        for token, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            if count >= args.min_count:
                vocabulary[token] = len(vocabulary)
        sequences = [[vocabulary.get(t, 0) for t in tokenize(text, args.level)] or [0] for text in inputs]
        lengths = np.array([len(s) for s in sequences])
        padded = np.zeros((len(sequences), lengths.max()), dtype=np.int64)
        for i, s in enumerate(sequences):
            padded[i, :len(s)] = s
        x_all = torch.tensor(padded)
        input_size = args.embedding
    else:
        flat = inputs[train].reshape(-1, inputs.shape[2])
        mean, std = flat.mean(0), flat.std(0)
        std[std == 0] = 1
        x_all = torch.tensor((inputs - mean) / std)
        lengths = np.full(len(inputs), inputs.shape[1])
        input_size = inputs.shape[2]
    lengths = torch.tensor(lengths)
    y_all = torch.tensor(targets)
    directions = 2 if args.bidirectional else 1
    rnn_class = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[args.cell]

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(len(vocabulary), args.embedding) if args.text_column else None
            self.rnn = rnn_class(input_size, args.hidden, num_layers=args.layers, batch_first=True,
                                 bidirectional=args.bidirectional, dropout=args.dropout if args.layers > 1 else 0)
            self.dropout = nn.Dropout(args.dropout)
            self.dense = nn.Linear(args.hidden * directions, len(labels))

        def forward(self, x, length):
            if self.embedding is not None:
                x = self.dropout(self.embedding(x))
            packed = nn.utils.rnn.pack_padded_sequence(x, length, batch_first=True, enforce_sorted=False)
            output, state = self.rnn(packed)
            y, _ = nn.utils.rnn.pad_packed_sequence(output, batch_first=True)
            mask = (torch.arange(y.shape[1])[None, :] < length[:, None]).unsqueeze(2)
            if args.pooling == "last":
                h = state[0] if args.cell == "lstm" else state
                pooled = torch.cat([h[-directions + d] for d in range(directions)], dim=1)
            elif args.pooling == "mean":
                pooled = (y * mask).sum(1) / length[:, None]
            else:
                pooled = y.masked_fill(~mask, float("-inf")).max(1).values
            return self.dense(self.dropout(pooled))

    model = Classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    steps = args.epochs * ((len(train) + args.batch_size - 1) // args.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    best, best_state = float("inf"), None
    start = time.time()

    def evaluate(indices):
        model.eval()
        with torch.no_grad():
            index = torch.tensor(indices)
            logits = model(x_all[index], lengths[index])
            predicted = logits.argmax(1)
            # As recurrent: the error rate, a thousandth of the mean log-loss breaking ties.
            error = (predicted != y_all[index]).float().mean().item()
            return error + nn.functional.cross_entropy(logits, y_all[index]).item() / 1000, predicted.numpy()

    rng = np.random.default_rng(args.seed)
    for epoch in range(args.epochs):
        model.train()
        order = rng.permutation(train)
        for b in range(0, len(order), args.batch_size):
            index = torch.tensor(order[b:b + args.batch_size])
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x_all[index], lengths[index]), y_all[index])
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
        validation_error, _ = evaluate(validation)
        print(f"epoch {epoch + 1}: validation error {validation_error:.4f}", file=sys.stderr)
        if validation_error < best:
            best, best_state = validation_error, {k: v.clone() for k, v in model.state_dict().items()}

    model.load_state_dict(best_state)
    _, predicted = evaluate(test)
    return predicted, time.time() - start


def linear_model(args, inputs, targets, parts):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    train, validation, test = parts
    fit_rows = train + validation
    if args.text_column:
        vectorizer = TfidfVectorizer(tokenizer=lambda t: tokenize(t, "word"), lowercase=False, token_pattern=None,
                                     ngram_range=(1, 2), min_df=1, sublinear_tf=True)
        x_fit = vectorizer.fit_transform([inputs[i] for i in fit_rows])
        x_test = vectorizer.transform([inputs[i] for i in test])
    else:
        flat = inputs.reshape(len(inputs), -1)
        scaler = StandardScaler().fit(flat[fit_rows])
        x_fit, x_test = scaler.transform(flat[fit_rows]), scaler.transform(flat[test])
    model = LogisticRegression(C=args.linear_c, max_iter=2000).fit(x_fit, targets[fit_rows])
    return model.predict(x_test)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data")
    parser.add_argument("--label-column", required=True)
    parser.add_argument("--text-column")
    parser.add_argument("--level", default="word", choices=["word", "char"])
    parser.add_argument("--features-per-step", type=int)
    parser.add_argument("--exclude-label", action="append", default=[])
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cell", default="lstm", choices=["lstm", "gru", "rnn"])
    parser.add_argument("--bidirectional", action="store_true")
    parser.add_argument("--pooling", default="max", choices=["last", "mean", "max"])
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--embedding", type=int, default=64)
    parser.add_argument("--min-count", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--linear-c", type=float, default=1.0)
    parser.add_argument("--skip-torch", action="store_true")
    args = parser.parse_args()
    if (args.text_column is None) == (args.features_per_step is None):
        parser.error("give exactly one of --text-column and --features-per-step")

    inputs, targets, labels = read(args)
    parts = split(len(targets), args.test_fraction, args.seed)
    truth = targets[parts[2]]
    results = []
    if not args.skip_torch:
        predicted, seconds = torch_model(args, inputs, targets, labels, parts)
        results.append(("pytorch", predicted, seconds))
    start = time.time()
    predicted = linear_model(args, inputs, targets, parts)
    results.append(("tfidf-logistic-regression" if args.text_column else "logistic-regression", predicted, time.time() - start))
    for name, predicted, seconds in results:
        print(json.dumps({"model": name, "accuracy": round(float(np.mean(predicted == truth)), 4),
                          "macro_f1": round(macro_f1(truth, predicted, len(labels)), 4), "n": len(truth),
                          "seconds": round(seconds, 1)}))


if __name__ == "__main__":
    main()
