#!/usr/bin/env bash
# Position matrices study: the seed article's sinusoid picture and its counterpart for
# every scheme — fixed formulas from `poslab encode` (L = 100, d = 512), trained tables
# from the experiment's char-LM runs — plus the probes' table.
# Usage: experiments/position_matrices/run.sh [--quick]
source "$(dirname "$0")/../../scripts/study.sh" "$@"

ENCODED="$STUDY/encoded"
mkdir -p "$ENCODED"
for scheme in sinusoidal rope learned; do
  "$POSLAB" encode --encoder "$scheme" --length 100 --dim 512 --out "$ENCODED/$scheme.h5" --force
done
# per-head schemes with 8 heads (as BERT-base/GPT-2 have 12, ALiBi's paper uses 8)
"$POSLAB" encode --encoder alibi --length 100 --dim 512 --heads 8 --out "$ENCODED/alibi.h5" --force
"$POSLAB" encode --encoder t5 --length 100 --dim 512 --heads 8 --out "$ENCODED/t5.h5" --force
plot() { plot_py matrix "$@" --out "$ENCODED/plots"; }
plot "$ENCODED/sinusoidal.h5"             # the seed article's figure (n=10000, L=100, d=512)
plot "$ENCODED/rope.h5:/position_matrix"  # RoPE's (cos, sin) of pos·θ_m
plot "$ENCODED/rope.h5:/angles" --vlim 3.2
plot "$ENCODED/alibi.h5"                  # -m_h |i - j| per head
plot "$ENCODED/t5.h5:/bucket"             # T5: the log-bucket of each distance j - i
plot "$ENCODED/learned.h5"                # learned table at initialisation: N(0, 0.02)
# RoPE's (cos, sin) matrix holds the sinusoid's columns in another order (same angles
# pos·base^(-2m/d)), so its probe numbers equal the sinusoid's: only these two are probed.
echo "== probes on the encoded matrices (d = 512, L = 100)"
for scheme in sinusoidal learned; do
  echo "-- $scheme"
  "$POSLAB" probe "$ENCODED/$scheme.h5:/position_matrix" --probes absolute_position,relative_position,similarity,properties \
    --out "$ENCODED/${scheme}_probes.h5" --force
done

study_sweep
echo "== trained char-LM (L = 100, d = 64): loss and probes of each scheme's positions"
report_options=(--metrics loss,perplexity
  --probes absolute_position.mae,absolute_position.r2,relative_position.error_rate,similarity.locality,hidden.embedding_mae,hidden.final_mae,hidden.baseline_mae,properties.monotonicity,properties.translation_invariance,properties.qk_asymmetry)
"$POSLAB" report "$RESULTS" "${report_options[@]}" --ci
study_plots
for layer in 0 1; do
  plot_py matrix "$RESULTS/shaw__seed-1.h5:/encoder/layers.$layer.key" --out "$RESULTS/plots"
done
study_html --images "$ENCODED/plots" --matrices "$ENCODED" -- "${report_options[@]}"
