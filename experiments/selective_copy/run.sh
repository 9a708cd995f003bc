#!/usr/bin/env bash
# Selective copy study: sweep, report (error = 1 - exact match at 32 / 24 / 48 positions:
# in distribution, dense, sparse), bar chart, training curves, the study's page.
# Usage: experiments/selective_copy/run.sh [--quick]
source "$(dirname "$0")/../../scripts/study.sh" "$@"

study_sweep
echo "== exact match at 32 positions (16 blanks, trained), 24 (8 blanks, dense), 48 (32 blanks, sparse)"
"$POSLAB" report "$RESULTS" --metrics exact_match,token_accuracy --ci
plot_py grid "$RESULTS" --metric exact_match --error --out "$RESULTS/plots"
plot_py training "$RESULTS" --out "$RESULTS/plots"
study_html -- --metrics exact_match,token_accuracy
