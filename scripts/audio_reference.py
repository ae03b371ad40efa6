#!/usr/bin/env python3
"""Makes Tests/RecurrentTests/Fixtures/audio/: real speech, the same speech in other encodings,
files that must be refused, and torchaudio's outputs on them.

Usage (from the repository root):
    $(scripts/audio_env.sh) scripts/audio_reference.py [SPEECH_DIR]

SPEECH_DIR defaults to Data/speech/asterisk-en (Asterisk prompts, 8 kHz 16-bit mono,
CC-BY-SA-3.0; the same files as ../shared/datasets/speech/asterisk-en). Needs sox and ffmpeg (Debian packages) for the encodings made by other
programs, and torch + torchaudio (scripts/audio_env.sh) for the references. Running it again
gives the same files (but for the order of reference.safetensors' two metadata keys).

Files (all from two prompts; see the README written beside them):
- foxtrot-8k.wav: a copy of phonetic/f_p.wav.
- excerpt-*.wav: 0.25 s of you-entered.wav (samples 1600..3600) written by hand in every encoding
  the reader takes, with values chosen so that the decoded floats are known exactly; stereo
  files carry the same stretch of foxtrot in the second channel.
- refused-*.wav, truncated.wav, empty-data.wav, not-riff.flac: inputs the reader must refuse.
- reference.safetensors: torchaudio's fbank, deltas and resampling of the above (float32;
  two fbanks also computed in float64, then rounded).
"""
import os
import shutil
import struct
import subprocess
import sys
import wave

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests/RecurrentTests/Fixtures/audio")
EXCERPT = slice(1600, 3600)

PCM, IEEE_FLOAT, EXTENSIBLE = 1, 3, 0xFFFE
GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")


def read_int16(path):
    with wave.open(path) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, path
        return w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2").copy()


def chunk(tag, payload):
    """A RIFF chunk: id, size, payload and the pad byte that keeps the next chunk on an even offset."""
    return tag + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")


def riff(*chunks):
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def fmt(tag, channels, rate, bits, extra=None):
    block = channels * ((bits + 7) // 8)
    payload = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    if extra is not None:
        payload += struct.pack("<H", len(extra)) + extra
    return chunk(b"fmt ", payload)


def extensible(subformat, channels, rate, bits, mask):
    extra = struct.pack("<HI", bits, mask) + struct.pack("<H", subformat) + GUID_TAIL
    return fmt(EXTENSIBLE, channels, rate, bits, extra)


def int24(values):
    v = values.astype("<i4")
    return np.stack([v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF], axis=-1).astype(np.uint8).tobytes()


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def run(*command):
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_encodings(speech_dir):
    shutil.copyfile(os.path.join(speech_dir, "phonetic/f_p.wav"), os.path.join(OUT, "foxtrot-8k.wav"))
    rate, you = read_int16(os.path.join(speech_dir, "you-entered.wav"))
    _, fox = read_int16(os.path.join(OUT, "foxtrot-8k.wav"))
    a, b = you[EXCERPT].astype(np.int32), fox[EXCERPT].astype(np.int32)
    stereo = np.stack([a, b], axis=1)

    write("excerpt-s16.wav", riff(fmt(PCM, 1, rate, 16), chunk(b"data", a.astype("<i2").tobytes())))
    write("excerpt-u8.wav", riff(fmt(PCM, 1, rate, 8), chunk(b"data", ((a >> 8) + 128).astype(np.uint8).tobytes())))
    write("excerpt-s24.wav", riff(fmt(PCM, 1, rate, 24), chunk(b"data", int24(a << 8))))
    write("excerpt-s32.wav", riff(fmt(PCM, 1, rate, 32), chunk(b"data", (a << 16).astype("<i4").tobytes())))
    # Float files carry an 18-byte fmt (cbSize 0) and a fact chunk, as the format asks.
    frames = struct.pack("<I", len(a))
    write("excerpt-f32.wav", riff(fmt(IEEE_FLOAT, 1, rate, 32, b""), chunk(b"fact", frames),
                                  chunk(b"data", (a / 32768).astype("<f4").tobytes())))
    write("excerpt-f64.wav", riff(fmt(IEEE_FLOAT, 1, rate, 64, b""), chunk(b"fact", frames),
                                  chunk(b"data", (a / 32768).astype("<f8").tobytes())))
    write("excerpt-stereo-s16.wav", riff(fmt(PCM, 2, rate, 16), chunk(b"data", stereo.astype("<i2").tobytes())))
    write("excerpt-extensible-s24-stereo.wav",
          riff(extensible(PCM, 2, rate, 24, 0x3), chunk(b"data", int24(stereo << 8))))
    write("excerpt-extensible-f32.wav",
          riff(extensible(IEEE_FLOAT, 1, rate, 32, 0x4), chunk(b"fact", frames),
               chunk(b"data", (a / 32768).astype("<f4").tobytes())))
    # Chunks a reader must step over: LIST/INFO with an odd-sized string (and its pad byte), an
    # odd-sized chunk of no known kind before data, and a LIST after data.
    info = b"INFO" + chunk(b"INAM", b"you entered") + chunk(b"ISFT", b"audio_reference.py\0")
    write("excerpt-extra-chunks.wav",
          riff(chunk(b"LIST", info), fmt(PCM, 1, rate, 16), chunk(b"odd ", b"abc"),
               chunk(b"data", a.astype("<i2").tobytes()), chunk(b"LIST", info)))
    # 8-bit with an odd number of samples: the data chunk ends on its pad byte, then a chunk follows.
    write("excerpt-odd-u8.wav",
          riff(fmt(PCM, 1, rate, 8), chunk(b"data", ((a[:-1] >> 8) + 128).astype(np.uint8).tobytes()),
               chunk(b"id3 ", b"ID3")))

    s16 = os.path.join(OUT, "excerpt-s16.wav")
    # Other rates from sox's own resampler (no dither, so the bytes are the same on every run).
    run("sox", "-D", s16, "-r", "16000", os.path.join(OUT, "excerpt-16k.wav"))
    run("sox", "-D", s16, "-r", "44100", os.path.join(OUT, "excerpt-44k.wav"))

    for encoding, name in [("u-law", "refused-mulaw.wav"), ("a-law", "refused-alaw.wav"),
                           ("ima-adpcm", "refused-ima-adpcm.wav"), ("ms-adpcm", "refused-ms-adpcm.wav"),
                           ("gsm-full-rate", "refused-gsm.wav")]:
        run("sox", "-D", s16, "-e", encoding, os.path.join(OUT, name))
    run("ffmpeg", "-y", "-loglevel", "error", "-bitexact", "-i", s16, "-c:a", "libmp3lame", "-b:a", "16k",
        "-f", "wav", os.path.join(OUT, "refused-mp3.wav"))
    run("sox", "-D", s16, os.path.join(OUT, "not-riff.flac"))
    with open(s16, "rb") as f:
        whole = f.read()
    write("truncated.wav", whole[:44 + 1001])  # the data chunk says 4000 bytes
    write("empty-data.wav", riff(fmt(PCM, 1, rate, 16), chunk(b"data", b"")))


def references():
    import torch
    import torchaudio
    from torchaudio.compliance import kaldi
    from torchaudio.functional import compute_deltas, resample
    from safetensors.torch import save_file

    torch.set_num_threads(1)

    def load(name):
        rate, values = read_int16(os.path.join(OUT, name))
        return rate, torch.from_numpy(values.astype(np.float32) / 32768)

    def fbank(x, rate, bins, **options):
        settings = dict(num_mel_bins=bins, frame_length=25.0, frame_shift=10.0, dither=0.0,
                        window_type="hanning", sample_frequency=float(rate))
        settings.update(options)
        return kaldi.fbank(x[None], **settings)

    def deltas(features):  # compute_deltas runs along the last axis: time must be last.
        return compute_deltas(features.T.contiguous(), win_length=5).T.contiguous()

    _, fox = load("foxtrot-8k.wav")
    fox16 = resample(fox, 8000, 16000)
    out = {"foxtrot_16k": fox16}
    for bins in (40, 80):
        out[f"foxtrot_8k_fbank{bins}"] = fbank(fox, 8000, bins)
        out[f"foxtrot_16k_fbank{bins}"] = fbank(fox16, 16000, bins)
    # The same computed in float64 (stored rounded to float32): how far each float32 result is
    # from the exact one, where the power is near float32's epsilon above all.
    out["foxtrot_8k_fbank40_f64"] = fbank(fox.double(), 8000, 40)
    out["foxtrot_16k_fbank80_f64"] = fbank(fox16.double(), 16000, 80)
    out["foxtrot_8k_fbank40_delta"] = deltas(out["foxtrot_8k_fbank40"])
    out["foxtrot_8k_fbank40_delta2"] = deltas(out["foxtrot_8k_fbank40_delta"])
    # Kaldi's defaults (povey window, 23 bins), and other options with a negative high frequency.
    out["foxtrot_8k_fbank23_povey"] = fbank(fox, 8000, 23, window_type="povey")
    out["foxtrot_8k_fbank30_hamming"] = fbank(fox, 8000, 30, window_type="hamming", preemphasis_coefficient=0.0,
                                              remove_dc_offset=False, low_freq=64.0, high_freq=-400.0)
    out["foxtrot_8k_fbank24_rectangular_frame20"] = fbank(fox, 8000, 24, window_type="rectangular",
                                                          frame_length=20.0, frame_shift=15.0,
                                                          round_to_power_of_two=False)
    _, ex16 = load("excerpt-16k.wav")
    _, ex44 = load("excerpt-44k.wav")
    out["excerpt_16k_to_8k"] = resample(ex16, 16000, 8000)
    out["excerpt_44k_to_16k"] = resample(ex44, 44100, 16000)
    out = {k: v.to(torch.float32).contiguous() for k, v in out.items()}
    metadata = {"torch": torch.__version__, "torchaudio": torchaudio.__version__}
    save_file(out, os.path.join(OUT, "reference.safetensors"), metadata=metadata)
    for key, value in sorted(out.items()):
        print(f"{key}: {list(value.shape)}", file=sys.stderr)


def main():
    speech_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "Data/speech/asterisk-en")
    os.makedirs(OUT, exist_ok=True)
    make_encodings(speech_dir)
    references()


if __name__ == "__main__":
    main()
