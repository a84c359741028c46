#!/bin/sh
# Imports the Kibana saved objects (every *.ndjson in DASHBOARDS_DIR) once Kibana is up.
# Runs in curlimages/curl (busybox sh + curl, no jq, no bash) from the chart's post-install Job
# and the docker-compose setup service; read-only root filesystem friendly (writes no file).
#
#   KIBANA_URL            required, e.g. http://kibana:5601 (with a basePath: include it)
#   KIBANA_USERNAME       optional, with KIBANA_PASSWORD or KIBANA_PASSWORD_FILE
#   KIBANA_PASSWORD_FILE  a file holding the password (a mounted Secret); wins over KIBANA_PASSWORD
#   KIBANA_CA_FILE        optional CA bundle for an https KIBANA_URL
#   KIBANA_SPACE          optional Kibana space id (default: the default space)
#   DASHBOARDS_DIR        default: this script's folder
#   WAIT_SECONDS          how long to wait for GET /api/status to answer 200 (default 300)
#   WAIT_INTERVAL         seconds between status polls (default 5)
#
# Exit status: 0 when Kibana reported success for every file; 1 otherwise (with its answer);
# 2 on a configuration error.
set -eu

die() {
  printf 'import.sh: %s\n' "$1" >&2
  exit "${2:-1}"
}

[ -n "${KIBANA_URL:-}" ] || die "KIBANA_URL is not set: point it at Kibana, e.g. KIBANA_URL=http://kibana:5601" 2
kibana=${KIBANA_URL%/}
dir=${DASHBOARDS_DIR:-$(dirname "$0")}
wait_seconds=${WAIT_SECONDS:-300}
wait_interval=${WAIT_INTERVAL:-5}
case $wait_seconds in '' | *[!0-9]*) die "WAIT_SECONDS must be a whole number of seconds, not '$wait_seconds'" 2 ;; esac
case $wait_interval in '' | *[!0-9]* | 0) die "WAIT_INTERVAL must be a positive whole number of seconds, not '$wait_interval'" 2 ;; esac

api=$kibana
if [ -n "${KIBANA_SPACE:-}" ]; then
  # Space ids are lower-case letters, digits, '_' and '-'; anything else would change the path.
  case $KIBANA_SPACE in *[!a-z0-9_-]*) die "KIBANA_SPACE '$KIBANA_SPACE' is not a Kibana space id" 2 ;; esac
  api=$kibana/s/$KIBANA_SPACE
fi

username=${KIBANA_USERNAME:-}
password=${KIBANA_PASSWORD:-}
if [ -n "${KIBANA_PASSWORD_FILE:-}" ]; then
  [ -r "$KIBANA_PASSWORD_FILE" ] || die "KIBANA_PASSWORD_FILE '$KIBANA_PASSWORD_FILE' cannot be read" 2
  # $(...) drops the trailing newline that `echo secret > file` leaves.
  password=$(cat "$KIBANA_PASSWORD_FILE")
fi
if [ -n "$username" ] && [ -z "$password" ]; then
  die "KIBANA_USERNAME is set but neither KIBANA_PASSWORD nor KIBANA_PASSWORD_FILE is" 2
fi
if [ -z "$username" ] && [ -n "$password" ]; then
  die "a Kibana password is set but KIBANA_USERNAME is not" 2
fi
if [ -n "${KIBANA_CA_FILE:-}" ] && [ ! -r "$KIBANA_CA_FILE" ]; then
  die "KIBANA_CA_FILE '$KIBANA_CA_FILE' cannot be read" 2
fi

set -- "$dir"/*.ndjson
[ -e "$1" ] || die "no *.ndjson files in $dir" 2

# A value for curl's config syntax: double-quoted, with \ and " escaped.
quote() {
  printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"
}

# Credentials and CA reach curl as a config on its stdin (-K -): on the command line they would
# be readable by every process on the node (ps, /proc/*/cmdline).
curl_config() {
  if [ -n "$username" ]; then
    printf 'user = %s\n' "$(quote "$username:$password")"
  fi
  if [ -n "${KIBANA_CA_FILE:-}" ]; then
    printf 'cacert = %s\n' "$(quote "$KIBANA_CA_FILE")"
  fi
}

kcurl() {
  curl_config | curl -K - --silent --show-error "$@"
}

nl='
'

# ---- wait for Kibana ----------------------------------------------------------------------------
start=$(date +%s)
deadline=$((start + wait_seconds))
printf 'import.sh: waiting up to %ss for %s/api/status\n' "$wait_seconds" "$kibana"
while :; do
  status=$(kcurl --output /dev/null --write-out '%{http_code}' --max-time 10 "$api/api/status" 2>/dev/null) || true
  [ -n "$status" ] || status=000
  case $status in
    200) break ;;
    # Waiting would not help: the credentials (or the space) are wrong.
    401 | 403) die "Kibana refused the credentials (HTTP $status from $api/api/status)" ;;
  esac
  now=$(date +%s)
  if [ "$now" -ge "$deadline" ]; then
    die "Kibana at $kibana did not answer 200 on /api/status within ${wait_seconds}s (last answer: HTTP $status)"
  fi
  left=$((deadline - now))
  if [ "$left" -lt "$wait_interval" ]; then sleep "$left"; else sleep "$wait_interval"; fi
done
printf 'import.sh: Kibana is available after %ss\n' "$(($(date +%s) - start))"

# ---- import ---------------------------------------------------------------------------------------
failed=0
for file in "$@"; do
  name=${file##*/}
  # Kibana wants the multipart part named "file" with a .ndjson file name; overwrite=true makes
  # a re-run (helm upgrade) replace the objects instead of reporting conflicts.
  answer=$(kcurl --max-time 120 --request POST --header 'kbn-xsrf: true' \
    --form "file=@$file;type=application/ndjson" --write-out "$nl%{http_code}" \
    "$api/api/saved_objects/_import?overwrite=true") || {
    printf 'import.sh: %s: request to %s failed\n' "$name" "$api" >&2
    failed=1
    continue
  }
  code=${answer##*"$nl"}
  body=${answer%"$nl"*}
  if [ "$code" = 200 ] && printf '%s' "$body" | grep -q '"success":[[:space:]]*true'; then
    count=$(printf '%s' "$body" | sed -n 's/.*"successCount":[[:space:]]*\([0-9][0-9]*\).*/\1/p')
    printf 'import.sh: %s: imported, successCount %s\n' "$name" "${count:-?}"
  else
    printf 'import.sh: %s: Kibana did not report success (HTTP %s): %s\n' "$name" "$code" "$body" >&2
    failed=1
  fi
done
exit "$failed"
