#!/usr/bin/env bash
# The full test suite, as CI runs it: installs dependencies, builds with AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs unit and integration tests (real binaries, real CoAP peers).
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/install-deps.sh
cmake --preset asan
cmake --build --preset asan
ctest --preset asan
