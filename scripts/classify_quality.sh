#!/bin/sh
# Test accuracy of `recurrent classify train` at its default options on the three bundled data
# sets (the README's table). Each run prints its figures as the last JSON line; models go to a
# temporary directory. Run from the repository root; a few minutes on two cores.
set -e
swift build -c release --product recurrent >/dev/null
recurrent=.build/release/recurrent
out=$(mktemp -d)
run() {
    name=$1; shift
    start=$(date +%s)
    json=$("$recurrent" classify train "$@" --json -o "$out/$name.model" 2>"$out/$name.log" | tail -n 1)
    echo "{\"data\": \"$name\", \"seconds\": $(( $(date +%s) - start )), \"report\": $json}"
}
run rotten-tomatoes Data/rotten-tomatoes-sentences.csv --label-column category --text-column text --exclude-label plot
run digits-8x8 Data/digits-8x8.csv --label-column label --features-per-step 8
run mnist-5k Data/mnist-5k.csv --label-column label --features-per-step 28
rm -rf "$out"
