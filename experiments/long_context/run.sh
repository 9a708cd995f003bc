#!/usr/bin/env bash
# Long-context study: sweep, perplexity table per evaluation length, extrapolation plots,
# report page. Usage: experiments/long_context/run.sh [--quick]
source "$(dirname "$0")/../../scripts/study.sh" "$@"

study_sweep
echo "== perplexity (per character) by evaluation length; training length 128"
"$POSLAB" report "$RESULTS" --metrics perplexity --variants none --decimals 2 --ci
echo "== RoPE stretched at evaluation only: position interpolation (pi-xS) and NTK-aware scaling (ntk-xS)"
/usr/bin/python3 "$STUDY/variants_table.py" "$RESULTS"/rope__seed-*.h5
plot_py extrapolation "$RESULTS" --metric perplexity --out "$RESULTS/plots"
# RoPE as trained beside its evaluation-only stretches.
plot_py extrapolation "$RESULTS"/rope__seed-*.h5 --metric perplexity --variants --out "$RESULTS/plots/rope"
# Loss by position inside the longest window: flat past the training length = extrapolates.
plot_py positions "$RESULTS" --out "$RESULTS/plots"
plot_py training "$RESULTS" --out "$RESULTS/plots"
study_html -- --metrics perplexity --variants none --decimals 2
