#!/usr/bin/env bash
# Compares `poslab bench` with the PyTorch twin of its model (bench/pytorch_reference.py)
# and with the machine's single-precision BLAS GEMM rate (bench/gemm_peak.py). See bench/README.md.
#
#   scripts/bench.sh            reference configuration (B 32, T 128, d 128, 4 layers, 4 heads,
#                               d_ff 512, vocab 64, learned positions): CPU model and vector
#                               width; BLAS sgemm, poslab and PyTorch each at 1 thread and at all
#                               threads; poslab beside a busy core (bench --contention); a
#                               markdown table of each program's best and the ratios (a few
#                               minutes on 2 cores)
#   scripts/bench.sh --sweep    tokens/s of both over sequence length (64..1024 at d 128) and
#                               width (64..512 at T 128, d_ff = 4·d), at --threads
# Options: --threads N (default: nproc; "all threads" above)
#          --steps N --warmup N (reference mode; default 20 and 3, as poslab bench)
#          --quick (a few tiny steps: checks that everything runs, numbers mean nothing)
#          --flops-cap X (sweep: batch is cut so a step costs at most X reference steps; 1)
# Environment: POSLAB (binary, default build/poslab), TORCH_PYTHON (default /usr/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/.."

poslab=${POSLAB:-build/poslab}
py=${TORCH_PYTHON:-/usr/bin/python3}
mode=reference
threads=$(nproc)
steps=20
warmup=3
quick=0
flops_cap=1
usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }
while (( $# )); do
  case "$1" in
    --sweep) mode=sweep ;;
    --threads) threads=${2:?--threads needs a value}; shift ;;
    --steps) steps=${2:?--steps needs a value}; shift ;;
    --warmup) warmup=${2:?--warmup needs a value}; shift ;;
    --flops-cap) flops_cap=${2:?--flops-cap needs a value}; shift ;;
    --quick) quick=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [[ ! -x "$poslab" ]]; then
  echo "bench.sh: $poslab not found or not executable; build it first (scripts/setup.sh)" >&2
  exit 1
fi
if ! "$py" -c 'import torch' 2>/dev/null; then
  echo "bench.sh: $py cannot import torch; install it with scripts/setup.sh --python" >&2
  exit 1
fi

log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# FLOPs of one training step, counted by poslab itself (src/model/step_flops.h, the one
# copy of the formula; `poslab bench --step-flops` allocates and times nothing).
# args: B T D L F V
step_flops() {
  "$poslab" bench --step-flops --batch "$1" --seq-len "$2" --d-model "$3" --layers "$4" \
    --d-ff "$5" --vocab "$6"
}

# Runs poslab bench; prints "tokens/s ms/step GFLOP/s peak_MiB" parsed from its table row
# (the line after the dashes) and its "peak resident memory: X MiB" line.
# args: output-file, then poslab bench options
run_poslab() {
  local out=$1; shift
  "$poslab" bench --encoder learned "$@" >"$out"
  awk '/^-+$/ { getline; tps = $2; ms = $3; gf = $4 }
       /^peak resident memory:/ { rss = $4 }
       END { if (tps == "" || rss == "") exit 1; print tps, ms, gf, rss }' "$out" || {
    echo "bench.sh: could not parse poslab bench output:" >&2; cat "$out" >&2; exit 1; }
}

# Runs the PyTorch reference; prints "tokens/s ms/step GFLOP/s peak_MiB steps" from RESULT.
# args: output-file, then pytorch_reference.py options
run_torch() {
  local out=$1; shift
  "$py" bench/pytorch_reference.py --poslab "$poslab" "$@" >"$out"
  awk '/^RESULT / { for (i = 2; i <= NF; ++i) { split($i, kv, "="); r[kv[1]] = kv[2] }
                    print r["tokens_per_second"], r["ms_per_step"], r["gflops"],
                          r["peak_rss_mib"], r["steps"]; found = 1 }
       END { if (!found) exit 1 }' "$out" || {
    echo "bench.sh: no RESULT line from pytorch_reference.py:" >&2; cat "$out" >&2; exit 1; }
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "threads: 1 and $threads (poslab bench --threads, PyTorch --threads and OPENBLAS_NUM_THREADS)"
echo "load average at start (1, 5, 15 min): $(loadavg)   [other load distorts every number below]"

if [[ $mode == reference ]]; then
  gemm_n=2048
  if (( quick )); then steps=2; warmup=1; gemm_n=512; fi
  gemm_args=(--n "$gemm_n")
  if (( quick )); then gemm_args+=(--repeats 2); fi
  config=(--batch 32 --seq-len 128 --d-model 128 --layers 4 --heads 4 --d-ff 512 --vocab 64
          --steps "$steps" --warmup "$warmup")
  flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
  if [[ " $flags " == *" avx512f "* ]]; then vector="AVX-512 (512-bit)"
  elif [[ " $flags " == *" avx2 "* ]]; then vector="AVX2 (256-bit)"
  else vector="no AVX2"; fi
  echo "vector width: $vector"
  # Each measurement at 1 thread and at $threads; the comparison takes each program's best.
  declare -A P_TPS P_GF T_TPS T_GF G_GF
  for n in 1 "$threads"; do
    [[ -n "${P_TPS[$n]:-}" ]] && continue   # --threads 1: one column
    echo
    echo "== GEMM rate at $n thread(s) (bench/gemm_peak.py: torch.mm float32 ${gemm_n}², OPENBLAS_NUM_THREADS=$n)"
    OPENBLAS_NUM_THREADS=$n OMP_NUM_THREADS=$n "$py" bench/gemm_peak.py --threads "$n" "${gemm_args[@]}" >"$log/gemm.txt"
    cat "$log/gemm.txt"
    G_GF[$n]=$(awk '/^RESULT / { sub(/.*gemm_gflops=/, ""); print $1 }' "$log/gemm.txt")
    blas=$(awk -F'BLAS: ' '/BLAS: / { print $2; exit }' "$log/gemm.txt")
    echo
    echo "== poslab bench --threads $n ${config[*]}"
    read -r p_tps p_ms p_gf p_rss < <(run_poslab "$log/poslab.txt" --threads "$n" "${config[@]}")
    cat "$log/poslab.txt"
    P_TPS[$n]=$p_tps; P_GF[$n]=$p_gf
    echo
    echo "== PyTorch reference --threads $n (bench/pytorch_reference.py) ${config[*]}"
    read -r t_tps t_ms t_gf t_rss t_steps < <(OPENBLAS_NUM_THREADS=$n run_torch "$log/torch.txt" --threads "$n" "${config[@]}")
    cat "$log/torch.txt"
    T_TPS[$n]=$t_tps; T_GF[$n]=$t_gf
  done
  echo
  echo "== poslab bench --contention (default threads: train.threads auto's choice; one spinning process beside it)"
  "$poslab" bench --contention --encoder learned "${config[@]}" >"$log/contention.txt"
  cat "$log/contention.txt"
  read -r c_idle c_busy c_ratio c_threads < <(awk '/^RESULT / {
      for (i = 2; i <= NF; ++i) { split($i, kv, "="); r[kv[1]] = kv[2] }
      print r["idle_tokens_per_second"], r["busy_tokens_per_second"], r["ratio"], r["threads"] }' "$log/contention.txt")
  echo
  echo "== comparison (B 32, T 128, d 128, 4 layers, 4 heads, d_ff 512, vocab 64, learned; $steps timed steps)"
  echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $vector; BLAS: $blas"
  echo
  awk -v all="$threads" -v p1="${P_TPS[1]}" -v pn="${P_TPS[$threads]}" -v pg1="${P_GF[1]}" -v pgn="${P_GF[$threads]}" \
      -v t1="${T_TPS[1]}" -v tn="${T_TPS[$threads]}" -v tg1="${T_GF[1]}" -v tgn="${T_GF[$threads]}" \
      -v g1="${G_GF[1]}" -v gn="${G_GF[$threads]}" -v ci="$c_idle" -v cb="$c_busy" -v cr="$c_ratio" \
      -v ct="$c_threads" -v gemm_n="$gemm_n" 'function max(a, b) { return a > b ? a : b }
  function best(a, b) { return a >= b ? "1" : all }
  BEGIN {
    pb = max(p1, pn); tb = max(t1, tn); pgb = max(pg1, pgn); gb = max(g1, gn)
    printf "| | 1 thread | %d threads | best |\n|---|---:|---:|---:|\n", all
    printf "| poslab tokens/s | %.0f | %.0f | %.0f (%s) |\n", p1, pn, pb, best(p1, pn)
    printf "| PyTorch tokens/s | %.0f | %.0f | %.0f (%s) |\n", t1, tn, tb, best(t1, tn)
    printf "| poslab GFLOP/s | %.1f | %.1f | %.1f |\n", pg1, pgn, pgb
    printf "| PyTorch GFLOP/s | %.1f | %.1f | %.1f |\n", tg1, tgn, max(tg1, tgn)
    printf "| BLAS sgemm GFLOP/s (%d²) | %.1f | %.1f | %.1f |\n", gemm_n, g1, gn, gb
    printf "\n| ratio | value |\n|---|---:|\n"
    printf "| poslab best / PyTorch best (tokens/s) | %.2f× |\n", pb / tb
    printf "| poslab 1 thread / PyTorch 1 thread | %.2f× |\n", p1 / t1
    printf "| poslab best GFLOP/s / best BLAS sgemm rate | %.0f%% |\n", 100 * pgb / gb
    printf "| beside one busy core, poslab default threads (%d): %.0f of %.0f idle tokens/s | %.0f%% |\n", ct, cb, ci, 100 * cr
  }'
  case "$blas" in
    *blas/libblas.so*)
      echo "note: torch (and so the PyTorch reference and the GEMM rate) uses the netlib reference"
      echo "      BLAS ($blas), which is unoptimised and single-threaded: the GEMM"
      echo "      rate is not the machine's peak, and PyTorch is far slower than it is with an"
      echo "      optimised BLAS (e.g. Debian's libopenblas0-pthread as the libblas.so.3 alternative)." ;;
  esac
else
  ref=$(step_flops 32 128 128 4 512 64)
  # name T D F
  points=("T=64 64 128 512" "T=128 128 128 512" "T=256 256 128 512" "T=512 512 128 512"
          "T=1024 1024 128 512" "d=64 128 64 256" "d=128 128 128 512" "d=256 128 256 1024"
          "d=512 128 512 2048")
  torch_steps=3; torch_max=10; poslab_base=8
  if (( quick )); then torch_steps=1; torch_max=1; poslab_base=1; fi
  echo "sweep: 4 layers, 4 heads, vocab 64, learned positions, d_ff = 4·d. The batch is cut from 32"
  echo "where a step would cost more than $flops_cap× the reference step (B 32, T 128, d 128)"
  echo "so that the sweep ends in minutes; tokens/s at a reduced batch is not comparable"
  echo "across points, only between poslab and PyTorch at the same point."
  echo "poslab: ~$poslab_base reference-steps' worth of timed steps (3..20) after 1 warmup;"
  echo "PyTorch: 1 warmup + $torch_steps timed steps (stopping early once ${torch_max}s have passed"
  echo "and 2 steps ran). The d=128 point is the T=128 point, measured once."
  echo
  declare -A measured=()
  printf "%-7s %5s %4s %5s %3s %6s %11s %11s %8s %9s %9s\n" point T d d_ff B steps \
    "poslab t/s" "torch t/s" ratio "poslab GF" "torch GF"
  for p in "${points[@]}"; do
    read -r name T D F <<<"$p"
    B=$(awk -v ref="$ref" -v f="$(step_flops 32 "$T" "$D" 4 "$F" 64)" -v cap="$flops_cap" \
        'BEGIN { b = int(32 * cap * ref / f + 1e-9); if (b > 32) b = 32; if (b < 1) b = 1; print b }')
    ps=$(awk -v ref="$ref" -v f="$(step_flops "$B" "$T" "$D" 4 "$F" 64)" -v base="$poslab_base" \
        'BEGIN { s = int(base * ref / f + 0.5); if (s < 3) s = 3; if (s > 20) s = 20; print s }')
    (( quick )) && ps=1
    cfg=(--batch "$B" --seq-len "$T" --d-model "$D" --layers 4 --heads 4 --d-ff "$F" --vocab 64)
    key="$B-$T-$D-$F"
    if [[ -z "${measured[$key]:-}" ]]; then
      read -r p_tps p_ms p_gf p_rss < <(run_poslab "$log/poslab.txt" "${cfg[@]}" --threads "$threads" --steps "$ps" --warmup 1)
      read -r t_tps t_ms t_gf t_rss t_steps < <(run_torch "$log/torch.txt" "${cfg[@]}" --threads "$threads" \
          --steps "$torch_steps" --warmup 1 --max-seconds "$torch_max")
      measured[$key]="$p_tps $p_gf $t_tps $t_gf $t_steps"
    fi
    read -r p_tps p_gf t_tps t_gf t_steps <<<"${measured[$key]}"
    awk -v n="$name" -v T="$T" -v D="$D" -v F="$F" -v B="$B" -v s="$ps/$t_steps" -v pt="$p_tps" \
        -v tt="$t_tps" -v pg="$p_gf" -v tg="$t_gf" 'BEGIN {
      printf "%-7s %5d %4d %5d %3d %6s %11.0f %11.0f %8.2f %9.2f %9.2f\n", n, T, D, F, B, s, pt, tt, pt / tt, pg, tg }'
  done
  echo "(steps = poslab/PyTorch timed steps; GF = GFLOP/s by the model/step_flops.h formula)"
fi
echo
echo "load average at end (1, 5, 15 min): $(loadavg)"
