#!/bin/sh
# The compose stack's one-shot Elasticsearch setup (runs in curlimages/curl: busybox sh + curl).
# Checks the passwords from .env, then runs the Helm chart's setup script (ELASTICSEARCH_SETUP:
# waits for Elasticsearch, sets the kibana_system password, creates the collector's role and
# user, logs in as it), and writes the collector's password to $SECRETS_DIR/collector-password
# for user 65532. Idempotent: every run converges.
#
# Environment: ES_URL, ELASTIC_PASSWORD, KIBANA_PASSWORD, COLLECTOR_USERNAME, COLLECTOR_PASSWORD,
# SECRETS_DIR, WAIT_SECONDS (default 300), COLLECTOR_UID (default 65532), ELASTICSEARCH_SETUP
# (default /chart-files/elasticsearch-setup.sh, helm/iot-telemetry/files mounted read-only).
set -eu

: "${ES_URL:=http://elasticsearch:9200}"
: "${ELASTIC_PASSWORD:?ELASTIC_PASSWORD is required}"
: "${KIBANA_PASSWORD:?KIBANA_PASSWORD is required}"
: "${COLLECTOR_USERNAME:=iot-collector}"
: "${COLLECTOR_PASSWORD:?COLLECTOR_PASSWORD is required}"
: "${SECRETS_DIR:=/secrets}"
: "${WAIT_SECONDS:=300}"
: "${COLLECTOR_UID:=65532}"
: "${ELASTICSEARCH_SETUP:=/chart-files/elasticsearch-setup.sh}"

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

# The chart's script reads passwords from files, as Kubernetes mounts Secrets.
printf '%s' "$ELASTIC_PASSWORD" >"$work/elastic-password"
printf '%s' "$KIBANA_PASSWORD" >"$work/kibana-system-password"
printf '%s' "$COLLECTOR_PASSWORD" >"$work/collector-password"
ES_URL=$ES_URL WAIT_SECONDS=$WAIT_SECONDS \
  ELASTIC_PASSWORD_FILE=$work/elastic-password \
  KIBANA_SYSTEM_PASSWORD_FILE=$work/kibana-system-password \
  COLLECTOR_PASSWORD_FILE=$work/collector-password \
  COLLECTOR_USERNAME=$COLLECTOR_USERNAME COLLECTOR_ROLE=iot_collector DATA_STREAM=iot-events \
  sh "$ELASTICSEARCH_SETUP" >&2 || {
  die "Elasticsearch setup failed (see above); if it refuses ELASTIC_PASSWORD, the esdata volume was created with another one (docker compose down -v resets it)"
}

# Written aside and renamed: the collector never reads a half-written file.
mkdir -p "$SECRETS_DIR"
printf '%s' "$COLLECTOR_PASSWORD" >"$SECRETS_DIR/.collector-password.new"
chown "$COLLECTOR_UID:$COLLECTOR_UID" "$SECRETS_DIR/.collector-password.new"
chmod 0400 "$SECRETS_DIR/.collector-password.new"
mv -f "$SECRETS_DIR/.collector-password.new" "$SECRETS_DIR/collector-password"
log "wrote $SECRETS_DIR/collector-password for uid $COLLECTOR_UID"
