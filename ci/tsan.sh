#!/usr/bin/env bash
# The tsan job: builds with ThreadSanitizer (the `tsan` preset: gcc, -O1 -g1) and runs the unit and
# integration tests on that build (`ctest --preset tsan`). TSAN_OPTIONS (halt_on_error=1) comes
# from the test preset: the first data race or lock-order inversion ends the process with exit
# status 66, which fails a unit test directly and an integration test through
# tests/integration/lib/collector.mjs (any sanitizer report on a child's stderr fails the file).
#
# The test preset leaves out three labels, each covered by ci/test.sh on the ASan build:
#   fuzz    replays the fuzz corpora in one thread: nothing for TSan to see;
#   deploy  checks the image's root filesystem, compose, the chart, dashboards and pipeline
#           files: packaging, not concurrency (the image check's few requests to the collector
#           in its chroot take paths the integration tests take far more often);
#   bench   the benchmark harness's smoke run and its own tests: timings under TSan's 5-15x
#           slowdown mean nothing, and the collector paths it drives are the integration tests'.
#
#   bash ci/tsan.sh [ctest arguments...]     e.g. bash ci/tsan.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/install-deps.sh
cmake --preset tsan
cmake --build --preset tsan
ctest --preset tsan "$@"
