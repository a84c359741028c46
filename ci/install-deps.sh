#!/usr/bin/env bash
# Installs every build and test dependency on a Debian 12 machine, as root. Idempotent: a second
# run installs nothing and finishes in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl procps
  # libcoap 4.3.1 tools: coap-client-notls is the reference CoAP peer of the tests, coap-server-notls
  # the baseline of the benchmark harness
  libcoap3-bin
  # Boost 1.81: the default 1.74 has no Boost.JSON
  libboost1.81-dev libboost-json1.81-dev
  libspdlog-dev libssl-dev libxxhash-dev zlib1g-dev libgtest-dev libgmock-dev
  # the openssl CLI makes throwaway CAs for the TLS tests
  openssl
  # headless Chromium renders iotc's HTML load report in its test
  chromium
  # Deployment checks (tests/deploy): a helm template renderer built offline with Go from Debian's
  # sprig and sigs.k8s.io/yaml; docker-compose 1.29 validates docker-compose.yml without an engine;
  # python3-jsonschema checks it against the compose specification; shellcheck lints the scripts
  golang-go golang-github-masterminds-sprig-dev golang-k8s-sigs-yaml-dev
  docker-compose python3-jsonschema python3-yaml shellcheck
  # the pipelines test runs ci/lint.sh format, the CI lint job's clang-format check
  clang-format
  # ci/fuzz.sh: clang 14 with libFuzzer and the sanitizer runtimes (libclang-rt-14-dev is only a
  # recommendation of clang, and recommendations are not installed), llvm-symbolizer for stacks
  clang libclang-rt-14-dev llvm
  # busybox sh: the dashboards import script runs in a curl image whose only shell is busybox
  busybox
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
# Node.js runs the integration tests with real CoAP peers (npm coap). Some images ship Node with
# npm bundled, where Debian's separate npm package would conflict: install only what is absent.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The lock files pin every npm package; `npm ci` reinstalls only when a lock changed.
shopt -s nullglob
for lock in tests/*/package-lock.json tests/deploy/*/package-lock.json; do
  folder=$(dirname "$lock")
  stamp=$folder/node_modules/.package-lock.json
  if [[ ! -f $stamp || $folder/package-lock.json -nt $stamp ]]; then
    npm ci --prefix "$folder" --no-audit --no-fund --loglevel=error
  fi
done
