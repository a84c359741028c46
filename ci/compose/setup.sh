#!/bin/sh
# The compose stack's one-shot Elasticsearch setup (runs in curlimages/curl: busybox sh + curl).
# Waits for Elasticsearch, sets the kibana_system password, creates the collector's role and
# user with only what it needs, checks that the user can log in, and writes the collector's
# password to $SECRETS_DIR/collector-password for user 65532. Idempotent: every run converges.
#
# Environment: ES_URL, ELASTIC_PASSWORD, KIBANA_PASSWORD, COLLECTOR_USERNAME, COLLECTOR_PASSWORD,
# SECRETS_DIR, WAIT_SECONDS (default 300), COLLECTOR_UID (default 65532).
set -eu

: "${ES_URL:=http://elasticsearch:9200}"
: "${ELASTIC_PASSWORD:?ELASTIC_PASSWORD is required}"
: "${KIBANA_PASSWORD:?KIBANA_PASSWORD is required}"
: "${COLLECTOR_USERNAME:=iot-collector}"
: "${COLLECTOR_PASSWORD:?COLLECTOR_PASSWORD is required}"
: "${SECRETS_DIR:=/secrets}"
: "${WAIT_SECONDS:=300}"
: "${COLLECTOR_UID:=65532}"

log() { printf 'setup: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

check_password() {
  case $2 in
    *'
'*) die "$1 contains a line break" ;;
  esac
  # Elasticsearch refuses passwords shorter than 6 characters.
  [ "${#2}" -ge 6 ] || die "$1 must have at least 6 characters"
  # A stack started with .env.example's placeholders would have passwords anyone can read.
  case $2 in
    CHANGE-ME*) die "$1 is still the placeholder from .env.example: set a password of your own in .env" ;;
  esac
}
check_password ELASTIC_PASSWORD "$ELASTIC_PASSWORD"
check_password KIBANA_PASSWORD "$KIBANA_PASSWORD"
check_password COLLECTOR_PASSWORD "$COLLECTOR_PASSWORD"

umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Backslash and double quote escaped: valid inside a JSON string and a curl config string.
quote() { printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"; }

# Credentials go to curl in a config file, never on the command line (ps shows that).
printf 'user = %s\n' "$(quote "elastic:$ELASTIC_PASSWORD")" >"$work/elastic.auth"
printf 'user = %s\n' "$(quote "$COLLECTOR_USERNAME:$COLLECTOR_PASSWORD")" >"$work/collector.auth"

# es AUTH METHOD PATH [BODY]: prints the HTTP status; the response body is in $work/response.
es() {
  if [ $# -ge 4 ]; then
    printf '%s' "$4" >"$work/body"
    set -- "$1" "$2" "$3" --data-binary "@$work/body"
  else
    set -- "$1" "$2" "$3"
  fi
  auth=$1 method=$2 path=$3
  shift 3
  curl -sS -o "$work/response" -w '%{http_code}' --connect-timeout 5 --max-time 30 \
    -K "$work/$auth.auth" -X "$method" -H 'Content-Type: application/json' "$@" "$ES_URL$path" ||
    echo 000
}

expect_ok() {
  what=$1 status=$2
  case $status in
    2??) log "$what: HTTP $status" ;;
    *) die "$what failed: HTTP $status $(cat "$work/response" 2>/dev/null)" ;;
  esac
}

log "waiting up to ${WAIT_SECONDS}s for $ES_URL"
deadline=$(($(date +%s) + WAIT_SECONDS))
while :; do
  status=$(es elastic GET '/_cluster/health?wait_for_status=yellow&timeout=5s')
  case $status in
    200) break ;;
    401) die "Elasticsearch refuses ELASTIC_PASSWORD: the esdata volume was created with another one (docker compose down -v resets it)" ;;
  esac
  [ "$(date +%s)" -lt "$deadline" ] || die "Elasticsearch not ready after ${WAIT_SECONDS}s (last HTTP $status)"
  sleep 2
done

expect_ok "kibana_system password" \
  "$(es elastic POST /_security/user/kibana_system/_password "{\"password\":$(quote "$KIBANA_PASSWORD")}")"

# The collector installs its lifecycle policy and index templates at start (manage_ilm,
# manage_index_templates), checks cluster health (monitor) and writes into its data streams.
expect_ok "role iot_collector" "$(es elastic PUT /_security/role/iot_collector '{
  "cluster": ["manage_ilm", "manage_index_templates", "monitor"],
  "indices": [{"names": ["iot-events*"], "privileges": ["create_doc", "auto_configure", "view_index_metadata"]}]
}')"
expect_ok "user $COLLECTOR_USERNAME" "$(es elastic PUT "/_security/user/$COLLECTOR_USERNAME" \
  "{\"password\":$(quote "$COLLECTOR_PASSWORD"),\"roles\":[\"iot_collector\"],\"full_name\":\"iot-collector (docker compose)\"}")"
expect_ok "login as $COLLECTOR_USERNAME" "$(es collector GET /_security/_authenticate)"

# Written aside and renamed: the collector never reads a half-written file.
mkdir -p "$SECRETS_DIR"
printf '%s' "$COLLECTOR_PASSWORD" >"$SECRETS_DIR/.collector-password.new"
chown "$COLLECTOR_UID:$COLLECTOR_UID" "$SECRETS_DIR/.collector-password.new"
chmod 0400 "$SECRETS_DIR/.collector-password.new"
mv -f "$SECRETS_DIR/.collector-password.new" "$SECRETS_DIR/collector-password"
log "wrote $SECRETS_DIR/collector-password for uid $COLLECTOR_UID"
