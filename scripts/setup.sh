#!/bin/sh
# Install every Debian package mutorch needs and build it (Release) in
# ./build. Run as root (or with sudo) on Debian bookworm.
#   scripts/setup.sh            install + build
#   MUTORCH_SANITIZE=1 scripts/setup.sh   build with ASan+UBSan in build-asan
# clang and libfuzzer-14-dev serve scripts/fuzz.sh (tests/fuzz).
set -eu
cd "$(dirname "$0")/.."

PACKAGES="build-essential cmake pkg-config git
  libtorch-dev libopenblas0-pthread
  libgit2-dev zlib1g-dev libyaml-dev libjansson-dev libcriterion-dev r-mathlib
  dataset-fashion-mnist python3-torch python3-numpy python3-torchvision
  clang libfuzzer-14-dev
  openmpi-bin libopenmpi-dev"

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "setup: installing$missing"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing
fi

# node and npm only serve scripts/validate-stryker.sh (the Stryker report
# check); many machines have them already, from Debian or elsewhere. Best
# effort: a machine without them still builds and passes the tests.
if ! command -v npm >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends nodejs npm ||
    echo "setup: could not install node and npm; scripts/validate-stryker.sh will not run"
fi

# Chromium checks the HTML report in a real browser
# (tests/test_cli_report_browser.c loads it headless, with no network, and
# takes a screenshot); CTest lists the test as skipped where it is missing.
# Best effort, like node and npm; the package lists may be stale when every
# package above was installed already, hence the update on failure.
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  { DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core ||
    { $SUDO apt-get update &&
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core; }; } ||
    echo "setup: could not install chromium; the report's browser test will be skipped"
fi

# OpenBLAS makes libtorch several times faster than the reference BLAS.
if [ -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 ] &&
   command -v update-alternatives >/dev/null; then
  cur=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 || true)
  case "$cur" in
    *openblas*) ;;
    *) [ "$(id -u)" -eq 0 ] && update-alternatives --set libblas.so.3-x86_64-linux-gnu \
         /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 || true ;;
  esac
fi

if [ "${MUTORCH_SANITIZE:-0}" = 1 ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMUTORCH_SANITIZE=ON -DMUTORCH_MPI=ON
  cmake --build build-asan -j"$(nproc)"
else
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMUTORCH_MPI=ON
  cmake --build build -j"$(nproc)"
fi

# The Stryker tab of the HTML report shows stryker.json in the npm package
# mutation-testing-elements; mutorch inlines its bundle from here (next to
# the binary). A directory of its own: `npm install --no-save` prunes other
# packages of its prefix. Best effort: without it the tab says how to get it.
BUILD_DIR=build
[ "${MUTORCH_SANITIZE:-0}" = 1 ] && BUILD_DIR=build-asan
if command -v npm >/dev/null 2>&1 &&
   [ ! -f "$BUILD_DIR/mutation-testing-elements/node_modules/mutation-testing-elements/dist/mutation-test-elements.js" ]; then
  npm install --no-save --no-audit --no-fund --prefix "$BUILD_DIR/mutation-testing-elements" \
    mutation-testing-elements@3 >/dev/null 2>&1 ||
    echo "setup: could not install mutation-testing-elements; the report's Stryker tab will say how"
fi
