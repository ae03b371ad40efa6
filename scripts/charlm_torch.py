#!/usr/bin/env python3
"""PyTorch reference for `recurrent text train --level char`: the same corpus split, vocabulary,
batching, model, optimizer and number of updates, so that validation bits per character and wall
time compare one to one.

    $(/work/shared/bench/anchors-env) scripts/charlm_torch.py Data/shakespeare --steps 1000

Mirrors the Swift side exactly:
- files: the .txt files under the folder in name order; a byte-order mark dropped, CR LF -> LF;
  file i is held out for validation when floor((i + 1) F) > floor(i F) (F = 0.1: every tenth).
- text: the training files joined by "\n", one token per Unicode scalar; vocabulary "<unk>" then
  the training characters by falling count (ties in code-point order); unseen characters -> <unk>.
- batching: the ids cut into B rows of equal length (the remainder left out); windows of T steps
  read in order, the last one shorter; the LSTM state carried from window to window (detached)
  and reset at the start of each epoch.
- model: Embedding(V, E) -> LSTM(E, H, L, batch_first) -> Linear(H, V); Adam, global-norm
  clipping at 1.0, mean cross-entropy.
- validation: every held-out character after the first is predicted once: the text in
  R = min(32, max(1, (n - 1) // (T + 1))) rows of (n - 1) // R + 1 characters that overlap by one,
  read window by window with the state carried across, then the characters that fill no row
  read as one row continuing the last row's state; bits per character = summed cross-entropy /
  predicted tokens / ln 2.
- timing: training time counts the updates only; the validation pass is timed apart.
Prints one JSON line at the end.
"""
import argparse
import json
import math
import os
import time
from collections import Counter

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_text(path):
    with open(path, "rb") as handle:
        text = handle.read().decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n")


def split_files(folder, fraction):
    files = sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(folder)
        for name in names
        if name.lower().endswith(".txt")
    )
    training, validation = [], []
    for index, path in enumerate(files):
        held_out = math.floor((index + 1) * fraction) > math.floor(index * fraction)
        (validation if held_out else training).append(read_text(path))
    return training, validation


def vocabulary(text):
    counts = Counter(text)
    ranked = sorted(counts, key=lambda ch: (-counts[ch], ord(ch)))
    return ["<unk>"] + ranked


def streams(ids, rows):
    length = len(ids) // rows
    return torch.tensor([ids[r * length:(r + 1) * length] for r in range(rows)], dtype=torch.long)


def covering_streams(ids, rows):
    """Rows overlapping by one token, and the tail that continues the last row."""
    rows = max(1, min(rows, len(ids) - 1))
    per_row = (len(ids) - 1) // rows
    data = torch.tensor([ids[r * per_row:r * per_row + per_row + 1] for r in range(rows)], dtype=torch.long)
    return data, torch.tensor([ids[rows * per_row:]], dtype=torch.long)


def windows(data, window):
    predicted = data.shape[1] - 1
    for start in range(0, predicted, window):
        end = min(predicted, start + window)
        yield data[:, start:end], data[:, start + 1:end + 1]


class CharModel(nn.Module):
    def __init__(self, vocab, embedding, hidden, layers):
        super().__init__()
        self.encoder = nn.Embedding(vocab, embedding)
        self.rnn = nn.LSTM(embedding, hidden, layers, batch_first=True)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, x, state):
        y, state = self.rnn(self.encoder(x), state)
        return self.decoder(y), state


def evaluate(model, streams, window):
    data, tail = streams
    model.eval()
    total, count = 0.0, 0

    def score(rows, state):
        nonlocal total, count
        for x, y in windows(rows, window):
            logits, state = model(x, state)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
            count += y.numel()
        return state

    with torch.no_grad():
        state = score(data, None)
        if tail.shape[1] > 1:
            score(tail, tuple(s[:, -1:, :].contiguous() for s in state))
    model.train()
    return total / count, count


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seq-len", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--embedding", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--learning-rate", type=float, default=0.002)
    parser.add_argument("--clip", type=float, default=1.0)
    parser.add_argument("--validation-fraction", type=float, default=0.1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    training, validation = split_files(args.folder, args.validation_fraction)
    train_text, valid_text = "\n".join(training), "\n".join(validation)
    tokens = vocabulary(train_text)
    index = {token: i for i, token in enumerate(tokens)}
    train_data = streams([index.get(ch, 0) for ch in train_text], args.batch_size)
    valid_ids = [index.get(ch, 0) for ch in valid_text]
    valid_data = covering_streams(valid_ids, min(32, max(1, (len(valid_ids) - 1) // (args.seq_len + 1))))

    model = CharModel(len(tokens), args.embedding, args.hidden, args.layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    start, step, epoch, loss_sum = time.time(), 0, 0, 0.0
    while step < args.steps:
        epoch += 1
        state = None
        for x, y in windows(train_data, args.seq_len):
            if step >= args.steps:
                break
            logits, state = model(x, state)
            state = tuple(s.detach() for s in state)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            step += 1
            loss_sum += loss.item()
            if step % 100 == 0:
                print(f"step {step}  loss {loss_sum / 100:.4f}  {step / (time.time() - start):.2f} steps/s", flush=True)
                loss_sum = 0.0
    train_seconds = time.time() - start
    cross_entropy, count = evaluate(model, valid_data, args.seq_len)
    total_seconds = time.time() - start
    print(json.dumps({
        "steps": step, "epochs_started": epoch, "vocabulary": len(tokens), "validation_tokens": count,
        "validation_cross_entropy": cross_entropy, "validation_bits_per_char": cross_entropy / math.log(2),
        "train_seconds": round(train_seconds, 1), "validation_seconds": round(total_seconds - train_seconds, 1),
        "seconds_with_validation": round(total_seconds, 1),
        "threads": args.threads,
    }))


if __name__ == "__main__":
    main()
