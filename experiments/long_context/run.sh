#!/usr/bin/env bash
# Long-context study: sweep, perplexity table per evaluation length, extrapolation plots.
# Usage: experiments/long_context/run.sh [--quick]
source "$(dirname "$0")/../../scripts/study.sh" "$@"

study_sweep
echo "== perplexity (per character) by evaluation length; training length 128"
"$POSLAB" report "$RESULTS" --metrics perplexity --decimals 3
plot_py extrapolation "$RESULTS" --metric perplexity --out "$RESULTS/plots"
# RoPE as trained beside its evaluation-only stretches (interpolation, NTK).
plot_py extrapolation "$RESULTS/rope.h5" --metric perplexity --variants --out "$RESULTS/plots/rope"
plot_py training "$RESULTS" --out "$RESULTS/plots"
