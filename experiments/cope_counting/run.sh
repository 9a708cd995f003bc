#!/usr/bin/env bash
# CoPE counting study: sweep, report (error = 1 - exact match), bar chart, curves.
# Usage: experiments/cope_counting/run.sh [--quick]
source "$(dirname "$0")/../../scripts/study.sh" "$@"

study_sweep
echo "== exact match at 16 statements (trained) and 32 (2x); error rate = 1 - exact match"
"$POSLAB" report "$RESULTS" --metrics exact_match --ci
plot_py grid "$RESULTS" --metric exact_match --error \
  --out "$RESULTS/plots"
plot_py training "$RESULTS" --out "$RESULTS/plots"
echo "== baseline: always answering the most frequent value (simulated programs)"
/usr/bin/python3 "$STUDY/baseline.py"
study_html -- --metrics exact_match
