#!/usr/bin/env bash
# The full test suite, as CI runs it: installs dependencies, builds the release preset, builds
# with AddressSanitizer and UndefinedBehaviorSanitizer, and runs unit and integration tests (real
# binaries, real CoAP peers) on that build.
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/install-deps.sh
# The optimised build too: -O3 finds warnings the sanitizer build does not, and it is what
# operators run.
cmake --preset release
cmake --build --preset release
cmake --preset asan
cmake --build --preset asan
ctest --preset asan
