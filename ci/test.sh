#!/usr/bin/env bash
# The full test suite, as CI runs it: installs dependencies, builds the release preset, builds
# with AddressSanitizer and UndefinedBehaviorSanitizer, and runs unit and integration tests (real
# binaries, real CoAP peers) on that build.
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/install-deps.sh
# The optimised build of what operators run: -O3 finds warnings the sanitizer build does not.
# Only the programs: the tests run on the sanitizer build, and compiling them twice would cost
# CI minutes for nothing.
cmake --preset release
cmake --build --preset release --target iot-collector iotc coap-ack-server
cmake --preset asan
cmake --build --preset asan
ctest --preset asan
