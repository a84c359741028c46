#!/usr/bin/env bash
# Deploys the chart helm/iot-telemetry with the image CI built and pushed, by digest, as a
# namespace-scoped service account (the minimal Role is in ci/README.md). --atomic: a release
# that does not become ready within the timeout is rolled back, so the cluster keeps running the
# last good release. Shared by ci/gitlab-ci.yml and ci/github/workflows/ci.yml.
#
# Environment:
#   IMAGE_DIGEST        required, sha256:<64 hex> (from the image job)
#   IMAGE_REPOSITORY    required, the repository the digest was pushed to
#   HELM_NAMESPACE      required; must exist (the service account cannot create namespaces)
#   HELM_RELEASE        default iot-telemetry
#   HELM_TIMEOUT        default 10m
#   KUBECONFIG          path to the service account's kubeconfig (GitLab: a File variable), or
#   KUBECONFIG_CONTENT  its content (GitHub: an environment secret); written to a private file
#   HELM_VALUES_FILES   optional, space-separated values files applied in order
#   HELM_VALUES_CONTENT optional values YAML (e.g. a GitHub environment variable), applied last
#   HELM_RUN_TESTS      default true: run the chart's `helm test` hook (sends an event, expects 2.01)
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
  echo "helm-deploy: $*" >&2
  exit 1
}

: "${IMAGE_DIGEST:?set IMAGE_DIGEST (sha256:...) from the image job}"
: "${IMAGE_REPOSITORY:?set IMAGE_REPOSITORY}"
: "${HELM_NAMESPACE:?set HELM_NAMESPACE}"
: "${HELM_RELEASE:=iot-telemetry}"
: "${HELM_TIMEOUT:=10m}"
: "${HELM_RUN_TESTS:=true}"
chart=helm/iot-telemetry

# A tag or an empty value here would deploy whatever the registry serves now, not what CI tested.
[[ $IMAGE_DIGEST =~ ^sha256:[0-9a-f]{64}$ ]] || die "IMAGE_DIGEST '$IMAGE_DIGEST' is not sha256:<64 hex digits>"
[[ $HELM_RELEASE =~ ^[a-z0-9]([a-z0-9-]{0,51}[a-z0-9])?$ ]] || die "HELM_RELEASE '$HELM_RELEASE' is not a valid release name"
command -v helm >/dev/null || die "helm is not installed"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ -n ${KUBECONFIG_CONTENT:-} ]]; then
  # umask: the credentials file is readable by this user only.
  (umask 077 && printf '%s\n' "$KUBECONFIG_CONTENT" >"$work/kubeconfig")
  export KUBECONFIG=$work/kubeconfig
fi
[[ -n ${KUBECONFIG:-} && -f $KUBECONFIG ]] ||
  die "no kubeconfig: set KUBECONFIG to a file or KUBECONFIG_CONTENT to its content"

values=()
read -r -a files <<<"${HELM_VALUES_FILES:-}"
for file in "${files[@]}"; do
  [[ -f $file ]] || die "values file $file does not exist"
  values+=(--values "$file")
done
if [[ -n ${HELM_VALUES_CONTENT:-} ]]; then
  printf '%s\n' "$HELM_VALUES_CONTENT" >"$work/values.yaml"
  values+=(--values "$work/values.yaml")
fi

echo "helm-deploy: $HELM_RELEASE in namespace $HELM_NAMESPACE <- $IMAGE_REPOSITORY@$IMAGE_DIGEST"
# --set-string after the values files: the digest CI recorded always wins. No --create-namespace:
# the namespace and the service account's Role are made once by a cluster administrator.
helm upgrade --install "$HELM_RELEASE" "$chart" \
  --namespace "$HELM_NAMESPACE" \
  --atomic --wait --wait-for-jobs --timeout "$HELM_TIMEOUT" \
  --history-max 10 \
  "${values[@]}" \
  --set-string "image.repository=$IMAGE_REPOSITORY" \
  --set-string "image.digest=$IMAGE_DIGEST"

if [[ $HELM_RUN_TESTS == true ]]; then
  # --logs: the test pod's iotc output lands in the job log when the first event is refused.
  helm test "$HELM_RELEASE" --namespace "$HELM_NAMESPACE" --timeout 5m --logs
fi
helm status "$HELM_RELEASE" --namespace "$HELM_NAMESPACE"
