#!/usr/bin/env bash
# Sets up, builds and runs the default experiment (the copy task with none, sinusoidal and
# learned positions, evaluated at the training length and at twice it), then prints the
# comparison table. Results: experiments/default/results/<run>.h5
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/poslab run experiments/default/experiment.yaml "$@"
