#!/usr/bin/env bash
# Flip-flop study: sweep, report (error = 1 - token accuracy on the reads), bar chart.
# Usage: experiments/flip_flop/run.sh [--quick]
source "$(dirname "$0")/../../scripts/study.sh" "$@"

study_sweep
echo "== read accuracy at 32 pairs: as trained (p_ignore 0.8), /sparse (0.98), /dense (0.1); error = 1 - accuracy"
"$POSLAB" report "$RESULTS" --metrics token_accuracy --decimals 4 --ci
plot_py grid "$RESULTS" --metric token_accuracy --error --out "$RESULTS/plots"
plot_py training "$RESULTS" --out "$RESULTS/plots"
study_html -- --metrics token_accuracy --decimals 4
