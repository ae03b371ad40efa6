"""PyTorch models of the same configuration as `recurrent music train`, trained the same way on the
same encoded data (written by `recurrent music train ... --export-data FILE.json`).

abc (tunes): Embedding(V, E) -> dropout -> LSTM(E, H, L, dropout between layers) -> dropout -> Linear(H, V),
each tune one sequence from a zero state; batches of tunes of similar lengths (every window of
32 batches sorted by length, the batches shuffled), padding masked out of the cross-entropy;
Adam, gradient norm clipped at 1; after every epoch the held-out cross-entropy per token, the
best epoch kept.

pianoroll (chorales): LSTM(P, H, L) over the rolls (the step before each target; a zero step
first) -> dropout -> Linear(H, P), sigmoid outputs; negative log-likelihood per step (binary
cross-entropy summed over the P pitches), the same batching and selection.

strokes: Embedding(C, E) of the character concatenated to every stroke-5 step -> LSTM -> dropout
-> Linear(H, 6M + 3), the mixture density loss of sketch-rnn; the same batching and selection.
When the export says "initialStateFromCharacter", the LSTM starts from h0 = tanh(Linear(E, H)(e))
and c0 = tanh(Linear(E, H)(e)) per layer, as sketch-rnn's decoder starts from its latent vector.

Prints a line an epoch (mean training loss, held-out loss) and one JSON line at the end:
{"task", "validation", "best_epoch", "steps", "seconds", "steps_per_second"}.

Two options take chance out of a comparison (scripts/strokes-pair.sh uses them):
  --recurrent-order      the batches in the order Recurrent's trainer draws them for --seed (its
                         SplitMix64 shuffles of the samples and of the bucketed batches);
  --start-from MODEL     (strokes) Recurrent's parameters from a model file written before any
                         update (`recurrent strokes train ... --max-steps 1 --learning-rate 1e-30`),
                         instead of PyTorch's own initialization.
"""
import argparse
import json
import math
import random
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from recurrent_random import SplitMix64, shuffle


def bucketed_batches(lengths, batch_size, rng, window_batches=32):
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * window_batches
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window], key=lambda i: (lengths[i], i))
        batches += [chunk[k:k + batch_size] for k in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


class RecurrentOrder:
    """The batches of Recurrent's Trainer with `Batching.bucketedByLength`: the sample order
    shuffled in place every epoch by one generator seeded with the seed, each window of 32
    batches sorted by (length, index) and cut, the batches shuffled by a generator seeded with
    seed + epoch (1-based)."""

    def __init__(self, lengths, batch_size, seed, window_batches=32):
        self.lengths, self.batch_size, self.seed, self.window = lengths, batch_size, seed, batch_size * window_batches
        self.order, self.generator, self.epoch = list(range(len(lengths))), SplitMix64(seed), 0

    def next_epoch(self):
        self.epoch += 1
        shuffle(self.order, self.generator)
        batches = []
        for start in range(0, len(self.order), self.window):
            chunk = sorted(self.order[start:start + self.window], key=lambda i: (self.lengths[i], i))
            batches += [chunk[k:k + self.batch_size] for k in range(0, len(chunk), self.batch_size)]
        shuffle(batches, SplitMix64(self.seed + self.epoch))
        return batches


def load_recurrent_strokes(net, path):
    """A Recurrent stroke model's tensors into StrokeNet (the same layout; other names)."""
    from safetensors import safe_open
    names = {"characters.weight": "character.weight", "out.weight": "output.weight", "out.bias": "output.bias"}
    for layer in range(len(net.initial_hidden)):
        for part in ["weight", "bias"]:
            names[f"initial_hidden.{layer}.{part}"] = f"initial.hidden_l{layer}.{part}"
            names[f"initial_cell.{layer}.{part}"] = f"initial.cell_l{layer}.{part}"
    state = net.state_dict()
    with safe_open(path, "pt") as f:
        stored = set(f.keys())
        for key in state:
            name = names.get(key, key)
            if name not in stored:
                raise SystemExit(f"{path}: no tensor {name} (for {key}); is it a stroke model of this configuration?")
            tensor = f.get_tensor(name)
            if tuple(tensor.shape) != tuple(state[key].shape):
                raise SystemExit(f"{path}: {name} is {tuple(tensor.shape)}, this configuration needs {tuple(state[key].shape)}")
            state[key] = tensor
    net.load_state_dict(state)


class TuneNet(nn.Module):
    def __init__(self, vocabulary, embedding, hidden, layers, dropout):
        super().__init__()
        self.encoder = nn.Embedding(vocabulary, embedding)
        self.rnn = nn.LSTM(embedding, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0)
        self.drop = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden, vocabulary)

    def forward(self, ids):
        output, _ = self.rnn(self.drop(self.encoder(ids)))
        return self.decoder(self.drop(output))


def tune_batch(sequences):
    time_steps = max(1, max(len(s) for s in sequences) - 1)
    inputs = torch.zeros(len(sequences), time_steps, dtype=torch.long)
    targets = torch.zeros(len(sequences), time_steps, dtype=torch.long)
    mask = torch.zeros(len(sequences), time_steps)
    for b, s in enumerate(sequences):
        n = len(s) - 1
        inputs[b, :n] = torch.tensor(s[:-1])
        targets[b, :n] = torch.tensor(s[1:])
        mask[b, :n] = 1
    return inputs, targets, mask


def tune_loss(net, sequences, reduction="mean"):
    inputs, targets, mask = tune_batch(sequences)
    logits = net(inputs)
    per_token = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none") * mask.reshape(-1)
    return (per_token.sum() / mask.sum()) if reduction == "mean" else (per_token.sum(), mask.sum())


KEYS = 88


class RollNet(nn.Module):
    def __init__(self, hidden, layers, dropout):
        super().__init__()
        self.rnn = nn.LSTM(KEYS, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, KEYS)

    def forward(self, rolls):
        output, _ = self.rnn(rolls)
        return self.out(self.drop(output))


def roll_tensor(steps):
    """[[keys on] per step] -> [T, 88] of 0 and 1."""
    roll = torch.zeros(len(steps), KEYS)
    for t, keys in enumerate(steps):
        roll[t, keys] = 1
    return roll


def roll_loss(net, rolls, reduction="mean"):
    time_steps = max(len(r) for r in rolls)
    targets = torch.zeros(len(rolls), time_steps, KEYS)
    mask = torch.zeros(len(rolls), time_steps)
    for b, r in enumerate(rolls):
        targets[b, :len(r)] = r
        mask[b, :len(r)] = 1
    inputs = torch.cat([torch.zeros(len(rolls), 1, KEYS), targets[:, :-1]], 1)
    per_step = F.binary_cross_entropy_with_logits(net(inputs), targets, reduction="none").sum(-1) * mask
    return (per_step.sum() / mask.sum()) if reduction == "mean" else (per_step.sum(), mask.sum())


class StrokeNet(nn.Module):
    def __init__(self, characters, embedding, hidden, layers, dropout, components, initial_state=False):
        super().__init__()
        self.characters = nn.Embedding(characters, embedding) if characters > 0 else None
        width = 5 + (embedding if characters > 0 else 0)
        self.rnn = nn.LSTM(width, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0)
        starts = layers if characters > 0 and initial_state else 0
        self.initial_hidden = nn.ModuleList(nn.Linear(embedding, hidden) for _ in range(starts))
        self.initial_cell = nn.ModuleList(nn.Linear(embedding, hidden) for _ in range(starts))
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, 6 * components + 3)

    def forward(self, steps, characters):
        state = None
        if self.characters is not None:
            embedded = self.characters(characters)
            steps = torch.cat([steps, embedded.unsqueeze(1).expand(-1, steps.shape[1], -1)], -1)
            if len(self.initial_hidden) > 0:
                state = (torch.stack([torch.tanh(layer(embedded)) for layer in self.initial_hidden]),
                         torch.stack([torch.tanh(layer(embedded)) for layer in self.initial_cell]))
        output, _ = self.rnn(steps, state)
        return self.out(self.drop(output))


def mixture_nll(raw, targets, m):
    """sketch-rnn's loss per step [B, T]: -log sum_j pi_j N(dx, dy) (not at the end step) plus the
    pen's cross-entropy."""
    log_pi = F.log_softmax(raw[..., :m], -1)
    mx, my = raw[..., m:2 * m], raw[..., 2 * m:3 * m]
    log_sx, log_sy = raw[..., 3 * m:4 * m], raw[..., 4 * m:5 * m]
    rho = torch.tanh(raw[..., 5 * m:6 * m])
    zx = (targets[..., :1] - mx) / log_sx.exp()
    zy = (targets[..., 1:2] - my) / log_sy.exp()
    q = 1 - rho * rho + 1e-12
    z = zx * zx + zy * zy - 2 * rho * zx * zy
    log_n = -math.log(2 * math.pi) - log_sx - log_sy - 0.5 * torch.log(q) - z / (2 * q)
    offsets = -torch.logsumexp(log_pi + log_n, -1) * (1 - targets[..., 4])
    pen = -(targets[..., 2:5] * F.log_softmax(raw[..., 6 * m:], -1)).sum(-1)
    return offsets + pen


def stroke_loss(net, drawings, m, reduction="mean"):
    """Teacher forcing from the start step (0, 0, 1, 0, 0), padding masked."""
    time_steps = max(len(d[1]) for d in drawings)
    targets = torch.zeros(len(drawings), time_steps, 5)
    mask = torch.zeros(len(drawings), time_steps)
    for b, (_, steps) in enumerate(drawings):
        targets[b, :len(steps)] = steps
        mask[b, :len(steps)] = 1
    start = torch.zeros(len(drawings), 1, 5)
    start[..., 2] = 1
    inputs = torch.cat([start, targets[:, :-1]], 1)
    characters = torch.tensor([d[0] for d in drawings], dtype=torch.long)
    per_step = mixture_nll(net(inputs, characters), targets, m) * mask
    return (per_step.sum() / mask.sum()) if reduction == "mean" else (per_step.sum(), mask.sum())


def evaluate(loss_sum, sequences):
    size = lambda s: len(s[1]) if isinstance(s, tuple) else len(s)
    order = sorted(range(len(sequences)), key=lambda i: (size(sequences[i]), i))
    total, count = 0.0, 0.0
    with torch.no_grad():
        for k in range(0, len(order), 32):
            s, n = loss_sum([sequences[i] for i in order[k:k + 32]])
            total += float(s)
            count += float(n)
    return total / max(count, 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data", help="the JSON written by --export-data")
    parser.add_argument("--task", choices=["abc", "pianoroll", "strokes"], default="abc")
    parser.add_argument("--embedding", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--components", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.002)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--recurrent-order", action="store_true")
    parser.add_argument("--start-from", default=None)
    args = parser.parse_args()
    if args.start_from and args.task != "strokes":
        raise SystemExit("--start-from reads stroke models only")
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    with open(args.data) as f:
        data = json.load(f)

    if args.task == "abc":
        net = TuneNet(len(data["vocabulary"]["tokens"]), args.embedding, args.hidden, args.layers, args.dropout)
        training, validation = data["training"], data["validation"]
        lengths = [len(s) for s in training]
        batch_loss = lambda batch: tune_loss(net, [training[i] for i in batch])
        held_out = lambda: evaluate(lambda seqs: tune_loss(net, seqs, reduction="sum"), validation)
    elif args.task == "pianoroll":
        net = RollNet(args.hidden, args.layers, args.dropout)
        training = [roll_tensor(r) for r in data["training"]]
        validation = [roll_tensor(r) for r in data["validation"]]
        lengths = [len(r) for r in training]
        batch_loss = lambda batch: roll_loss(net, [training[i] for i in batch])
        held_out = lambda: evaluate(lambda rolls: roll_loss(net, rolls, reduction="sum"), validation)
    else:
        m = args.components
        net = StrokeNet(data["characterCount"], args.embedding, args.hidden, args.layers, args.dropout, m,
                        data.get("initialStateFromCharacter", False))
        training = [(d["character"], torch.tensor(d["steps"])) for d in data["training"]]
        validation = [(d["character"], torch.tensor(d["steps"])) for d in data["validation"]]
        lengths = [len(d[1]) for d in training]
        batch_loss = lambda batch: stroke_loss(net, [training[i] for i in batch], m)
        held_out = lambda: evaluate(lambda drawings: stroke_loss(net, drawings, m, reduction="sum"), validation)
        if args.start_from:
            load_recurrent_strokes(net, args.start_from)

    plan = RecurrentOrder(lengths, args.batch_size, args.seed) if args.recurrent_order else None
    optimizer = torch.optim.Adam(net.parameters(), lr=args.learning_rate)
    best, best_epoch, steps, start, train_seconds = math.inf, None, 0, time.time(), 0.0
    best_state = None
    for epoch in range(1, args.epochs + 1):
        net.train()
        epoch_start = time.time()
        stop = False
        losses = []
        for batch in (plan.next_epoch() if plan else bucketed_batches(lengths, args.batch_size, rng)):
            if args.max_steps is not None and steps >= args.max_steps:
                stop = True
                break
            optimizer.zero_grad()
            loss = batch_loss(batch)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            losses.append(loss.item())
            steps += 1
        train_seconds += time.time() - epoch_start
        net.eval()
        value = held_out()
        training_loss = sum(losses) / max(len(losses), 1)
        print(f"epoch {epoch}: training {training_loss:.5f}, held-out {value:.5f}, {steps} steps, {steps / train_seconds:.2f} steps/s",
              flush=True)
        if value < best:
            best, best_epoch = value, epoch
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        if stop:
            break
    print(json.dumps({"task": args.task, "validation": best, "best_epoch": best_epoch, "steps": steps,
                      "seconds": time.time() - start, "training_seconds": train_seconds,
                      "steps_per_second": steps / train_seconds}))


if __name__ == "__main__":
    main()
