#!/usr/bin/env bash
# The main job: build the collector and iotc, start the collector on its embedded default (the
# file sink), send events with libcoap's real CoAP client and with iotc (one event, a small
# simulated fleet, a short load test), then show what was stored and the collector's metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bash ci/install-deps.sh
cmake --preset release
cmake --build --preset release --target iot-collector iotc
iotc=$root/build/release/client/iotc

demo=$root/build/demo
rm -rf "$demo" && mkdir -p "$demo"
log=$demo/collector.log
# Default sink (file:./data/events.ndjson, relative to the working directory); loopback with
# free ports, so the demo never collides with a collector already running here.
(cd "$demo" && exec "$root/build/release/services/collector/iot-collector" \
  --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --log-format json) 2>"$log" &
collector=$!
trap 'kill "$collector" 2>/dev/null || true' EXIT

for _ in $(seq 100); do
  grep -q '"msg":"ready"' "$log" && break
  kill -0 "$collector" 2>/dev/null || { cat "$log"; echo "collector exited"; exit 1; }
  sleep 0.1  # polling a log file for the ready line, bounded to 10 s
done
grep -q '"msg":"ready"' "$log" || { cat "$log"; echo "collector not ready in 10 s"; exit 1; }
coap=$(sed -n 's/.*"msg":"ready","coap":"\([^"]*\)".*/\1/p' "$log")
admin=$(sed -n 's/.*"admin":"\([^"]*\)".*/\1/p' "$log")
echo "== collector ready: CoAP on $coap, admin on http://$admin"

post() {  # post BODY: POST /events with Content-Format application/json, print the answer
  echo "-- POST /events $1"
  # -v 6 dumps each PDU; the last dumped one is the collector's answer ("t:ACK c:2.01 ...").
  coap-client-notls -v 6 -m post -t 50 -e "$1" "coap://$coap/events" 2>&1 |
    grep -E ' t:(ACK|NON|CON) c:[245]\.' | tail -n 1 | sed 's/^/   answer: /' || true
}
now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
post '{"sender":"dev-42","origin":"probe1","payload":{"type":"temperature","value":21.5,"unit":"C"},"timestamp":"'"$now"'"}'
post '[{"sender":"dev-43","origin":"door","payload":{"type":"door","value":"open"}},{"sender":"dev-44","origin":"meter","payload":{"type":"energy","value":1234.5,"unit":"kWh"}}]'
post '{"sender":"dev-42","payload":{"type":"temperature","value":21.5}}'   # missing origin: 4.00
echo "-- GET /health"
coap-client-notls -m get "coap://$coap/health"
echo

host=${coap%:*}
port=${coap##*:}
echo "== iotc"
"$iotc" health --host "$host" --port "$port"
"$iotc" send temperature 19.5 --unit C --sender dev-45 --origin probe2 --host "$host" --port "$port"
echo "-- iotc simulate: 5 energy meters, a reading every 0.5 s for 2 s"
"$iotc" simulate --devices 5 --period 0.5 --duration 2 --profile energy-meter --sender meter \
  --host "$host" --port "$port"
echo "-- iotc load: 2,000 requests/s for 2 s from 50 devices"
"$iotc" load --rate 2000 --duration 2s --devices 50 --host "$host" --port "$port"

echo "== stored (Elasticsearch bulk pairs in $demo/data/events.ndjson): the first 12 lines of $(wc -l <"$demo/data/events.ndjson")"
head -n 12 "$demo/data/events.ndjson"
echo "== metrics"
curl -fsS "http://$admin/metrics" | grep -E '^iot_(coap_requests_total|events_accepted_total|events_rejected_total\{reason="schema"\}|build_info)'

kill -TERM "$collector"
wait "$collector"
echo "== collector stopped cleanly (exit 0)"
