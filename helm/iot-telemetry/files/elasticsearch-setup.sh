#!/bin/sh
# Prepares the in-chart Elasticsearch for the suite. Runs in curlimages/curl (busybox sh + curl)
# on every install and upgrade, so every step is idempotent:
#   1. waits until Elasticsearch answers with at least yellow health;
#   2. sets the password of the built-in kibana_system user (Kibana's own login);
#   3. creates the collectors' least-privilege role and their user.
# Passwords come from mounted Secret files and travel only in files and on stdin: never on a
# command line, where `ps` in the Pod would show them.
set -eu

: "${ES_URL:?ES_URL is required}"
: "${ELASTIC_PASSWORD_FILE:?}"
: "${KIBANA_SYSTEM_PASSWORD_FILE:?}"
: "${COLLECTOR_PASSWORD_FILE:?}"
: "${COLLECTOR_USERNAME:?}"
: "${COLLECTOR_ROLE:?}"
: "${DATA_STREAM:?}"
WAIT_SECONDS=${WAIT_SECONDS:-600}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077

# JSON and curl-config strings: escape backslashes and double quotes.
escape() {
  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' "$1"
}

printf 'user = "elastic:%s"\n' "$(escape "$ELASTIC_PASSWORD_FILE")" >"$work/curlrc"

# request METHOD PATH [BODY-FILE]: prints the HTTP status (000: no answer), keeps the body in
# $work/response.
request() {
  if [ $# -ge 3 ]; then
    code=$(curl -sS -K "$work/curlrc" -o "$work/response" -w '%{http_code}' -X "$1" \
      -H 'Content-Type: application/json' --data-binary "@$3" "$ES_URL$2") || code=000
  else
    code=$(curl -sS -K "$work/curlrc" -o "$work/response" -w '%{http_code}' -X "$1" "$ES_URL$2") || code=000
  fi
  echo "$code"
}

must() {
  status=$(request "$@")
  case $status in
    2??) echo "$1 $2: $status" ;;
    *)
      echo "$1 $2 failed with HTTP $status:" >&2
      cat "$work/response" >&2 2>/dev/null || true
      echo >&2
      exit 1
      ;;
  esac
}

deadline=$(($(date +%s) + WAIT_SECONDS))
echo "waiting up to ${WAIT_SECONDS}s for $ES_URL"
while :; do
  status=$(request GET '/_cluster/health?wait_for_status=yellow&timeout=5s')
  [ "$status" = 200 ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "Elasticsearch at $ES_URL not healthy after ${WAIT_SECONDS}s (last HTTP $status)" >&2
    cat "$work/response" >&2 2>/dev/null || true
    exit 1
  fi
  # The health call itself waits up to 5 s server-side once Elasticsearch listens; this pause
  # only paces retries while the port is still closed.
  sleep 2
done

printf '{"password":"%s"}' "$(escape "$KIBANA_SYSTEM_PASSWORD_FILE")" >"$work/kibana.json"
must POST /_security/user/kibana_system/_password "$work/kibana.json"

# Exactly what iot-collector needs: the lifecycle policy and index templates at start-up
# (manage_ilm, manage_index_templates), cluster health (monitor), and writing its data streams.
cat >"$work/role.json" <<JSON
{
  "cluster": ["manage_ilm", "manage_index_templates", "monitor"],
  "indices": [
    {
      "names": ["${DATA_STREAM}*"],
      "privileges": ["create_doc", "auto_configure", "view_index_metadata"]
    }
  ]
}
JSON
must PUT "/_security/role/$COLLECTOR_ROLE" "$work/role.json"

printf '{"password":"%s","roles":["%s"],"full_name":"iot-collector (Helm chart)"}' \
  "$(escape "$COLLECTOR_PASSWORD_FILE")" "$COLLECTOR_ROLE" >"$work/user.json"
must PUT "/_security/user/$COLLECTOR_USERNAME" "$work/user.json"

echo "Elasticsearch setup complete"
