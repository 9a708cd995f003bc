#!/usr/bin/env bash
# Sets up (installs missing packages, builds) and runs the whole test suite with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd build
# One OpenMP thread per test process: CTest already runs one process per core, and
# oversubscribed OpenMP threads spin-wait on each other.
OMP_NUM_THREADS=1 ctest --output-on-failure -j "$(nproc)" --timeout 600
