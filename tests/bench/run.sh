#!/usr/bin/env bash
# Build the release binaries the benchmark uses (-j2: the development machines have 2 cores),
# then run the harness with this script's arguments: bash tests/bench/run.sh --quick
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$root/build/release"
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$build" -j2 --target iot-collector iotc coap-ack-server elastic-bulk-sink
if [[ ! -d "$root/tests/bench/node_modules/coap" ]]; then
  npm ci --prefix "$root/tests/bench" --no-audit --no-fund
fi
exec node "$root/tests/bench/harness.mjs" "$@"
