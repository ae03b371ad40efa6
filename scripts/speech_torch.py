"""The PyTorch counterpart of `recurrent speech train` + `speech evaluate`, for the README's
comparison: the same data, features, network, loss, optimizer, schedule, batching and model
selection, written the way a PyTorch user would (torchaudio's Kaldi-compatible filterbank,
nn.LSTM, F.ctc_loss).

  features   torchaudio.compliance.kaldi.fbank: 25 ms Hann windows every 10 ms, --mels bins,
             no dither; each utterance normalised by its own mean and standard deviation;
             with --spec-augment, torchaudio's FrequencyMasking and TimeMasking (p = 0.2) on
             each training utterance in each batch
  network    K frames stacked into one step -> bidirectional nn.LSTM (--hidden x --layers,
             dropout between layers) -> dropout -> nn.Linear over the characters + blank (0)
  training   CTC (mean over target lengths, zero_infinity), Adam, the rate along half a cosine
             over all planned steps, gradient norm clipped at 1, batches of similar lengths
             (windows of 32 batches sorted by length, the batches shuffled), the epoch with the
             lowest validation CER (best path) kept
  test       CER and WER with best-path decoding, as scripts/speech_score.py computes them

Usage: PY scripts/speech_torch.py [--epochs 40] [--threads 2] [--json] ...
PY needs torch and torchaudio (scripts/audio-reference-env prints such a Python).
"""
import argparse, csv, json, math, os, random, sys, time, wave

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchaudio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from speech_score import normalise, score  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--train", default="Data/speech/train.tsv")
parser.add_argument("--validation", default="Data/speech/validation.tsv")
parser.add_argument("--test", default="Data/speech/test.tsv")
parser.add_argument("--epochs", type=int, default=40)
parser.add_argument("--batch-size", type=int, default=16)
parser.add_argument("--hidden", type=int, default=256)
parser.add_argument("--layers", type=int, default=3)
parser.add_argument("--dropout", type=float, default=0.2)
parser.add_argument("--learning-rate", type=float, default=2e-3)
parser.add_argument("--mels", type=int, default=40)
parser.add_argument("--subsample", type=int, default=2)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--spec-augment", action="store_true", help="torchaudio's FrequencyMasking and TimeMasking on each training utterance")
parser.add_argument("--frequency-masks", type=int, default=1)
parser.add_argument("--frequency-mask-width", type=int, default=8)
parser.add_argument("--time-masks", type=int, default=1)
parser.add_argument("--time-mask-width", type=int, default=15)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--json", action="store_true")
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)
random.seed(args.seed)


def read_manifest(path):
    root = os.path.dirname(path)
    with open(path, newline="", encoding="utf-8") as f:
        return [(os.path.join(root, row["path"]), normalise(row["text"]))
                for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


def features(path):
    with wave.open(path) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, path
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    fbank = torchaudio.compliance.kaldi.fbank(torch.from_numpy(samples)[None], num_mel_bins=args.mels, frame_length=25.0,
                                              frame_shift=10.0, window_type="hanning", dither=0.0, sample_frequency=rate)
    return (fbank - fbank.mean(0)) / fbank.std(0, unbiased=False).clamp_min(1e-5)


def stacked(x):
    k = args.subsample
    steps = (x.shape[0] + k - 1) // k
    return F.pad(x, (0, 0, 0, steps * k - x.shape[0])).reshape(steps, k * x.shape[1])


train, validation, test = (read_manifest(p) for p in (args.train, args.validation, args.test))
alphabet = sorted({c for _, text in train for c in text})
index = {c: i + 1 for i, c in enumerate(alphabet)}
load_start = time.time()
train_features = [features(p) for p, _ in train]
train_x = [stacked(x) for x in train_features]
train_y = [[index[c] for c in text] for _, text in train]
keep = [i for i, (x, y) in enumerate(zip(train_x, train_y)) if len(y) + sum(a == b for a, b in zip(y, y[1:])) <= x.shape[0]]
validation_x = [stacked(features(p)) for p, _ in validation]
test_x = [stacked(features(p)) for p, _ in test]
feature_seconds = time.time() - load_start


class Recognizer(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(args.mels * args.subsample, args.hidden, args.layers, batch_first=True, bidirectional=True,
                            dropout=args.dropout)
        self.dropout = nn.Dropout(args.dropout)
        self.output = nn.Linear(2 * args.hidden, len(alphabet) + 1)

    def forward(self, x, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        y, _ = self.lstm(packed)
        y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True)
        return self.output(self.dropout(y))


def batches(order, lengths):
    window = args.batch_size * 32
    result = []
    for start in range(0, len(order), window):
        part = sorted(order[start:start + window], key=lambda i: (lengths[i], i))
        result += [part[i:i + args.batch_size] for i in range(0, len(part), args.batch_size)]
    random.shuffle(result)
    return result


def transcribe(model, xs):
    model.eval()
    texts = [None] * len(xs)
    order = sorted(range(len(xs)), key=lambda i: xs[i].shape[0])
    with torch.no_grad():
        for start in range(0, len(order), 16):
            part = order[start:start + 16]
            lengths = torch.tensor([xs[i].shape[0] for i in part])
            logits = model(nn.utils.rnn.pad_sequence([xs[i] for i in part], batch_first=True), lengths)
            for row, i in enumerate(part):
                best = logits[row, :lengths[row]].argmax(-1).tolist()
                labels = [c for j, c in enumerate(best) if c != 0 and (j == 0 or c != best[j - 1])]
                texts[i] = "".join(alphabet[c - 1] for c in labels)
    model.train()
    return texts


frequency_mask = torchaudio.transforms.FrequencyMasking(args.frequency_mask_width + 1)
time_mask = torchaudio.transforms.TimeMasking(args.time_mask_width + 1, p=0.2)


def augment(x):
    """Masks of width 0...W (torchaudio draws them in [0, W + 1)), set to 0, the mean after normalisation."""
    y = x.T[None].clone()  # [1, F, T]
    for _ in range(args.frequency_masks):
        y = frequency_mask(y)
    for _ in range(args.time_masks):
        y = time_mask(y)
    return y[0].T


model = Recognizer()
optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
steps_per_epoch = math.ceil(len(keep) / args.batch_size)
schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps_per_epoch * args.epochs)
lengths = [x.shape[0] for x in train_x]
best = (math.inf, None, 0)
train_start, steps = time.time(), 0
for epoch in range(1, args.epochs + 1):
    order = keep[:]
    random.shuffle(order)
    total = 0.0
    for batch in batches(order, lengths):
        if args.spec_augment:
            x = nn.utils.rnn.pad_sequence([stacked(augment(train_features[i])) for i in batch], batch_first=True)
        else:
            x = nn.utils.rnn.pad_sequence([train_x[i] for i in batch], batch_first=True)
        input_lengths = torch.tensor([lengths[i] for i in batch])
        log_probs = model(x, input_lengths).log_softmax(-1).transpose(0, 1)
        targets = torch.tensor([c for i in batch for c in train_y[i]])
        target_lengths = torch.tensor([len(train_y[i]) for i in batch])
        loss = F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=True)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        total += loss.item()
        steps += 1
    cer = score(list(zip(transcribe(model, validation_x), [t for _, t in validation])))["cer"]
    if cer < best[0]:
        best = (cer, {k: v.clone() for k, v in model.state_dict().items()}, epoch)
    print(f"epoch {epoch}/{args.epochs}  loss {total / steps_per_epoch:.4f}  val CER {cer:.4f}", file=sys.stderr, flush=True)
train_seconds = time.time() - train_start
model.load_state_dict(best[1])
result = score(list(zip(transcribe(model, test_x), [t for _, t in test])))
result.update({"system": "pytorch", "best_epoch": best[2], "validation_cer": best[0], "train_seconds": round(train_seconds, 1),
               "steps": steps, "feature_seconds": round(feature_seconds, 1), "torch": torch.__version__})
print(json.dumps(result) if args.json else
      f"PyTorch test ({result['utterances']} utterances): CER {result['cer']:.4f}  WER {result['wer']:.4f}  "
      f"(epoch {best[2]}, validation CER {best[0]:.4f}; {train_seconds / 60:.1f} min for {steps} steps)")
