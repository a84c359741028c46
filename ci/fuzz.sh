#!/usr/bin/env bash
# The fuzz job: builds the libFuzzer targets of tests/fuzz with the `fuzz` preset (clang,
# ASan + UBSan) and runs each for FUZZ_SECONDS on a scratch copy of its seed corpus and its past
# crashes. A crash, leak or timeout fails the job; the input is kept in FUZZ_ARTIFACTS.
#
#   FUZZ_SECONDS=120 FUZZ_ARTIFACTS=build/fuzz/artifacts bash ci/fuzz.sh [target...]
#
# Targets: event_validator coap_request dtls_server (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-120}
artifacts=${FUZZ_ARTIFACTS:-build/fuzz/artifacts}
targets=("$@")
((${#targets[@]})) || targets=(event_validator coap_request dtls_server)

bash ci/install-deps.sh
cmake --preset fuzz
cmake --build --preset fuzz

mkdir -p "$artifacts"
artifacts=$(cd "$artifacts" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# Debian installs llvm-symbolizer under the LLVM prefix only: without it stacks are bare addresses.
symbolizer=$(command -v llvm-symbolizer || true)
for candidate in /usr/lib/llvm-*/bin/llvm-symbolizer; do
  if [[ -z $symbolizer && -x $candidate ]]; then symbolizer=$candidate; fi
done
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1${symbolizer:+:external_symbolizer_path=$symbolizer}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1${symbolizer:+:external_symbolizer_path=$symbolizer}

failed=()
for target in "${targets[@]}"; do
  binary=build/fuzz/tests/fuzz/${target}_fuzz
  corpus=$scratch/$target
  # The fuzzer adds what it finds to its first corpus folder: a copy, so the tree stays clean.
  mkdir -p "$corpus"
  cp tests/fuzz/corpus/"$target"/* "$corpus"/
  regressions=()
  [[ -d tests/fuzz/regressions/$target ]] && regressions=(tests/fuzz/regressions/"$target")
  echo "fuzz: $target for ${seconds}s"
  if ! "$binary" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$target-" "$corpus" "${regressions[@]}" 2>&1 |
    tee "$artifacts/$target.log"; then
    failed+=("$target")
  fi
  echo "fuzz: $target corpus now $(find "$corpus" -type f | wc -l) inputs"
done

if ((${#failed[@]})); then
  {
    echo
    echo "fuzz: FAILED: ${failed[*]} (crash, leak or timeout; the log says which)"
    echo "fuzz: inputs kept in $artifacts:"
    ls -l "$artifacts"
    echo "fuzz: reproduce with build/fuzz/tests/fuzz/<target>_fuzz <input file>"
    echo "fuzz: shrink it with build/fuzz/tests/fuzz/<target>_fuzz -minimize_crash=1 -runs=100000 <input file>"
    echo "fuzz: then fix the bug and add the input to tests/fuzz/regressions/<target>/ (ctest replays it)"
  } >&2
  exit 1
fi
echo "fuzz: no crash in ${seconds}s per target"
