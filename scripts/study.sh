# Shared by experiments/*/run.sh (sourced, not run): pick the full or quick profile,
# run the study's sweep, and draw its plots. A study's run.sh adds what is its own
# (report columns, extra matrices or probes).
#
#   source "$(dirname "$0")/../../scripts/study.sh" "$@"   # sets the variables below
#   STUDY    the study folder (absolute)
#   PROFILE  experiment.yaml, or quick.yaml with --quick
#   RESULTS  results/ or results_quick/ inside STUDY
#   POSLAB   the built CLI (build/poslab; run scripts/setup.sh first)
# Environment: POSLAB_LAUNCH, an MPI launcher prefix for the sweep (see study_sweep).
set -euo pipefail

STUDY="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$STUDY/../.." && pwd)"
POSLAB="$ROOT/build/poslab"
PROFILE="experiment.yaml"
RESULTS="$STUDY/results"
for arg in "$@"; do
  case "$arg" in
    --quick) PROFILE="quick.yaml"; RESULTS="$STUDY/results_quick" ;;
    -h|--help) echo "usage: $0 [--quick]   (--quick: the study's quick profile, results_quick/)"; exit 0 ;;
    *) echo "error: $0: unknown argument '$arg'; expected --quick or nothing" >&2; exit 2 ;;
  esac
done
if [[ ! -x "$POSLAB" ]]; then
  echo "error: $POSLAB not found; build first: bash scripts/setup.sh" >&2
  exit 2
fi

# Runs the sweep with one single-threaded run per core: for these small models two
# processes use 2 cores better than one process with two threads. Reruns skip finished runs.
# POSLAB_LAUNCH (e.g. "mpirun -np 64", "srun") spreads the runs over MPI ranks instead:
# POSLAB_JOBS runs at a time per rank (default 1; start one rank per core). The results
# are the same files, bit for bit, as without it.
study_sweep() {
  local jobs
  if [[ -n "${POSLAB_LAUNCH:-}" ]]; then
    # Word splitting of POSLAB_LAUNCH is intended: it is a command with its options.
    # shellcheck disable=SC2086
    $POSLAB_LAUNCH "$POSLAB" sweep "$STUDY/$PROFILE" --jobs "${POSLAB_JOBS:-1}" --threads 1
    return
  fi
  jobs="$(nproc)"
  "$POSLAB" sweep "$STUDY/$PROFILE" --jobs "$jobs" --threads 1
}

# scripts/plot.py with Debian's Python (which has h5py and matplotlib).
plot_py() {
  /usr/bin/python3 "$ROOT/scripts/plot.py" "$@"
}

# Every applicable plot of the results, into RESULTS/plots/.
study_plots() {
  plot_py all "$RESULTS" "$@"
}

# The study's page: RESULTS/report.html (scripts/report_html.py), one self-contained file
# with the tables (mean ± sd over seeds), every plot under RESULTS/plots, each run's
# configuration and the provenance. Arguments go to report_html.py: --images DIR and
# --matrices PATH add plots and `poslab probe` outputs; options after -- go to
# `poslab report` (pass the study's own --metrics / --probes).
study_html() {
  local images=() title
  title="$(basename "$STUDY")"
  if [[ "$PROFILE" == "quick.yaml" ]]; then title+=" (quick profile)"; fi
  if [[ -d "$RESULTS/plots" ]]; then images=(--images "$RESULTS/plots"); fi
  /usr/bin/python3 "$ROOT/scripts/report_html.py" "$RESULTS" --out "$RESULTS/report.html" \
    --title "$title" --poslab "$POSLAB" "${images[@]}" "$@"
}
