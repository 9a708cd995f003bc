#!/usr/bin/env bash
# Length generalization study: sweep, report, accuracy-vs-length curves per task.
# Usage: experiments/length_generalization/run.sh [--quick]
source "$(dirname "$0")/../../scripts/study.sh" "$@"

study_sweep
for task in copy reverse sort; do
  echo "== $task: exact match and token accuracy at 8 (trained), 16, 24, 32 (4x)"
  "$POSLAB" report "$RESULTS"/*__name-${task}__*.h5 --metrics exact_match,token_accuracy
  plot_py extrapolation "$RESULTS"/*__name-${task}__*.h5 \
    --metric token_accuracy --out "$RESULTS/plots/$task"
  plot_py extrapolation "$RESULTS"/*__name-${task}__*.h5 \
    --metric exact_match --out "$RESULTS/plots/$task"
done
plot_py attention "$RESULTS"/*__name-copy__seed-1.h5 --out "$RESULTS/plots/copy"
echo "== ranking: mean token accuracy beyond the training length (16, 24, 32), over seeds and tasks"
/usr/bin/python3 "$STUDY/rank.py" "$RESULTS"
study_html -- --metrics exact_match,token_accuracy
