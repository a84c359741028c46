#!/bin/sh
# Prepares Elasticsearch for the suite: the Helm chart's setup Job runs it on every install and
# upgrade, and docker-compose's setup service through ci/compose/setup.sh, in curlimages/curl
# (busybox sh + curl). Every step is idempotent:
#   1. waits until Elasticsearch answers with at least yellow health (a refused elastic password
#      fails at once: waiting would not change it);
#   2. sets the password of the built-in kibana_system user (Kibana's own login);
#   3. creates the collectors' least-privilege role and their user, and logs in as that user.
# Passwords come from files (mounted Secrets) and travel only in files: never on a command line,
# where `ps` would show them.
#
# Environment: ES_URL, ELASTIC_PASSWORD_FILE, KIBANA_SYSTEM_PASSWORD_FILE, COLLECTOR_PASSWORD_FILE,
# COLLECTOR_USERNAME, COLLECTOR_ROLE, DATA_STREAM, WAIT_SECONDS (default 600).
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

# JSON and curl-config strings: escape backslashes and double quotes (of a file's content).
escape() {
  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' "$1"
}

printf '%s' "$COLLECTOR_USERNAME" >"$work/collector-username"
printf 'user = "elastic:%s"\n' "$(escape "$ELASTIC_PASSWORD_FILE")" >"$work/elastic.curlrc"
printf 'user = "%s:%s"\n' "$(escape "$work/collector-username")" "$(escape "$COLLECTOR_PASSWORD_FILE")" \
  >"$work/collector.curlrc"

# request AS METHOD PATH [BODY-FILE]: prints the HTTP status (000: no answer), keeps the body in
# $work/response. AS is elastic or collector.
request() {
  config=$work/$1.curlrc
  shift
  if [ $# -ge 3 ]; then
    set -- "$1" "$2" -H 'Content-Type: application/json' --data-binary "@$3"
  fi
  method=$1 path=$2
  shift 2
  curl -sS -K "$config" -o "$work/response" -w '%{http_code}' --connect-timeout 5 --max-time 30 \
    -X "$method" "$@" "$ES_URL$path" || echo 000
}

must() {
  status=$(request "$@")
  case $status in
    2??) echo "$2 $3: $status" ;;
    *)
      echo "$2 $3 failed with HTTP $status:" >&2
      cat "$work/response" >&2 2>/dev/null || true
      echo >&2
      exit 1
      ;;
  esac
}

deadline=$(($(date +%s) + WAIT_SECONDS))
echo "waiting up to ${WAIT_SECONDS}s for $ES_URL"
while :; do
  status=$(request elastic GET '/_cluster/health?wait_for_status=yellow&timeout=5s')
  case $status in
    200) break ;;
    401)
      echo "Elasticsearch refuses ELASTIC_PASSWORD: its data was initialised with another one" >&2
      exit 1
      ;;
  esac
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "Elasticsearch at $ES_URL not ready after ${WAIT_SECONDS}s (last HTTP $status)" >&2
    cat "$work/response" >&2 2>/dev/null || true
    exit 1
  fi
  # The health call itself waits up to 5 s server-side once Elasticsearch listens; this pause
  # only paces retries while the port is still closed.
  sleep 2
done

printf '{"password":"%s"}' "$(escape "$KIBANA_SYSTEM_PASSWORD_FILE")" >"$work/kibana.json"
must elastic POST /_security/user/kibana_system/_password "$work/kibana.json"

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
must elastic PUT "/_security/role/$COLLECTOR_ROLE" "$work/role.json"

printf '{"password":"%s","roles":["%s"],"full_name":"iot-collector"}' \
  "$(escape "$COLLECTOR_PASSWORD_FILE")" "$COLLECTOR_ROLE" >"$work/user.json"
must elastic PUT "/_security/user/$COLLECTOR_USERNAME" "$work/user.json"
# The collectors would otherwise find out only at start-up, as a bootstrap that never completes.
must collector GET /_security/_authenticate

echo "Elasticsearch setup complete"
