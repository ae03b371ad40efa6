#!/bin/sh
# Every figure of the README's sensors table from a fresh build: classification on the archives'
# own splits (recurrent, then the PyTorch model of the same configuration and the scikit-learn
# random forest), anomaly detection on mitdb (recurrent, STUMPY and IsolationForest) with the
# plot docs/sensors-mitdb.svg, and the time to score one hour of ECG at 360 Hz (record 208 read
# twelve times). Run from the repository root. PYTHON_TORCH must have torch and numpy;
# PYTHON_SKLEARN numpy, scikit-learn and stumpy (defaults: python3). Ten minutes on two cores.
set -e
swift build -c release --product recurrent >/dev/null
recurrent=.build/release/recurrent
torch_python=${PYTHON_TORCH:-python3}
sklearn_python=${PYTHON_SKLEARN:-python3}
out=$(mktemp -d)
configuration="--cell gru --bidirectional --epochs 100"
for data in BasicMotions JapaneseVowels; do
    start=$(date +%s)
    json=$("$recurrent" classify train --train Data/sensors/${data}_TRAIN.ts --test Data/sensors/${data}_TEST.ts \
        $configuration --threads 1 --json -o "$out/$data.model" 2>"$out/$data.log" | tail -n 1)
    echo "{\"data\": \"$data\", \"model\": \"recurrent\", \"seconds\": $(( $(date +%s) - start )), \"report\": $json}"
    "$torch_python" scripts/sensors_classify_reference.py Data/sensors/$data --model torch $configuration
    "$sklearn_python" scripts/sensors_classify_reference.py Data/sensors/$data --model sklearn
done
"$recurrent" anomaly train Data/sensors/mitdb.csv --column data --train-until 3000 --threads 1 -o "$out/mitdb.model" 2>/dev/null
"$recurrent" anomaly detect "$out/mitdb.model" Data/sensors/mitdb.csv --labels label --json --plot docs/sensors-mitdb.svg | tail -n 1
"$sklearn_python" scripts/sensors_anomaly_reference.py Data/sensors/mitdb.csv --column data --labels label --train-until 3000
"$recurrent" anomaly train Data/sensors/ecg-record208.csv --column mv --train-until 21600 --threads 1 -o "$out/ecg.model" 2>/dev/null
"$recurrent" anomaly detect "$out/ecg.model" Data/sensors/ecg-record208.csv --plot docs/sensors-record208.svg | head -n 1
python3 -c "
v = open('Data/sensors/ecg-record208.csv').read().split('\n')[1:-1]
open('$out/hour.csv', 'w').write('mv\n' + '\n'.join(v * 12) + '\n')"
taskset -c 0 "$recurrent" anomaly detect "$out/ecg.model" "$out/hour.csv" 2>&1 >/dev/null | grep scored
rm -rf "$out"
