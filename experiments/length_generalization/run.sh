#!/usr/bin/env bash
# Length generalization study: both sweeps (copy/reverse/sort: experiment.yaml; addition,
# polynomial evaluation, summation, parity, LEGO: reasoning.yaml), report with bootstrap
# intervals, accuracy-vs-length curves per task, and the ranking by the paper's metric.
# Usage: experiments/length_generalization/run.sh [--quick]
source "$(dirname "$0")/../../scripts/study.sh" "$@"

study_sweep
# The second configuration into the same results folder (its quick profile with --quick).
PROFILE="$([[ "$PROFILE" == quick.yaml ]] && echo reasoning_quick.yaml || echo reasoning.yaml)" study_sweep
for task in copy reverse sort addition polynomial_evaluation summation parity lego; do
  echo "== $task: exact match and token accuracy (mean ± sd [95% bootstrap interval] over seeds)"
  "$POSLAB" report "$RESULTS"/*__name-${task}__*.h5 --metrics exact_match,token_accuracy --ci
  plot_py extrapolation "$RESULTS"/*__name-${task}__*.h5 \
    --metric token_accuracy --out "$RESULTS/plots/$task"
  plot_py extrapolation "$RESULTS"/*__name-${task}__*.h5 \
    --metric exact_match --out "$RESULTS/plots/$task"
done
plot_py attention "$RESULTS"/*__name-copy__seed-1.h5 --out "$RESULTS/plots/copy"
echo "== ranking (Kazemnejad et al.'s metric): exact match beyond L, seeds that solved the task at L"
/usr/bin/python3 "$STUDY/rank.py" "$RESULTS"
study_html -- --metrics exact_match,token_accuracy
