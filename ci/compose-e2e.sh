#!/usr/bin/env bash
# End-to-end check of the docker-compose stack, for a CI runner with Docker (compose v2) and
# network access: builds the image, starts Elasticsearch, Kibana, the dashboards import and the
# collector with generated passwords, runs iotc load through the compose network, and checks with
# iotc verify that exactly the acknowledged events are stored, once each. Always tears the stack
# and its volumes down; prints the services' logs when anything fails.
#
#   bash ci/compose-e2e.sh            # LOAD_RATE, LOAD_DURATION, WAIT_TIMEOUT override defaults
#   IOT_IMAGE=registry/repo IOT_IMAGE_TAG=<sha>@sha256:<digest> E2E_NO_BUILD=true bash ci/compose-e2e.sh
#                                     # CI: test the pushed image, exactly the digest that deploys
set -euo pipefail
cd "$(dirname "$0")/.."

: "${LOAD_RATE:=500}"
: "${LOAD_DURATION:=20s}"
: "${WAIT_TIMEOUT:=600}"
project="iot-e2e-${GITHUB_RUN_ID:-$$}"

work=$(mktemp -d)
env_file=$work/.env
report=$work/load-report.json

random() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

# .env.example with every CHANGE-ME replaced by a fresh random value.
while IFS= read -r line; do
  if [[ $line =~ ^([A-Z0-9_]+)=CHANGE-ME ]]; then
    printf '%s=%s\n' "${BASH_REMATCH[1]}" "$(random)"
  else
    printf '%s\n' "$line"
  fi
done <.env.example >"$env_file"
sed -i -e "s/^LOAD_RATE=.*/LOAD_RATE=$LOAD_RATE/" -e "s/^LOAD_DURATION=.*/LOAD_DURATION=$LOAD_DURATION/" "$env_file"
if grep -q 'CHANGE-ME' "$env_file"; then
  echo "compose-e2e: a placeholder survived in the generated .env" >&2
  exit 1
fi
IOTC_ELASTICSEARCH_PASSWORD=$(sed -n 's/^ELASTIC_PASSWORD=//p' "$env_file")
export IOTC_ELASTICSEARCH_PASSWORD

compose() { docker compose -p "$project" --env-file "$env_file" -f docker-compose.yml "$@"; }

status=1
finish() {
  if ((status != 0)); then
    echo "compose-e2e: FAILED; service states and logs follow" >&2
    compose --profile load ps -a >&2 || true
    compose --profile load logs --no-color --timestamps >&2 || true
  fi
  compose --profile load down -v --remove-orphans >&2 || true
  rm -rf "$work"
}
trap finish EXIT

if [[ ${E2E_NO_BUILD:-false} == true ]]; then
  echo "compose-e2e: starting the stack with ${IOT_IMAGE:?E2E_NO_BUILD needs IOT_IMAGE}:${IOT_IMAGE_TAG:?E2E_NO_BUILD needs IOT_IMAGE_TAG} (project $project)"
  compose pull collector
  compose up -d --no-build --wait --wait-timeout "$WAIT_TIMEOUT"
else
  echo "compose-e2e: building and starting the stack (project $project)"
  compose up -d --build --wait --wait-timeout "$WAIT_TIMEOUT"
fi
compose ps

echo "compose-e2e: iotc load, $LOAD_RATE requests/s for $LOAD_DURATION"
# -T: no TTY, so stdout is the JSON report alone; --max-error-rate 0: every request must be
# acknowledged with 2.01 by a healthy stack.
compose --profile load run --rm -T load \
  load --host collector --rate "$LOAD_RATE" --duration "$LOAD_DURATION" --devices 100 \
  --report json --max-error-rate 0 >"$report"

read -r run_id acknowledged < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["schema"] == "iotc-load-report/1", r.get("schema")
print(r["run_id"], r["responses"].get("2.01", 0) * r["batch"])
' "$report")
if [[ -z $run_id || ! $acknowledged =~ ^[0-9]+$ || $acknowledged -eq 0 ]]; then
  echo "compose-e2e: no acknowledged events in the load report" >&2
  cat "$report" >&2
  exit 1
fi
echo "compose-e2e: run $run_id: $acknowledged events acknowledged"

# iotc verify from the image on the compose network as elastic (read on iot-events); the
# password comes from this shell's environment (-e NAME without a value), never from a command line.
# Acknowledged (--ack stored) events are in Elasticsearch, but a search sees them only after
# the next refresh (1 s): a few bounded attempts.
verified=0
for attempt in 1 2 3 4 5 6; do
  if compose --profile load run --rm -T --no-deps --entrypoint /usr/local/bin/iotc \
    -e IOTC_ELASTICSEARCH_PASSWORD load \
    verify --elasticsearch-url http://elasticsearch:9200 --elasticsearch-username elastic \
    --run-id "$run_id" --expect "$acknowledged"; then
    verified=1
    break
  fi
  echo "compose-e2e: verify attempt $attempt did not match; retrying" >&2
  sleep 5
done
if ((verified == 0)); then
  echo "compose-e2e: iotc verify: the stored events differ from the $acknowledged acknowledged" >&2
  exit 1
fi

echo "compose-e2e: OK: $acknowledged events stored exactly once"
status=0
