#!/usr/bin/env bash
# Flip-flop study: sweep, report (error = 1 - token accuracy on the reads), bar chart.
# Usage: experiments/flip_flop/run.sh [--quick]
source "$(dirname "$0")/../../scripts/study.sh" "$@"

study_sweep
echo "== read accuracy: eval-p-ignore-0.8 in distribution, 0.98 sparse, 0.1 dense (error = 1 - accuracy)"
"$POSLAB" report "$RESULTS" --metrics token_accuracy --decimals 4
/usr/bin/python3 "$ROOT/scripts/plot.py" grid "$RESULTS" --metric token_accuracy --error \
  --out "$RESULTS/plots"
/usr/bin/python3 "$ROOT/scripts/plot.py" training "$RESULTS"/*eval-p-ignore-0.8.h5 --out "$RESULTS/plots"
