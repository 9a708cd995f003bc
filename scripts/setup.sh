#!/usr/bin/env bash
# Installs what poslab needs (Debian 12 packages) if anything is missing, then configures
# and builds into build/. Idempotent: a second run installs nothing and rebuilds only what
# changed. Usage: scripts/setup.sh [--python | --deps-only]   (--deps-only installs the
# packages without building; --python adds PyTorch with OpenBLAS,
# needed only to regenerate parity fixtures and for the PyTorch benchmark comparison;
# without OpenBLAS Debian's torch uses the reference BLAS and is ~13x slower)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config libeigen3-dev libyaml-cpp-dev libhdf5-dev
          libboost-program-options-dev libgtest-dev libopenmpi-dev openmpi-bin
          python3 python3-numpy python3-h5py python3-matplotlib python3-sklearn fortunes
          python3-pandas python3-yaml chromium  # pandas loader; report page's browser test
          libopenblas-openmp-dev)  # float GEMMs (POSLAB_BLAS): the OpenMP flavour, see CMakeLists.txt
if [[ "${1:-}" == "--python" ]]; then packages+=(python3-torch libopenblas0-pthread); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [[ "${1:-}" == "--deps-only" ]]; then exit 0; fi

jobs=$(nproc)
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
cmake --build build -j "$jobs"
