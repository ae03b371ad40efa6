"""PyTorch reference for `recurrent chat`: the reply model of the same configuration, trained on
the same exchanges, and the perplexity of the held-out replies.

The exchanges come from `recurrent chat exchanges MODEL DIALOGUES --part train|validation|test`
(token ids exactly as the Swift model reads them). The network is Recurrent's `Seq2SeqNetwork`:
embedding (dropout) -> bidirectional LSTM encoder (H/2 a direction; the final states of both
directions side by side start the decoder) -> LSTM decoder of H -> Luong "general" attention
(scores h . W enc, masked softmax, tanh(Wc [context; h])) -> dropout -> output layer. Training as
`Chatbot.train`: Adam, cosine decay over the planned steps, global gradient norm clipped to 1,
batches of contexts of similar lengths, the epoch with the lowest validation loss kept.

usage: python chat_reference.py TRAIN.tsv VALIDATION.tsv TEST.tsv --hidden 128 --embedding 64
       --epochs 6 --batch-size 64 --learning-rate 2e-3 --dropout 0.2 [--seed 0] [--max-minutes M]
Prints one JSON line: the validation and test perplexities per reply token (end token included).
"""

import argparse
import json
import math
import random
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_exchanges(path):
    with open(path) as handle:
        header = handle.readline().split()
        ids = {header[i]: int(header[i + 1]) for i in range(0, len(header), 2)}
        pairs = []
        for line in handle:
            context, reply = line.rstrip("\n").split("\t")
            pairs.append(([int(t) for t in context.split()], [int(t) for t in reply.split()]))
    return ids, pairs


class ReplyModel(nn.Module):
    def __init__(self, vocabulary, embedding, hidden, dropout):
        super().__init__()
        self.source_embedding = nn.Embedding(vocabulary, embedding)
        self.encoder = nn.LSTM(embedding, hidden // 2, batch_first=True, bidirectional=True)
        self.target_embedding = nn.Embedding(vocabulary, embedding)
        self.decoder = nn.LSTM(embedding, hidden, batch_first=True)
        self.attention = nn.Linear(hidden, hidden, bias=False)
        self.combine = nn.Linear(2 * hidden, hidden)
        self.output = nn.Linear(hidden, vocabulary)
        self.dropout = nn.Dropout(dropout)

    def forward(self, sources, source_lengths, inputs, input_lengths):
        """sources [B, S], inputs [B, T] (begin token first) -> logits [B, T, V]."""
        embedded = self.dropout(self.source_embedding(sources))
        packed = nn.utils.rnn.pack_padded_sequence(embedded, source_lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, (h, c) = self.encoder(packed)
        outputs, _ = nn.utils.rnn.pad_packed_sequence(outputs, batch_first=True, total_length=sources.shape[1])
        state = (torch.cat([h[0], h[1]], -1).unsqueeze(0), torch.cat([c[0], c[1]], -1).unsqueeze(0))
        keys = self.attention(outputs)
        target = self.dropout(self.target_embedding(inputs))
        packed = nn.utils.rnn.pack_padded_sequence(target, input_lengths.cpu(), batch_first=True, enforce_sorted=False)
        decoded, _ = self.decoder(packed, state)
        decoded, _ = nn.utils.rnn.pad_packed_sequence(decoded, batch_first=True, total_length=inputs.shape[1])
        scores = decoded @ keys.transpose(1, 2)
        valid = torch.arange(sources.shape[1])[None, None, :] < source_lengths[:, None, None]
        weights = scores.masked_fill(~valid, float("-inf")).softmax(-1)
        attentional = torch.tanh(self.combine(torch.cat([weights @ outputs, decoded], -1)))
        return self.output(self.dropout(attentional))


def batch_tensors(pairs, begin, end):
    sources = [p[0] if p[0] else [end] for p in pairs]
    targets = [p[1] + [end] for p in pairs]
    pad = lambda rows: torch.tensor([r + [0] * (max(map(len, rows)) - len(r)) for r in rows])
    inputs = [[begin] + t[:-1] for t in targets]
    return (pad(sources), torch.tensor([len(s) for s in sources]), pad(inputs),
            torch.tensor([len(t) for t in targets]), pad(targets))


def loss_of(model, pairs, begin, end):
    sources, source_lengths, inputs, lengths, targets = batch_tensors(pairs, begin, end)
    logits = model(sources, source_lengths, inputs, lengths)
    mask = torch.arange(targets.shape[1])[None, :] < lengths[:, None]
    losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
    return (losses * mask.reshape(-1)).sum(), mask.sum()


def mean_loss(model, pairs, begin, end, batch_size=128):
    model.eval()
    total, tokens = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(pairs), batch_size):
            loss, count = loss_of(model, pairs[start:start + batch_size], begin, end)
            total += loss.item()
            tokens += count.item()
    model.train()
    return total / max(tokens, 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("train")
    parser.add_argument("validation")
    parser.add_argument("test")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--embedding", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-minutes", type=float, default=None)
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (validating there), as --max-steps or --max-minutes stopped the Swift run")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    random.seed(args.seed)

    ids, train = read_exchanges(args.train)
    _, validation = read_exchanges(args.validation)
    _, test = read_exchanges(args.test)
    begin, end = ids["begin"], ids["end"]
    model = ReplyModel(ids["vocabulary"], args.embedding, args.hidden, args.dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    batches_per_epoch = (len(train) + args.batch_size - 1) // args.batch_size
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=batches_per_epoch * args.epochs)
    best, best_state, started, steps = math.inf, None, time.time(), 0
    for epoch in range(args.epochs):
        # Buckets of similar context lengths, shuffled.
        order = sorted(range(len(train)), key=lambda i: (len(train[i][0]), random.random()))
        batches = [order[i:i + args.batch_size] for i in range(0, len(order), args.batch_size)]
        random.shuffle(batches)
        for batch in batches:
            loss, count = loss_of(model, [train[i] for i in batch], begin, end)
            optimizer.zero_grad()
            (loss / count).backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            steps += 1
            if args.max_steps and steps >= args.max_steps:
                break
        validation_loss = mean_loss(model, validation, begin, end)
        print(f"epoch {epoch + 1}: validation perplexity {math.exp(validation_loss):.3f}", flush=True, file=__import__("sys").stderr)
        if validation_loss < best:
            best, best_state = validation_loss, {k: v.clone() for k, v in model.state_dict().items()}
        if (args.max_minutes and time.time() - started > args.max_minutes * 60) or (args.max_steps and steps >= args.max_steps):
            break
    model.load_state_dict(best_state)
    print(json.dumps({"validation_perplexity": round(math.exp(best), 4),
                      "test_perplexity": round(math.exp(mean_loss(model, test, begin, end)), 4),
                      "training_exchanges": len(train), "steps": steps}))


if __name__ == "__main__":
    main()
