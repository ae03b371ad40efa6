#!/usr/bin/env python3
"""Adds the compressed files that `AudioFile` reads through libsndfile to
Tests/RecurrentTests/Fixtures/audio/: the excerpt (excerpt-s16.wav) as a standalone MP3 and as
Ogg Vorbis, encoded by PyPI's soundfile (its own libsndfile 1.2.2 with LAME and libvorbis, not
the system's library that reads them back). The FLAC (`not-riff.flac`) and the compressed WAVs
(`refused-*.wav`) come from sox and ffmpeg (scripts/audio_reference.py).

Usage (from the repository root): python3 -m pip install soundfile; python3 scripts/audio_compressed_fixtures.py
"""
import soundfile

directory = "Tests/RecurrentTests/Fixtures/audio"
samples, rate = soundfile.read(f"{directory}/excerpt-s16.wav", dtype="int16")
soundfile.write(f"{directory}/excerpt.mp3", samples, rate, format="MP3")
soundfile.write(f"{directory}/excerpt.ogg", samples, rate, format="OGG", subtype="VORBIS")
for name in ("excerpt.mp3", "excerpt.ogg"):
    info = soundfile.info(f"{directory}/{name}")
    print(name, info.samplerate, "Hz", info.frames, "frames", info.format, info.subtype)
