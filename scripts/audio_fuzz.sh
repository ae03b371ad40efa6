#!/usr/bin/env bash
# Fuzzes the WAV reader with libFuzzer (and AddressSanitizer): WAVFile.decode on any bytes must
# return a clip or throw, never trap. Builds the reader's sources alone with a stand-in AudioClip,
# seeds the corpus with the audio fixtures, and runs for SECONDS (60).
# Usage: scripts/audio_fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/Harness.swift" <<'SWIFT'
/// Only what the reader needs of the library's AudioClip.
public struct AudioClip { public var samples: [Float]; public var sampleRate: Int }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    _ = try? WAVFile.decode(bytes, name: "fuzz.wav")
    return 0
}
SWIFT
swiftc -O -parse-as-library -sanitize=fuzzer,address -module-name Recurrent \
  Sources/Recurrent/Audio/WAVFile.swift Sources/Recurrent/Audio/WAVFormat.swift \
  Sources/Recurrent/RecurrentError.swift Sources/Recurrent/IO/AtomicFile.swift "$work/Harness.swift" \
  -o "$work/wav-fuzzer"
mkdir "$work/corpus"
cp Tests/RecurrentTests/Fixtures/audio/*.wav "$work/corpus/"
"$work/wav-fuzzer" -max_total_time="${1:-60}" -max_len=8192 "$work/corpus"
