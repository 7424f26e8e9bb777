#!/bin/sh
# Run libFuzzer targets (tests/fuzz) on their seed corpora.
#   scripts/fuzz.sh TARGET SECONDS   one target: idx, npy, cifar, config,
#                                    killmatrix, zip, torchdict, resultlog,
#                                    note, source_results (or fuzz_idx, ...)
#   scripts/fuzz.sh all SECONDS      every target in tests/fuzz/CMakeLists.txt,
#                                    SECONDS each
#   scripts/fuzz.sh list             the targets
# Builds into build-fuzz (clang, -DMUTORCH_FUZZ=ON) when needed. New inputs
# go to build-fuzz/corpus/<target>, crashes to build-fuzz/artifacts/. Prints
# the executions of each target; exits non-zero on any crash, sanitizer
# report, timeout (FUZZ_TIMEOUT seconds for one input, default 10) or
# memory blow-up (FUZZ_RSS_MB, default 4096). FUZZ_JOBS (default 2) is the
# build's parallelism.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}

all_targets() {
	sed -n 's/^mt_fuzz_target(NAME fuzz_\([a-z0-9_]*\).*/\1/p' tests/fuzz/CMakeLists.txt
}

usage() {
	echo "usage: scripts/fuzz.sh TARGET|all SECONDS, or scripts/fuzz.sh list" >&2
	echo "targets: $(all_targets | tr '\n' ' ')" >&2
	exit 2
}

[ $# -ge 1 ] || usage
case "$1" in -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
if [ "$1" = list ]; then all_targets; exit 0; fi
[ $# -eq 2 ] || usage
case "$2" in ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, got '$2'" >&2; exit 2 ;; esac
SECONDS_EACH=$2
if [ "$1" = all ]; then
	TARGETS=$(all_targets)
else
	t=${1#fuzz_}
	all_targets | grep -qx "$t" || { echo "fuzz.sh: no target '$1'" >&2; usage; }
	TARGETS=$t
fi

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
	mkdir -p "$BUILD"
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
		-DMUTORCH_FUZZ=ON -DMUTORCH_TESTS=OFF >"$BUILD/configure.log" 2>&1 ||
		{ cat "$BUILD/configure.log" >&2; exit 1; }
fi
build_targets=""
for t in $TARGETS; do build_targets="$build_targets --target fuzz_$t"; done
# shellcheck disable=SC2086
cmake --build "$BUILD" -j"${FUZZ_JOBS:-2}" $build_targets >"$BUILD/build.log" 2>&1 ||
	{ tail -50 "$BUILD/build.log" >&2; exit 1; }

# Leaks inside libtorch (static state never freed) are not ours: LSan is
# off for the target that links it, on for the pure-C ones.
failed=0
total=0
mkdir -p "$BUILD/artifacts"
for t in $TARGETS; do
	corpus="$BUILD/corpus/$t"
	seeds="$ROOT/tests/fuzz/corpus/$t"
	mkdir -p "$corpus"
	# a target without seeds starts from the empty input
	[ -d "$seeds" ] || seeds=$corpus
	log="$BUILD/fuzz_$t.log"
	leaks=1
	[ "$t" = torchdict ] && leaks=0
	set +e
	ASAN_OPTIONS="detect_leaks=$leaks:abort_on_error=1:symbolize=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}" \
		"$BUILD/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout="${FUZZ_TIMEOUT:-10}" \
		-rss_limit_mb="${FUZZ_RSS_MB:-4096}" -print_final_stats=1 \
		-artifact_prefix="$BUILD/artifacts/$t-" "$corpus" "$seeds" >"$log" 2>&1 </dev/null
	rc=$?
	set -e
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	execs=${execs:-0}
	total=$((total + execs))
	if [ $rc -ne 0 ] || grep -q "ERROR: AddressSanitizer\|runtime error:\|ERROR: libFuzzer\|ERROR: LeakSanitizer" "$log"; then
		echo "fuzz_$t: FAILED (exit $rc) after $execs executions; log: $log" >&2
		grep -m5 "ERROR\|runtime error\|SUMMARY" "$log" >&2 || true
		ls "$BUILD/artifacts/$t-"* 2>/dev/null >&2 || true
		failed=1
	else
		echo "fuzz_$t: $execs executions in ${SECONDS_EACH} s, 0 crashes, corpus $(ls "$corpus" | wc -l) + $(ls "$seeds" | wc -l) seeds"
	fi
done
echo "fuzz: $total executions in all"
exit $failed
