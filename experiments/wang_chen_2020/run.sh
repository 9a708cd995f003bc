#!/usr/bin/env bash
# Wang & Chen 2020 study: train decoder and encoder, probe their position embeddings and
# hidden states, and probe GPT-2's real position embeddings (first 64 rows) the same way.
# Usage: experiments/wang_chen_2020/run.sh [--quick]
source "$(dirname "$0")/../../scripts/study.sh" "$@"

study_sweep
echo "== probes on the trained models (MAE in positions; error rates; locality = neighbours' cosine minus the mean over distances)"
report_options=(--metrics loss,perplexity
  --probes absolute_position.mae,absolute_position.r2,relative_position.error_rate,similarity.locality,hidden.embedding_mae,hidden.final_mae,hidden.baseline_mae,hidden.final_relative_error_rate,properties.monotonicity,properties.translation_invariance,properties.qk_asymmetry)
"$POSLAB" report "$RESULTS" "${report_options[@]}" --ci
echo "== GPT-2 small, wpe rows 0..63 (tests/data/gpt2_wpe_first64.npy)"
mkdir -p "$STUDY/gpt2"
"$POSLAB" probe "$ROOT/tests/data/gpt2_wpe_first64.npy" --out "$STUDY/gpt2/gpt2_wpe_probes.h5" --force
# Control: a random Gaussian matrix of the same shape and per-entry scale. With d = 768 > 64
# positions a linear probe can fit anything in-sample; cross-validation keeps it honest, and
# this control shows what "no position information" scores.
echo "== control: random Gaussian [64, 768] with GPT-2's standard deviation"
/usr/bin/python3 -c "
import numpy as np, sys
w = np.load(sys.argv[1])
np.save(sys.argv[2], np.random.default_rng(0).normal(0, w.std(), w.shape).astype(np.float32))
" "$ROOT/tests/data/gpt2_wpe_first64.npy" "$STUDY/gpt2/random_64x768.npy"
"$POSLAB" probe "$STUDY/gpt2/random_64x768.npy" --out "$STUDY/gpt2/random_probes.h5" --force
# The relative-order probe as the paper ran it (protocol wang_chen: their relative.py) on
# the paper's own sinusoid 512 x 768, and on the GPT-2 slice and the control; the files
# above hold poslab's default protocol (2000 pairs, l2 1e-3) for comparison.
echo "== relative order with Wang & Chen's protocol (their relative.py; the paper: sinusoid 5.08%)"
"$POSLAB" encode --encoder sinusoidal --length 512 --dim 768 --out "$STUDY/gpt2/sinusoid_512x768.h5" --force
for matrix in "$STUDY/gpt2/sinusoid_512x768.h5:/position_matrix" "$ROOT/tests/data/gpt2_wpe_first64.npy" \
              "$STUDY/gpt2/random_64x768.npy"; do
  name="$(basename "${matrix%%:*}")"
  for protocol in poslab wang_chen; do
    "$POSLAB" probe "$matrix" --probes relative_position --set relative_position.protocol=$protocol \
      --out "$STUDY/gpt2/${name%.*}_relative_${protocol}.h5" --force
  done
done
study_plots
study_html --matrices "$STUDY/gpt2" -- "${report_options[@]}"
