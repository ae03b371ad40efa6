#!/usr/bin/env python3
"""torchaudio's side of `recurrent-bench features`: the same stretch of speech, the same
features, timed the same way, printed as the same JSON line.

Usage: $(scripts/audio_env.sh) scripts/audio_features_torch.py [--threads N] [--audio-dir DIR]
           [--seconds S] [--mels M] [--deltas D] [--rate R]

The Asterisk prompts of DIR/manifest.tsv (default Data/speech/asterisk-en) joined
in the manifest's order and cut to S seconds (60), resampled to R Hz with
torchaudio.functional.resample when R is not 8000 (untimed); then the best time of
torchaudio.compliance.kaldi.fbank (25 ms Hann windows every 10 ms, M bins, dither 0) and
D rounds of compute_deltas, on N threads (1), over repeats filling about 3 seconds.
"""
import argparse
import json
import os
import time
import wave

import numpy as np
import torch
from torchaudio.compliance import kaldi
from torchaudio.functional import compute_deltas, resample


def speech_stretch(directory, seconds):
    with open(os.path.join(directory, "manifest.tsv")) as manifest:
        paths = [line.split("\t")[0] for line in manifest.read().splitlines()[1:]]
    parts, count, rate = [], 0, 0
    for path in paths:
        with wave.open(os.path.join(directory, path)) as w:
            rate = w.getframerate()
            parts.append(np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768)
        count += len(parts[-1])
        if count >= seconds * rate:
            break
    return torch.from_numpy(np.concatenate(parts)[: seconds * rate]), rate


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--audio-dir", default="Data/speech/asterisk-en")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--mels", type=int, default=40)
    parser.add_argument("--deltas", type=int, default=0, choices=[0, 1, 2])
    parser.add_argument("--rate", type=int, default=8000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    samples, rate = speech_stretch(args.audio_dir, args.seconds)
    if args.rate != rate:
        samples = resample(samples, rate, args.rate)

    def features():
        rows = kaldi.fbank(samples[None], num_mel_bins=args.mels, frame_length=25.0, frame_shift=10.0, dither=0.0,
                           window_type="hanning", sample_frequency=float(args.rate))
        blocks, last = [rows], rows.T
        for _ in range(args.deltas):
            last = compute_deltas(last, win_length=5)
            blocks.append(last.T)
        return torch.cat(blocks, dim=1)

    frames = features().shape[0]
    best, spent, repeats = float("inf"), 0.0, 0
    while repeats < 5 or spent < 3.0:
        start = time.perf_counter()
        features()
        elapsed = time.perf_counter() - start
        best, spent, repeats = min(best, elapsed), spent + elapsed, repeats + 1
    print(json.dumps({"system": "torchaudio", "workload": "features", "threads": args.threads, "sample_rate": args.rate,
                      "mels": args.mels, "deltas": args.deltas, "audio_seconds": args.seconds, "frames": frames,
                      "milliseconds": round(best * 1000, 2), "frames_per_second": round(frames / best, 2),
                      "audio_seconds_per_second": round(args.seconds / best, 2)}))


if __name__ == "__main__":
    main()
