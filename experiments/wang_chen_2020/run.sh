#!/usr/bin/env bash
# Wang & Chen 2020 study: train decoder and encoder, probe their position embeddings and
# hidden states, and probe GPT-2's real position embeddings (first 64 rows) the same way.
# Usage: experiments/wang_chen_2020/run.sh [--quick]
source "$(dirname "$0")/../../scripts/study.sh" "$@"

study_sweep
echo "== probes on the trained models (MAE in positions; error rates; locality = mean cosine of neighbours)"
"$POSLAB" report "$RESULTS" --metrics loss,perplexity \
  --probes absolute_position.mae,absolute_position.r2,relative_position.error_rate,similarity.locality,hidden.emb_mae,hidden.final_mae,hidden.baseline_mae
echo "== GPT-2 small, wpe rows 0..63 (tests/data/gpt2_wpe_first64.npy)"
mkdir -p "$STUDY/gpt2"
"$POSLAB" probe "$ROOT/tests/data/gpt2_wpe_first64.npy" --out "$STUDY/gpt2/gpt2_wpe_probes.h5"
study_plots
